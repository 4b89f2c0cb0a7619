test_font_DEPS := capture/font.c
