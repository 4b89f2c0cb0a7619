test_encode_DEPS := capture/encode.c
