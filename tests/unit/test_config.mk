test_config_DEPS := common/config.c common/host.c common/url.c
