test_http_source_DEPS := capture/source_http.c capture/multipart.c capture/encode.c common/log.c common/url.c
# The chunked tests cap the source's reads to split the stream where they
# want (__wrap_recv in the test).
$(BUILD)/tests/test_http_source: LIBS += -Wl,--wrap=recv
