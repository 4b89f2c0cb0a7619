fcclient_DEPS := tests/tools/lib/mpparse.c
# The tool rule does not create build/tools/ itself.
$(BUILD)/tools/fcclient: | fcclient-dir
.PHONY: fcclient-dir
fcclient-dir: ; @mkdir -p $(BUILD)/tools
