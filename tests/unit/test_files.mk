test_files_DEPS := capture/source_files.c common/paths.c capture/encode.c common/log.c
