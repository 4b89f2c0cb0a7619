test_fds_DEPS := common/fds.c
