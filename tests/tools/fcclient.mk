fcclient_DEPS := tests/tools/lib/mpparse.c
# --tls (OpenSSL).
fcclient_LIBS := -lssl -lcrypto
