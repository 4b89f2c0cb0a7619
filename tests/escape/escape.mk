escape_DEPS := common/role.c common/policy_worker.c common/policy_capture.c common/sandbox.c common/log.c common/bus.c common/futex.c common/shm.c common/fds.c
