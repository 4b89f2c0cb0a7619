test_http_DEPS := server/http.c
