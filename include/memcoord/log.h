/* memcoord — logging.
 *
 * Only threads' top-level loops and main log at info or above; modules such
 * as the policy, the parsers and the backends return codes instead.
 * Every line goes to stderr with a journald-style "<N>" priority prefix when
 * stderr is not a terminal, so journald and syslog classify it. */
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
