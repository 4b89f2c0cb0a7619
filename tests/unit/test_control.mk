test_control_DEPS := common/control.c common/futex.c common/shm.c
