/*
 * Read-only reports built from the bus header and the control region, for
 * any worker to serve: /status JSON, /metrics (Prometheus text exposition)
 * and the /events status event.  Pure functions of shared memory: no
 * sockets, no allocation besides the output buffer.
 */
#ifndef FC_REPORT_H
#define FC_REPORT_H

#include "../common/bus.h"
#include "../common/config.h"
#include "../common/control.h"
#include "../common/strbuf.h"

/* /status: the JSON object of DESIGN.md ("generation", "uptime_s",
 * "clients", "capture": {...}, "workers": [...]) plus extra fields. */
void fc_report_status_json(struct fc_strbuf *out, const struct fc_config *cfg,
    const struct fc_bus *bus, const struct fc_ctl *ctl);

/* /metrics: Prometheus text format 0.0.4 (HELP/TYPE lines, counters end in
 * _total, the frame-age histogram with _bucket{le=...}, _sum, _count). */
void fc_report_metrics(struct fc_strbuf *out, const struct fc_config *cfg,
    const struct fc_bus *bus, const struct fc_ctl *ctl);

/* One server-sent event ("event: status\ndata: {...}\n\n") for /events:
 * the object of fc_report_event_json. */
void fc_report_event(struct fc_strbuf *out, const struct fc_config *cfg,
    const struct fc_bus *bus, const struct fc_ctl *ctl);

/* The compact status object of an /events event, on one line and without
 * a newline: source, width, height, fps, fps_target, viewers (streams),
 * connections, state (capture), frames, frame_ts_ms (latest frame's
 * capture time, or null), now_ms (the server's clock), error.  Also the
 * answer to /status?view=page, which the viewer page polls. */
void fc_report_event_json(struct fc_strbuf *out, const struct fc_config *cfg,
    const struct fc_bus *bus, const struct fc_ctl *ctl);

/* One line for systemd's STATUS= (and the log): "N viewers, capture
 * STATE (SOURCE WxH at F fps)", the summary `forkcastctl status` prints. */
void fc_report_summary(char *buf, size_t len, const struct fc_bus *bus,
    const struct fc_ctl *ctl);

/* 200 when capture runs or is deliberately paused; 503 when it fails or
 * stalls (no publish for 3 s while running), or when the supervisor holds
 * it (ctl's capture_held; ctl may be NULL).  *why gets a short reason. */
int fc_report_health(const struct fc_bus *bus, const struct fc_ctl *ctl,
    const char **why);

#endif
