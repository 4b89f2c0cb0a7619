test_client_DEPS := server/client.c common/tls.c server/http.c server/stream.c server/frame.c server/respond.c common/strbuf.c common/control.c common/futex.c common/shm.c common/bus.c
