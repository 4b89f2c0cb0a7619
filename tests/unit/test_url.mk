test_url_DEPS := common/url.c
