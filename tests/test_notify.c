/* memcoord tests — systemd notifications: the watchdog's liveness rule; an
 * in-process daemon on the simulated host whose watchdog stops being fed
 * once its arbiter no longer runs; and the memcoord binary under a fake
 * service manager (a datagram socket in $NOTIFY_SOCKET, $WATCHDOG_USEC and
 * $WATCHDOG_PID set as systemd sets them): READY=1, WATCHDOG=1 again and
 * again, a STATUS= line, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on
 * SIGTERM, and no watchdog when $WATCHDOG_PID names another process.
 *
 * Usage: test_notify /path/to/memcoord */
#include "memcoord/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memcoord/config.h"
#include "memcoord/daemon.h"
#include "memcoord/util.h"
#include "check.h"

static char tmpdir[] = "/tmp/test_notify.XXXXXX";
static char sock_path[100], scen_path[200];

/* The idle scenario, long enough for every step below. */
static const char scenario[] =
	"[sim]\nspeed = 20\nduration = 3600s\n\n"
	"[host]\nmemory = 8G\n\n"
	"[group:idle]\ncount = 4\nmax = 2G\nmemory = 1G\nrss = 200M\ncache = 100M\n"
	"workload = idle\n";

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int open_socket(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		perror("socket");
		exit(1);
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror(sock_path);
		exit(1);
	}
	return fd;
}

/* One datagram within timeout_ms into buf; false on timeout. */
static bool recv_msg(int fd, int timeout_ms, char *buf, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;
	int r;

	while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (r <= 0)
		return false;
	n = recv(fd, buf, len - 1, 0);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* A line of msg equal to line ("READY=1"), or starting with it when it
 * ends in '=' ("STATUS="). */
static const char *has_line(const char *msg, const char *line)
{
	size_t l = strlen(line);

	for (const char *p = msg; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, line, l) == 0 &&
		    (line[l - 1] == '=' || p[l] == '\n' || p[l] == '\0'))
			return p;
	return NULL;
}

/* Wait up to timeout_ms for a message with the line; counts WATCHDOG=1
 * messages seen meanwhile into *wd (may be NULL); copies the message out. */
static bool wait_for(int fd, const char *line, int timeout_ms, int *wd,
		     char *out, size_t outlen)
{
	int64_t end = mc_real_now_ns() + (int64_t)timeout_ms * MC_NS_PER_MS;
	char buf[1024];

	for (;;) {
		int left = (int)((end - mc_real_now_ns()) / MC_NS_PER_MS);

		if (left <= 0 || !recv_msg(fd, left, buf, sizeof(buf)))
			return false;
		if (wd && has_line(buf, "WATCHDOG=1"))
			(*wd)++;
		if (has_line(buf, line)) {
			if (out)
				snprintf(out, outlen, "%s", buf);
			return true;
		}
	}
}

static void drain(int fd)
{
	char buf[1024];

	while (recv_msg(fd, 0, buf, sizeof(buf)))
		;
}

/* ---- the liveness rule ---------------------------------------------------- */

static void test_alive_rule(void)
{
	struct mc_notify n;
	int64_t t = 1000 * MC_NS_PER_S;

	mc_notify_init(&n, t);
	n.wd_ns = 10 * MC_NS_PER_S;
	/* A heartbeat that moves keeps it alive. */
	for (unsigned long b = 1; b <= 5; b++)
		CHECK(mc_notify_alive(&n, b, t += 4 * MC_NS_PER_S));
	/* Stuck: alive up to the watchdog interval, then not. */
	CHECK(mc_notify_alive(&n, 5, t + 5 * MC_NS_PER_S));
	CHECK(mc_notify_alive(&n, 5, t + 10 * MC_NS_PER_S));
	CHECK(!mc_notify_alive(&n, 5, t + 10 * MC_NS_PER_S + 1));
	CHECK(!mc_notify_alive(&n, 5, t + 60 * MC_NS_PER_S));
	/* Moving again: alive again. */
	CHECK(mc_notify_alive(&n, 6, t + 61 * MC_NS_PER_S));

	/* A short watchdog interval still allows MC_NOTIFY_MIN_STALL_NS. */
	mc_notify_init(&n, t);
	n.wd_ns = 200 * MC_NS_PER_MS;
	CHECK(mc_notify_alive(&n, 1, t));
	CHECK(mc_notify_alive(&n, 1, t + MC_NOTIFY_MIN_STALL_NS));
	CHECK(!mc_notify_alive(&n, 1, t + MC_NOTIFY_MIN_STALL_NS + 1));
}

