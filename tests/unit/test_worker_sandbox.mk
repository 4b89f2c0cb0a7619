test_worker_sandbox_DEPS := server/worker_sandbox.c server/worker_policy.c common/sandbox.c common/log.c common/bus.c common/futex.c common/shm.c
