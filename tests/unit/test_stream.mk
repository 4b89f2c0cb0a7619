test_stream_DEPS := server/stream.c common/strbuf.c
