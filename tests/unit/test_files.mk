test_files_DEPS := capture/source_files.c capture/encode.c common/log.c
