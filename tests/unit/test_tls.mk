test_tls_DEPS := common/tls.c
