test_confreg_DEPS := common/confreg.c common/config.c common/tls.c common/host.c common/url.c common/shm.c
