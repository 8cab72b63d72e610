/* memcoord — logging.
 *
 * Only threads' top-level loops and main log at info or above; modules such
 * as the policy, the parsers and the backends return codes instead.
 * Lines go to stderr — with a journald-style "<N>" priority prefix when
 * stderr is not a terminal, so journald classifies them — or to syslog(3)
 * (ident "memcoord", facility LOG_DAEMON, the same priorities). */
#ifndef MEMCOORD_LOG_H
#define MEMCOORD_LOG_H

#include <stdarg.h>

enum mc_log_level {
	MC_LOG_ERR = 3,
	MC_LOG_WARNING = 4,
	MC_LOG_NOTICE = 5,
	MC_LOG_INFO = 6,
	MC_LOG_DEBUG = 7,
};

/* Where lines go. AUTO: stderr when someone reads it (a terminal, the
 * journal, a pipe or a file), syslog when stderr is closed or /dev/null. */
enum mc_log_target {
	MC_LOG_TARGET_AUTO = 0,
	MC_LOG_TARGET_STDERR,
	MC_LOG_TARGET_SYSLOG,
};

/* Default MC_LOG_TARGET_AUTO; AUTO is resolved here, against stderr as it
 * is now. Switching to syslog opens it, away from it closes it. */
void mc_log_set_target(enum mc_log_target t);
/* The target in use (never AUTO). */
enum mc_log_target mc_log_get_target(void);
/* What AUTO means for a process whose stderr is fd. */
enum mc_log_target mc_log_resolve_auto(int fd);
/* "stderr", "syslog", "auto" -> 0, or -EINVAL. Case-insensitive. */
int mc_log_target_parse(const char *s, enum mc_log_target *t);
const char *mc_log_target_name(enum mc_log_target t);
/* The syslog(3) priority of a level: LOG_DAEMON | LOG_ERR ... LOG_DEBUG. */
int mc_log_syslog_priority(enum mc_log_level level);

/* Messages above this level are dropped; default MC_LOG_INFO. */
void mc_log_set_level(enum mc_log_level level);
enum mc_log_level mc_log_get_level(void);

void mc_log(enum mc_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mc_vlog(enum mc_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define mc_err(...) mc_log(MC_LOG_ERR, __VA_ARGS__)
#define mc_warn(...) mc_log(MC_LOG_WARNING, __VA_ARGS__)
#define mc_notice(...) mc_log(MC_LOG_NOTICE, __VA_ARGS__)
#define mc_info(...) mc_log(MC_LOG_INFO, __VA_ARGS__)
#define mc_debug(...) mc_log(MC_LOG_DEBUG, __VA_ARGS__)

#endif
