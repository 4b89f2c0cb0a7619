/*
 * The supervisor: owns the shared memory and the listening sockets, forks
 * the capture process and the worker pool, respawns what dies, applies
 * SIGHUP (reload) and SIGTERM/SIGINT (graceful stop).  It never touches
 * client traffic.
 */
#ifndef FC_SUPERVISOR_H
#define FC_SUPERVISOR_H

/* Runs the supervisor with the validated configuration file at path.
 * Returns the process exit status (0 after a clean stop, FC_EXIT_CONFIG
 * when the configuration or environment is unusable, a pid file that is
 * not the supervisor's own included, at start or later when every worker
 * exited with FC_EXIT_CONFIG; 1 when another instance holds the pid file
 * or another start step fails). */
int fc_supervisor_run(const char *path);

#endif
