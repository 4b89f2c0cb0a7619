test_testpattern_DEPS := capture/source_testpattern.c capture/encode.c capture/font.c
