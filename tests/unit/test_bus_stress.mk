test_bus_stress_DEPS := common/bus.c common/futex.c common/shm.c
