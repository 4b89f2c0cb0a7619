jpegcheck_DEPS := capture/encode.c
