/* memcoord — command line, signals, and the main loop.
 *
 * Signals are blocked before any thread exists (so every thread, libvirt's
 * and liburcu's included, inherits the mask) and handled here only, through
 * a signalfd polled next to the daemon's event descriptor. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "memcoord/config.h"
#include "memcoord/control.h"
#include "memcoord/daemon.h"
#include "memcoord/log.h"
#include "memcoord/notify.h"
#include "memcoord/registry.h"
#include "memcoord/sim.h"
#include "memcoord/summary.h"

#define EXIT_USAGE 2

/* SIGHUP: rebuild the configuration from the same command line (defaults,
 * the file, the options) and publish it; on any error keep the running one. */
static void reload(struct mc_daemon *d, int argc, char **argv)
{
	struct mc_config next;
	char err[4096] = "";

	if (mc_config_build(&next, argc, argv, stdout, err, sizeof(err)) != MC_ARGS_OK) {
		for (char *line = err, *nl; line && *line; line = nl) {
			nl = strchr(line, '\n');
			if (nl)
				*nl++ = '\0';
			mc_err("reload: %s", line);
		}
		mc_err("reload: configuration rejected; the running configuration stays");
		mc_config_free(&next);
		return;
	}
	if (mc_daemon_reload(d, &next) < 0)
		mc_err("reload: out of memory; the running configuration stays");
	else {
		mc_log_set_target(next.log_target);
		mc_log_set_level(next.verbose >= 1 ? MC_LOG_DEBUG : next.log_level);
	}
	mc_config_free(&next);
}

/* Run one daemon until a signal, --once's decision, or the scenario's end.
 * When run is not NULL (a simulation), it receives the run's results. */
static int run_daemon(const struct mc_config *cfg, int sfd, int argc, char **argv,
		      struct mc_notify *nt, struct mc_run *run)
{
	struct mc_daemon *d = NULL;
	bool running = true;
	int rc, status = 0;

	rc = mc_daemon_create(&d, cfg);
	if (rc < 0) {
		if (!cfg->sim_path)
			mc_err("cannot initialise: %s (%s)", strerror(-rc), mc_hv_last_error());
		mc_daemon_destroy(d);
		return 1;
	}
	rc = mc_daemon_start(d);
	if (rc < 0) {
		mc_daemon_destroy(d);
		return 1;
	}
	mc_notify_ready(nt, d);

	while (running && !mc_daemon_finished(d)) {
		struct pollfd pfd[2] = {
			{.fd = sfd, .events = POLLIN},
			{.fd = mc_daemon_fd(d), .events = POLLIN},
		};
		int timeout = mc_daemon_process(d);
		int nt_wait = mc_notify_tick(nt, d, mc_real_now_ns());

		if (mc_daemon_finished(d))
			break;
		if (nt_wait >= 0 && nt_wait < timeout)
			timeout = nt_wait;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
			mc_err("poll: %s", strerror(errno));
			status = 1;
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				switch (si.ssi_signo) {
				case SIGINT:
				case SIGTERM:
					mc_info("%s received; shutting down",
						si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
					running = false;
					break;
				case SIGHUP:
					mc_info("SIGHUP received; reloading the configuration");
					mc_notify_reloading(nt);
					reload(d, argc, argv);
					mc_notify_ready(nt, d);
					break;
				default:
					break;
				}
			}
		}
	}
	mc_notify_stopping(nt);
	mc_daemon_stop(d);
	if (run) {
		struct mc_arbiter_stats st;
		const struct mc_sim_result *res = mc_hv_sim_result(mc_daemon_hv(d));

		mc_daemon_arbiter_stats(d, &st);
		if (mc_run_capture(run, cfg->policy, res, &st) < 0) {
			mc_err("out of memory capturing the results");
			status = 1;
		}
	}
	mc_daemon_destroy(d);
	return status;
}

/* "x.csv" -> "x.POLICY.csv" (or "x.POLICY" without an extension). */
static char *trace_path_for(const char *path, const char *policy)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - path) : strlen(path);
	size_t len = strlen(path) + strlen(policy) + 2;
	char *p = malloc(len);

	if (p)
		snprintf(p, len, "%.*s.%s%s", (int)stem, path, policy, path + stem);
	return p;
}

