/* memcoord — telling the service manager how the daemon is doing.
 *
 * Under systemd (Type=notify) memcoord sends READY=1 once it has started,
 * RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1 on shutdown,
 * a one-line STATUS= (domains, connected or not), and, when the unit sets
 * WatchdogSec=, WATCHDOG=1 at half the interval — but only while the
 * arbiter thread is alive, so that a wedged arbiter gets the daemon
 * restarted. Messages go over $NOTIFY_SOCKET with libsystemd's sd_notify;
 * without it every call does nothing. Main thread only. */
#ifndef MEMCOORD_NOTIFY_H
#define MEMCOORD_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mc_daemon;

/* The arbiter must show a heartbeat within the watchdog interval, and
 * never has to within less than this (it wakes at least once a second). */
#define MC_NOTIFY_MIN_STALL_NS (2 * 1000000000LL)

struct mc_notify {
	bool enabled;           /* $NOTIFY_SOCKET is set */
	int64_t wd_ns;          /* watchdog interval; 0: no watchdog */
	int64_t next_wd_ns;     /* next liveness check (real clock) */
	unsigned long beat;     /* arbiter heartbeat last seen ... */
	int64_t beat_ns;        /* ... and when it last changed */
	bool wedged;            /* the watchdog is being starved */
	int64_t next_status_ns; /* STATUS= is refreshed at most once a second */
	char status[192];       /* the STATUS= text last sent */
};

/* Read $NOTIFY_SOCKET and the watchdog settings ($WATCHDOG_USEC, for this
 * process if $WATCHDOG_PID says so). now_ns is the real clock. */
void mc_notify_init(struct mc_notify *n, int64_t now_ns);

/* READY=1, with a status line when d is not NULL. */
void mc_notify_ready(struct mc_notify *n, struct mc_daemon *d);
/* RELOADING=1 with MONOTONIC_USEC (systemd >= 253 wants it); follow with
 * mc_notify_ready once the reload is done. */
void mc_notify_reloading(struct mc_notify *n);
void mc_notify_stopping(struct mc_notify *n);

/* The main loop's hook: the watchdog and the status line. Returns the
 * milliseconds until it wants to be called again (-1: never). */
int mc_notify_tick(struct mc_notify *n, struct mc_daemon *d, int64_t now_ns);

/* The liveness rule, alone: record the arbiter heartbeat beat seen at
 * now_ns; true while it has changed within the stall limit, the larger of
 * the watchdog interval and MC_NOTIFY_MIN_STALL_NS. */
bool mc_notify_alive(struct mc_notify *n, unsigned long beat, int64_t now_ns);

/* "4 domains, connected to qemu:///system" */
void mc_notify_status_text(struct mc_daemon *d, char *buf, size_t len);

#endif
