/* memcoord tests — logging: the syslog priorities of the levels, the log
 * target's names, what "auto" picks for a pipe, a file, /dev/null and a
 * closed descriptor, and real syslog(3) output: a child process in its own
 * mount namespace has a socket of ours bound over /dev/log, logs through
 * mc_log, and we read the datagrams glibc sends (as root only; skipped
 * otherwise). */
#include "memcoord/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "check.h"

static char tmpdir[] = "/tmp/test_log.XXXXXX";

static void test_priorities(void)
{
	CHECK(mc_log_syslog_priority(MC_LOG_ERR) == (LOG_DAEMON | LOG_ERR));
	CHECK(mc_log_syslog_priority(MC_LOG_WARNING) == (LOG_DAEMON | LOG_WARNING));
	CHECK(mc_log_syslog_priority(MC_LOG_NOTICE) == (LOG_DAEMON | LOG_NOTICE));
	CHECK(mc_log_syslog_priority(MC_LOG_INFO) == (LOG_DAEMON | LOG_INFO));
	CHECK(mc_log_syslog_priority(MC_LOG_DEBUG) == (LOG_DAEMON | LOG_DEBUG));
	/* Out of range: clamped, never another facility. */
	CHECK(mc_log_syslog_priority((enum mc_log_level)0) == (LOG_DAEMON | LOG_ERR));
	CHECK(mc_log_syslog_priority((enum mc_log_level)42) == (LOG_DAEMON | LOG_DEBUG));
	/* The "<N>" prefix on stderr is the level itself: 3 error .. 7 debug. */
	CHECK((int)MC_LOG_ERR == 3 && (int)MC_LOG_DEBUG == 7);
}

static void test_names(void)
{
	enum mc_log_target t = MC_LOG_TARGET_AUTO;

	CHECK(mc_log_target_parse("stderr", &t) == 0 && t == MC_LOG_TARGET_STDERR);
	CHECK(mc_log_target_parse("SysLog", &t) == 0 && t == MC_LOG_TARGET_SYSLOG);
	CHECK(mc_log_target_parse("auto", &t) == 0 && t == MC_LOG_TARGET_AUTO);
	t = MC_LOG_TARGET_STDERR;
	CHECK(mc_log_target_parse("journal", &t) == -EINVAL && t == MC_LOG_TARGET_STDERR);
	CHECK(mc_log_target_parse("", &t) == -EINVAL);
	CHECK(mc_log_target_parse("syslog ", &t) == -EINVAL);
	for (int i = MC_LOG_TARGET_AUTO; i <= MC_LOG_TARGET_SYSLOG; i++)
		CHECK(mc_log_target_parse(mc_log_target_name((enum mc_log_target)i), &t) == 0 &&
		      (int)t == i);
}

static void test_auto(void)
{
	char path[128];
	int p[2], fd;

	CHECK(pipe(p) == 0);
	CHECK(mc_log_resolve_auto(p[1]) == MC_LOG_TARGET_STDERR);
	close(p[0]);
	close(p[1]);
	/* Closed now. */
	CHECK(mc_log_resolve_auto(p[1]) == MC_LOG_TARGET_SYSLOG);
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(mc_log_resolve_auto(fd) == MC_LOG_TARGET_SYSLOG);
	close(fd);
	snprintf(path, sizeof(path), "%s/file.log", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(mc_log_resolve_auto(fd) == MC_LOG_TARGET_STDERR);
	close(fd);
	unlink(path);
}

/* Child: our socket over /dev/log in a private mount namespace, then log.
 * Exit 77 when the namespace cannot be made (not root). */
static void syslog_child(const char *sock)
{
	struct stat st;

	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		_exit(TEST_SKIP);
	if (stat("/dev/log", &st) < 0) {
		/* No syslog daemon on this machine: a private /dev to make
		 * the mount point in (the child needs nothing else there). */
		int fd;

		if (mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755") < 0)
			_exit(TEST_SKIP);
		fd = open("/dev/log", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			_exit(TEST_SKIP);
		close(fd);
	}
	if (mount(sock, "/dev/log", NULL, MS_BIND, NULL) < 0)
		_exit(TEST_SKIP);

	mc_log_set_level(MC_LOG_INFO);
	mc_log_set_target(MC_LOG_TARGET_SYSLOG);
	if (mc_log_get_target() != MC_LOG_TARGET_SYSLOG)
		_exit(1);
	mc_info("hello %d", 42);
	mc_warn("careful: %s", "50% full");
	mc_err("broken");
	mc_debug("not shown at info");
	mc_log_set_level(MC_LOG_DEBUG);
	mc_debug("shown at debug");
	_exit(0);
}

static void test_syslog(void)
{
	static const char *const want[] = {
		"<30>", "hello 42",
		"<28>", "careful: 50% full",
		"<27>", "broken",
		"<31>", "shown at debug",
	};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[1024], tag[64];
	int fd, status, got = 0;
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/log", tmpdir);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("bind");
		CHECK(0);
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		syslog_child(sa.sun_path);
	CHECK(waitpid(pid, &status, 0) == pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == TEST_SKIP) {
		printf("syslog output: skipped (no private mount namespace; needs root)\n");
		goto out;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(tag, sizeof(tag), "memcoord[%d]: ", (int)pid);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		const char *msg;

		if (poll(&p, 1, 500) <= 0)
			break;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			break;
		buf[n] = '\0';
		printf("syslog datagram: %s\n", buf);
		if (got >= 4) {
			CHECK(!"more datagrams than logged lines");
			break;
		}
		/* "<PRI>Mmm dd hh:mm:ss memcoord[PID]: text" */
		CHECK(strncmp(buf, want[2 * got], strlen(want[2 * got])) == 0);
		msg = strstr(buf, tag);
		CHECK(msg && strcmp(msg + strlen(tag), want[2 * got + 1]) == 0);
		got++;
	}
	CHECK(got == 4);
out:
	close(fd);
	unlink(sa.sun_path);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_priorities();
	test_names();
	test_auto();
	test_syslog();
	rmdir(tmpdir);
	if (check_failures) {
		fprintf(stderr, "%d check(s) failed\n", check_failures);
		return 1;
	}
	printf("log: all checks passed\n");
	return 0;
}
