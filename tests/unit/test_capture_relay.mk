test_capture_relay_DEPS := capture/capture.c capture/encode.c capture/nosignal.c capture/font.c common/bus.c common/control.c common/futex.c common/log.c common/shm.c
