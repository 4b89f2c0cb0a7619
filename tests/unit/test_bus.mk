test_bus_DEPS := common/bus.c common/futex.c common/shm.c
