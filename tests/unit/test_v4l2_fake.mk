test_v4l2_fake_DEPS := capture/source_v4l2.c capture/encode.c common/log.c
