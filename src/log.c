/* memcoord — logging to stderr.
 *
 * When stderr is not a terminal (journald, a pipe), each line starts with a
 * "<N>" priority prefix that journald and syslog understand; on a terminal it
 * starts with a short level word instead. One write(2)-sized fprintf per
 * line under a lock keeps lines from different threads whole. */
#include "memcoord/log.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static enum mc_log_level max_level = MC_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int use_prefix = -1;   /* -1: decide on first use */

void mc_log_set_level(enum mc_log_level level)
{
	__atomic_store_n(&max_level, level, __ATOMIC_RELAXED);
}

enum mc_log_level mc_log_get_level(void)
{
	return __atomic_load_n(&max_level, __ATOMIC_RELAXED);
}

static const char *level_word(enum mc_log_level l)
{
	switch (l) {
	case MC_LOG_ERR: return "error";
	case MC_LOG_WARNING: return "warning";
	case MC_LOG_NOTICE: return "notice";
	case MC_LOG_INFO: return "info";
	default: return "debug";
	}
}

void mc_vlog(enum mc_log_level level, const char *fmt, va_list ap)
{
	char buf[1024];

	if (level > mc_log_get_level())
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	pthread_mutex_lock(&log_lock);
	if (use_prefix < 0)
		use_prefix = !isatty(STDERR_FILENO);
	if (use_prefix)
		fprintf(stderr, "<%d>%s\n", (int)level, buf);
	else
		fprintf(stderr, "memcoord: %s: %s\n", level_word(level), buf);
	pthread_mutex_unlock(&log_lock);
}

void mc_log(enum mc_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mc_vlog(level, fmt, ap);
	va_end(ap);
}
