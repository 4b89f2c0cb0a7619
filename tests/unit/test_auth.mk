test_auth_DEPS := server/auth.c
