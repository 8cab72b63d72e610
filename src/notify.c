/* memcoord — systemd notifications and the watchdog (see notify.h).
 *
 * sd_notify returns 0 without $NOTIFY_SOCKET and a negative errno when the
 * socket cannot be written; either way the daemon carries on: a manager
 * that stopped listening has nothing for memcoord to act on. */
#include "memcoord/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "memcoord/daemon.h"
#include "memcoord/log.h"
#include "memcoord/registry.h"
#include "memcoord/util.h"

void mc_notify_init(struct mc_notify *n, int64_t now_ns)
{
	uint64_t usec = 0;

	memset(n, 0, sizeof(*n));
	n->enabled = getenv("NOTIFY_SOCKET") != NULL;
	/* 0 = keep the variables: a --compare run starts a second daemon
	 * in this process, and it is the same service. */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
		n->wd_ns = (int64_t)usec * 1000;
	n->beat_ns = now_ns;
	n->next_wd_ns = now_ns;
	n->next_status_ns = now_ns;
}

void mc_notify_status_text(struct mc_daemon *d, char *buf, size_t len)
{
	unsigned long ndom = mc_registry_count(mc_daemon_registry(d));

	snprintf(buf, len, "%lu domain%s, %s %s", ndom, ndom == 1 ? "" : "s",
		 mc_daemon_connected(d) ? "connected to" : "not connected to (retrying)",
		 mc_daemon_uri(d));
}

void mc_notify_ready(struct mc_notify *n, struct mc_daemon *d)
{
	if (!n->enabled)
		return;
	if (d) {
		mc_notify_status_text(d, n->status, sizeof(n->status));
		sd_notifyf(0, "READY=1\nSTATUS=%s", n->status);
	} else {
		sd_notify(0, "READY=1");
	}
}

void mc_notify_reloading(struct mc_notify *n)
{
	struct timespec ts;

	if (!n->enabled)
		return;
	/* systemd matches the reload to this timestamp (CLOCK_MONOTONIC,
	 * whatever memcoord's own clock runs at). */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ULL +
		   (unsigned long long)ts.tv_nsec / 1000ULL);
}

void mc_notify_stopping(struct mc_notify *n)
{
	if (n->enabled)
		sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
}

bool mc_notify_alive(struct mc_notify *n, unsigned long beat, int64_t now_ns)
{
	int64_t limit = n->wd_ns > MC_NOTIFY_MIN_STALL_NS ? n->wd_ns : MC_NOTIFY_MIN_STALL_NS;

	if (beat != n->beat) {
		n->beat = beat;
		n->beat_ns = now_ns;
	}
	return now_ns - n->beat_ns <= limit;
}

static int ms_until(int64_t when_ns, int64_t now_ns)
{
	int64_t ms = (when_ns - now_ns + MC_NS_PER_MS - 1) / MC_NS_PER_MS;

	return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

int mc_notify_tick(struct mc_notify *n, struct mc_daemon *d, int64_t now_ns)
{
	int wait = -1;

	if (!n->enabled)
		return -1;
	if (now_ns >= n->next_status_ns) {
		char text[sizeof(n->status)];

		mc_notify_status_text(d, text, sizeof(text));
		if (strcmp(text, n->status) != 0) {
			memcpy(n->status, text, sizeof(text));
			sd_notifyf(0, "STATUS=%s", n->status);
		}
		n->next_status_ns = now_ns + MC_NS_PER_S;
	}
	wait = ms_until(n->next_status_ns, now_ns);
	if (!n->wd_ns)
		return wait;

	if (now_ns >= n->next_wd_ns) {
		bool alive = mc_notify_alive(n, mc_daemon_heartbeat(d), now_ns);

		/* This runs on the main loop, the one place that logs. */
		if (alive) {
			sd_notify(0, "WATCHDOG=1");
			if (n->wedged)
				mc_notice("watchdog: the arbiter is running again");
		} else if (!n->wedged) {
			mc_err("watchdog: the arbiter has not run for %lld s; no longer"
			       " feeding the service manager's watchdog",
			       (long long)((now_ns - n->beat_ns) / MC_NS_PER_S));
		}
		n->wedged = !alive;
		n->next_wd_ns = now_ns + n->wd_ns / 2;
	}
	if (ms_until(n->next_wd_ns, now_ns) < wait)
		wait = ms_until(n->next_wd_ns, now_ns);
	return wait;
}
