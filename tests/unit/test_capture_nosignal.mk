test_capture_nosignal_DEPS := capture/nosignal.c capture/encode.c capture/font.c
