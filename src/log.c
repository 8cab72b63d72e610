/* memcoord — logging to stderr or syslog.
 *
 * On stderr, when it is not a terminal (journald, a pipe), each line starts
 * with a "<N>" priority prefix that journald and syslog understand; on a
 * terminal it starts with a short level word instead. One write(2)-sized
 * fprintf per line under a lock keeps lines from different threads whole.
 * To syslog, each line is one syslog(3) call with the level as priority
 * (the levels are syslog's numbers) under facility LOG_DAEMON. */
#include "memcoord/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <unistd.h>

static enum mc_log_level max_level = MC_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int use_prefix = -1;   /* -1: decide on first use */
/* AUTO until set: stderr then, as before any configuration is read. */
static enum mc_log_target target = MC_LOG_TARGET_AUTO;

_Static_assert(MC_LOG_ERR == LOG_ERR && MC_LOG_WARNING == LOG_WARNING &&
	       MC_LOG_NOTICE == LOG_NOTICE && MC_LOG_INFO == LOG_INFO &&
	       MC_LOG_DEBUG == LOG_DEBUG, "levels are syslog priorities");

static const char *const target_names[] = {
	[MC_LOG_TARGET_AUTO] = "auto",
	[MC_LOG_TARGET_STDERR] = "stderr",
	[MC_LOG_TARGET_SYSLOG] = "syslog",
};

int mc_log_target_parse(const char *s, enum mc_log_target *t)
{
	for (size_t i = 0; i < sizeof(target_names) / sizeof(target_names[0]); i++)
		if (strcasecmp(s, target_names[i]) == 0) {
			*t = (enum mc_log_target)i;
			return 0;
		}
	return -EINVAL;
}

const char *mc_log_target_name(enum mc_log_target t)
{
	return (unsigned)t < sizeof(target_names) / sizeof(target_names[0])
		? target_names[t] : "auto";
}

int mc_log_syslog_priority(enum mc_log_level level)
{
	if (level < MC_LOG_ERR)
		level = MC_LOG_ERR;
	if (level > MC_LOG_DEBUG)
		level = MC_LOG_DEBUG;
	return LOG_DAEMON | (int)level;
}

/* A terminal, the journal (under systemd stderr is a stream to journald),
 * a pipe or a file is read by someone; a closed descriptor or /dev/null,
 * as a daemon started without systemd often has, is not. */
enum mc_log_target mc_log_resolve_auto(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return MC_LOG_TARGET_SYSLOG;
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
		return MC_LOG_TARGET_SYSLOG;
	return MC_LOG_TARGET_STDERR;
}

void mc_log_set_target(enum mc_log_target t)
{
	if (t == MC_LOG_TARGET_AUTO)
		t = mc_log_resolve_auto(STDERR_FILENO);
	pthread_mutex_lock(&log_lock);
	if (t == MC_LOG_TARGET_SYSLOG && target != MC_LOG_TARGET_SYSLOG)
		openlog("memcoord", LOG_PID, LOG_DAEMON);
	else if (t != MC_LOG_TARGET_SYSLOG && target == MC_LOG_TARGET_SYSLOG)
		closelog();
	target = t;
	pthread_mutex_unlock(&log_lock);
}

enum mc_log_target mc_log_get_target(void)
{
	enum mc_log_target t;

	pthread_mutex_lock(&log_lock);
	t = target == MC_LOG_TARGET_AUTO ? MC_LOG_TARGET_STDERR : target;
	pthread_mutex_unlock(&log_lock);
	return t;
}

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
	if (target == MC_LOG_TARGET_SYSLOG) {
		syslog(mc_log_syslog_priority(level), "%s", buf);
		pthread_mutex_unlock(&log_lock);
		return;
	}
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
