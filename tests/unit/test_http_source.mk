test_http_source_DEPS := capture/source_http.c capture/multipart.c capture/encode.c common/log.c common/url.c
