tornread_DEPS := tests/tools/lib/mpparse.c
