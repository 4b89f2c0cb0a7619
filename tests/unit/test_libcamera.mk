test_libcamera_DEPS := capture/source_libcamera.c capture/encode.c common/log.c
# With libcamera (see the Makefile's WITH_LIBCAMERA), the source calls the
# C++ shim: link it and the C++ runtime too.
ifeq ($(HAVE_LIBCAMERA),1)
$(BUILD)/tests/test_libcamera: $(BUILD)/capture/libcamera_shim.o
$(BUILD)/tests/test_libcamera: LIBS += $(CAPTURE_LIBS) -lstdc++
endif
