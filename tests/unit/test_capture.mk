test_capture_DEPS := capture/capture.c capture/encode.c capture/nosignal.c capture/font.c capture/source_testpattern.c common/bus.c common/control.c common/futex.c common/log.c common/shm.c
