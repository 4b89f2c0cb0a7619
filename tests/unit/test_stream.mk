test_stream_DEPS := server/stream.c server/frame.c common/bus.c common/futex.c common/shm.c common/strbuf.c