/* --compare: the same scenario under the seed and the balance policy. */
static int run_compare(const struct mc_config *cfg, int sfd, int argc, char **argv,
		       struct mc_notify *nt)
{
	static const char *const policies[2] = {"seed", "balance"};
	struct mc_run runs[2];
	int status = 0;

	memset(runs, 0, sizeof(runs));
	for (int i = 0; i < 2 && status == 0; i++) {
		struct mc_config c;

		if (mc_config_copy(&c, cfg) < 0)
			return 1;
		c.compare = false;
		mc_strlcpy(c.policy, policies[i], sizeof(c.policy));
		if (cfg->trace_path) {
			free(c.trace_path);
			c.trace_path = trace_path_for(cfg->trace_path, policies[i]);
		}
		mc_info("comparison: running %s under the %s policy", cfg->sim_path, policies[i]);
		status = run_daemon(&c, sfd, argc, argv, nt, &runs[i]);
		if (status == 0)
			mc_summary_print(stdout, &runs[i]);
		mc_config_free(&c);
	}
	if (status == 0)
		mc_summary_compare(stdout, &runs[0], &runs[1]);
	mc_run_free(&runs[0]);
	mc_run_free(&runs[1]);
	return status;
}

int main(int argc, char **argv)
{
	struct mc_config cfg;
	struct mc_notify nt;
	char err[4096] = "";
	sigset_t mask;
	int sfd = -1, status = 0;

	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return mc_status_client_main(argc - 1, argv + 1);

	/* Defaults, then the file, then the command line; validated. */
	switch (mc_config_build(&cfg, argc, argv, stdout, err, sizeof(err))) {
	case MC_ARGS_EXIT:
		mc_config_free(&cfg);
		return 0;
	case MC_ARGS_BAD:
		/* One problem per line (a file may have several). */
		for (char *line = err, *nl; line; line = nl) {
			nl = strchr(line, '\n');
			if (nl)
				*nl++ = '\0';
			fprintf(stderr, "memcoord: %s\n", line);
		}
		mc_config_free(&cfg);
		return EXIT_USAGE;
	case MC_ARGS_OK:
		break;
	}
	if (cfg.check_config) {
		mc_config_print(&cfg, stdout);
		fflush(stdout);
		fprintf(stderr, "configuration OK\n");
		mc_config_free(&cfg);
		return 0;
	}
	mc_log_set_target(cfg.log_target);
	mc_log_set_level(cfg.verbose >= 1 ? MC_LOG_DEBUG : cfg.log_level);
	mc_notify_init(&nt, mc_real_now_ns());
	/* A simulation is a test or a demo: a status socket only if asked. */
	if (!cfg.control_socket && !cfg.sim_path) {
		cfg.control_socket = strdup(MC_CONTROL_DEFAULT_PATH);
		cfg.control_socket_implicit = true;
	}
	/* One collector thread per domain: before any thread starts. */
	{
		int r = mc_futex_hash_global();

		if (r < 0 && r != -EINVAL)
			mc_debug("futex hash left private: %s", strerror(-r));
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0) {
		mc_err("cannot block signals");
		mc_config_free(&cfg);
		return 1;
	}
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		mc_err("signalfd: %s", strerror(errno));
		mc_config_free(&cfg);
		return 1;
	}

	rcu_register_thread();
	/* liburcu starts its call_rcu worker on first use, and a new thread
	 * inherits its creator's name: start it here, from main, so that it
	 * is never mistaken for a collector ("mc/<domain>"). */
	(void)get_default_call_rcu_data();

	if (cfg.compare) {
		status = run_compare(&cfg, sfd, argc, argv, &nt);
	} else {
		struct mc_run run;

		status = run_daemon(&cfg, sfd, argc, argv, &nt, cfg.sim_path ? &run : NULL);
		if (cfg.sim_path && status == 0) {
			mc_summary_print(stdout, &run);
			mc_run_free(&run);
		}
	}

	rcu_unregister_thread();
	close(sfd);
	mc_config_free(&cfg);
	return status;
}
