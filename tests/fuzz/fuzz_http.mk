fuzz_http_DEPS := server/http.c server/router.c
