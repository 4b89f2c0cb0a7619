test_sandbox_DEPS := common/sandbox.c
