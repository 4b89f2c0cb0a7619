test_log_DEPS := common/log.c
