test_router_DEPS := server/router.c
