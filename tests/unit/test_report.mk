test_report_DEPS := server/report.c common/bus.c common/control.c common/futex.c common/strbuf.c common/log.c common/shm.c common/url.c
