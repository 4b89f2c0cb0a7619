fuzz_multipart_DEPS := capture/multipart.c
