test_fcclient_parse_DEPS := tests/tools/lib/mpparse.c
