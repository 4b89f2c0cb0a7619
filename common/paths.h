/*
 * Where forkcast's own files are: the capture executable, the bundled
 * sample pictures and the default configuration file.
 *
 * One rule for a checkout and an installed tree: everything is looked up
 * relative to the running executable (/proc/self/exe), the checkout's
 * layout first, then the installed one, so an installed tree works from
 * wherever it was copied (a DESTDIR, an unpacked package):
 *
 *   checkout (build/forkcast)        installed (PREFIX/sbin/forkcast)
 *   build/forkcast-capture           PREFIX/libexec/forkcast/forkcast-capture
 *   tests/data/samples               PREFIX/share/forkcast/samples
 *   conf/forkcast.conf               FC_SYSCONFDIR/forkcast/forkcast.conf
 *
 * The configuration is the one exception to "relative": an installed
 * tree reads FC_SYSCONFDIR (/etc unless built otherwise), where
 * administrators and packages expect it.
 */
#ifndef FC_PATHS_H
#define FC_PATHS_H

#include <stddef.h>

#ifndef FC_SYSCONFDIR
#define FC_SYSCONFDIR "/etc"
#endif

/*
 * The directory of the running executable into buf.  0, or -1 with errno
 * set (readlink failed, or the path does not fit).
 */
int fc_path_exe_dir(char *buf, size_t len);

/* What a candidate of fc_path_find must be. */
enum fc_path_kind {
	FC_PATH_DIR,		/* a directory */
	FC_PATH_FILE,		/* a regular file */
	FC_PATH_EXEC,		/* a regular file this process may execute */
};

/*
 * The first of the candidates (relative to the executable's directory)
 * that exists as the wanted kind, into buf, with "." and ".." resolved
 * where realpath(3) can (for log lines; the unresolved path is as good).
 * 0, or -1 when none does (buf then holds the executable's directory,
 * for the message).
 */
int fc_path_find(char *buf, size_t len, const char *const *rel, size_t n,
    enum fc_path_kind kind);

/* forkcast-capture next to the supervisor, or in the installed libexec
 * folder.  0, or -1 as fc_path_find. */
int fc_path_capture_exe(char *buf, size_t len);

/*
 * The configuration file read without -c: conf/forkcast.conf of the
 * checkout the executable was built in, else
 * FC_SYSCONFDIR/forkcast/forkcast.conf.  Never fails (the second is
 * returned even when missing, so the message names it).
 */
void fc_path_default_config(char *buf, size_t len);

#endif
