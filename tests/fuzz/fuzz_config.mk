fuzz_config_DEPS := common/config.c common/url.c