/* ---- in process: a stopped arbiter starves the watchdog ------------------- */

static void test_in_process(void)
{
	struct mc_config cfg;
	struct mc_daemon *d = NULL;
	struct mc_notify n;
	char pid[32], msg[1024];
	int fd = open_socket(), wd = 0;
	int64_t end, t1;

	setenv("NOTIFY_SOCKET", sock_path, 1);
	setenv("WATCHDOG_USEC", "400000", 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);

	mc_config_defaults(&cfg);
	cfg.sim_path = strdup(scen_path);
	CHECK(mc_daemon_create(&d, &cfg) == 0);
	mc_config_free(&cfg);
	if (!d)
		return;
	CHECK(mc_daemon_start(d) == 0);
	mc_notify_init(&n, mc_real_now_ns());
	CHECK(n.enabled);
	CHECK(n.wd_ns == 400 * MC_NS_PER_MS);
	mc_notify_ready(&n, d);
	CHECK(wait_for(fd, "READY=1", 1000, NULL, msg, sizeof(msg)));
	CHECK(has_line(msg, "STATUS="));

	/* Fed every 200 ms while the arbiter runs. */
	end = mc_real_now_ns() + 1500 * MC_NS_PER_MS;
	while (mc_real_now_ns() < end) {
		char buf[1024];

		mc_daemon_process(d);
		mc_notify_tick(&n, d, mc_real_now_ns());
		while (recv_msg(fd, 0, buf, sizeof(buf)))
			wd += has_line(buf, "WATCHDOG=1") != NULL;
		sleep_ms(20);
	}
	fprintf(stderr, "in process: %d WATCHDOG=1 in 1.5 s\n", wd);
	CHECK(wd >= 5);
	CHECK(!n.wedged);

	/* No arbiter: its heartbeat stands still; once it has for longer than
	 * the stall limit, no more WATCHDOG=1. The first check after the stop
	 * may still see the arbiter's last beats. */
	mc_daemon_stop(d);
	t1 = mc_real_now_ns() + MC_NS_PER_S;
	mc_notify_tick(&n, d, t1);
	CHECK(!n.wedged);
	drain(fd);
	mc_notify_tick(&n, d, t1 + MC_NOTIFY_MIN_STALL_NS + 500 * MC_NS_PER_MS);
	CHECK(n.wedged);
	wd = 0;
	while (recv_msg(fd, 100, msg, sizeof(msg)))
		wd += has_line(msg, "WATCHDOG=1") != NULL;
	CHECK(wd == 0);
	mc_notify_tick(&n, d, t1 + 2 * MC_NOTIFY_MIN_STALL_NS);
	CHECK(n.wedged);
	CHECK(!recv_msg(fd, 100, msg, sizeof(msg)) || !has_line(msg, "WATCHDOG=1"));
	mc_daemon_destroy(d);
	close(fd);
	unlink(sock_path);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* ---- the binary under a fake service manager ------------------------------ */

/* Start memcoord --sim with the notify variables; watchdog_pid_self: set
 * $WATCHDOG_PID to the child itself (else to our pid, another process). */
static pid_t spawn(const char *memcoord, bool watchdog_pid_self, const char *log)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		char v[32];
		int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (lfd >= 0) {
			dup2(lfd, STDOUT_FILENO);
			dup2(lfd, STDERR_FILENO);
		}
		setenv("NOTIFY_SOCKET", sock_path, 1);
		setenv("WATCHDOG_USEC", "400000", 1);
		snprintf(v, sizeof(v), "%d", (int)(watchdog_pid_self ? getpid() : parent));
		setenv("WATCHDOG_PID", v, 1);
		execl(memcoord, memcoord, "--sim", scen_path, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int reap(pid_t pid, int timeout_ms)
{
	int status;

	for (int i = 0; i < timeout_ms / 20; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void show_log(const char *log)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "sed 's/^/  memcoord: /' %s >&2", log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no log)\n");
}

static void test_binary(const char *memcoord)
{
	char log[256], msg[1024];
	int fd = open_socket(), wd = 0, rc;
	const char *status;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/memcoord.log", tmpdir);
	pid = spawn(memcoord, true, log);
	CHECK(pid > 0);

	CHECK(wait_for(fd, "READY=1", 15000, &wd, msg, sizeof(msg)));
	status = has_line(msg, "STATUS=");
	CHECK(status && strstr(status, "connected to"));
	/* The four guests appear (in READY's status or a later one: on a
	 * loaded machine READY may go out before the first listing). */
	if (!(status && strstr(status, "STATUS=4 domains"))) {
		int64_t end = mc_real_now_ns() + 5 * MC_NS_PER_S;
		bool seen = false;

		while (!seen && mc_real_now_ns() < end)
			if (wait_for(fd, "STATUS=", 500, &wd, msg, sizeof(msg)))
				seen = strstr(msg, "STATUS=4 domains") != NULL;
		if (!seen)
			fprintf(stderr, "binary: READY said [%s], the last status [%s]\n",
				status ? status : "", msg);
		CHECK(seen);
	}

	/* The watchdog is fed at half of WATCHDOG_USEC: ~10 in 2 s. */
	wait_for(fd, "no such line", 2000, &wd, NULL, 0);
	fprintf(stderr, "binary: %d WATCHDOG=1 in about 2 s\n", wd);
	CHECK(wd >= 5);

	/* SIGHUP: RELOADING=1 (with MONOTONIC_USEC) then READY=1. */
	kill(pid, SIGHUP);
	CHECK(wait_for(fd, "RELOADING=1", 5000, NULL, msg, sizeof(msg)));
	CHECK(has_line(msg, "MONOTONIC_USEC="));
	CHECK(wait_for(fd, "READY=1", 5000, NULL, NULL, 0));

	/* Still fed after the reload. */
	wd = 0;
	wait_for(fd, "no such line", 1000, &wd, NULL, 0);
	CHECK(wd >= 2);

	kill(pid, SIGTERM);
	CHECK(wait_for(fd, "STOPPING=1", 5000, NULL, NULL, 0));
	rc = reap(pid, 20000);
	CHECK(rc == 0);
	if (check_failures)
		show_log(log);

	/* $WATCHDOG_PID names another process: READY, but no watchdog. */
	drain(fd);
	pid = spawn(memcoord, false, log);
	wd = 0;
	CHECK(wait_for(fd, "READY=1", 15000, &wd, NULL, 0));
	wait_for(fd, "no such line", 1500, &wd, NULL, 0);
	CHECK(wd == 0);
	kill(pid, SIGTERM);
	CHECK(wait_for(fd, "STOPPING=1", 5000, NULL, NULL, 0));
	CHECK(reap(pid, 20000) == 0);

	close(fd);
	unlink(sock_path);
	unlink(log);
}

int main(int argc, char **argv)
{
	FILE *f;

	if (argc < 2) {
		fprintf(stderr, "usage: %s /path/to/memcoord\n", argv[0]);
		return 2;
	}
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/notify", tmpdir);
	snprintf(scen_path, sizeof(scen_path), "%s/idle-long.ini", tmpdir);
	f = fopen(scen_path, "w");
	if (!f || fputs(scenario, f) < 0 || fclose(f) != 0) {
		perror(scen_path);
		return 1;
	}

	test_alive_rule();
	test_binary(argv[1]);
	rcu_register_thread();
	test_in_process();
	rcu_unregister_thread();

	unlink(scen_path);
	rmdir(tmpdir);
	if (check_failures) {
		fprintf(stderr, "%d check(s) failed\n", check_failures);
		return 1;
	}
	printf("notify: all checks passed\n");
	return 0;
}
