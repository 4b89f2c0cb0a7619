test_config_DEPS := common/config.c common/tls.c common/host.c common/url.c
