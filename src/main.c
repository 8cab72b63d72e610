/* memcoord — command line, signals, and the main loop.
 *
 * Signals are blocked before any thread exists (so every thread, libvirt's
 * and liburcu's included, inherits the mask) and handled here only, through
 * a signalfd polled next to the daemon's event descriptor. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "memcoord/config.h"
#include "memcoord/daemon.h"
#include "memcoord/log.h"
#include "memcoord/registry.h"

#define EXIT_USAGE 2

int main(int argc, char **argv)
{
	struct mc_config cfg;
	struct mc_daemon *d = NULL;
	char err[512] = "";
	sigset_t mask;
	int sfd = -1, rc, status = 0;
	bool running = true;

	mc_config_defaults(&cfg);
	switch (mc_config_parse_args(&cfg, argc, argv, stdout, err, sizeof(err))) {
	case MC_ARGS_EXIT:
		mc_config_free(&cfg);
		return 0;
	case MC_ARGS_BAD:
		fprintf(stderr, "memcoord: %s\n", err);
		mc_config_free(&cfg);
		return EXIT_USAGE;
	case MC_ARGS_OK:
		break;
	}
	mc_log_set_level(cfg.verbose >= 1 ? MC_LOG_DEBUG : MC_LOG_INFO);

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
	rc = mc_daemon_create(&d, &cfg);
	if (rc < 0) {
		mc_err("cannot initialise: %s (%s)", strerror(-rc), mc_hv_last_error());
		status = 1;
		goto out;
	}
	rc = mc_daemon_start(d);
	if (rc < 0) {
		status = 1;
		goto out;
	}

	while (running && !mc_daemon_finished(d)) {
		struct pollfd pfd[2] = {
			{.fd = sfd, .events = POLLIN},
			{.fd = mc_daemon_fd(d), .events = POLLIN},
		};
		int timeout = mc_daemon_process(d);

		if (mc_daemon_finished(d))
			break;
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
					mc_info("SIGHUP received; nothing to reload (no config file)");
					break;
				default:
					break;
				}
			}
		}
	}
out:
	mc_daemon_destroy(d);
	rcu_unregister_thread();
	close(sfd);
	mc_config_free(&cfg);
	return status;
}
