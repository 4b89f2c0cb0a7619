fuzz_config_DEPS := common/config.c
