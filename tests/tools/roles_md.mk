roles_md_DEPS := common/role.c common/policy_worker.c common/policy_capture.c common/sandbox.c common/log.c common/config.c common/tls.c common/host.c common/url.c
