/* memcoord — the daemon: owns the backend, registry, collectors, host
 * collector, actuator and arbiter, and the start/stop order.
 *
 * Lifecycle events from the backend are queued and handled by the thread that
 * calls mc_daemon_process() (main): it alone adds and removes registry
 * records, so adds, removals and resyncs never race one another. Removing a
 * domain never waits for its collector: the record is unlinked, the
 * collector told to stop, and it is joined (then freed with call_rcu) once it
 * has exited. The calling thread must be RCU-registered. */
#ifndef MEMCOORD_DAEMON_H
#define MEMCOORD_DAEMON_H

#include <stdbool.h>

#include "memcoord/arbiter.h"
#include "memcoord/config.h"
#include "memcoord/hv.h"
#include "memcoord/registry.h"

struct mc_daemon;

/* cfg is copied. Creates the libvirt backend for cfg->uri. */
int mc_daemon_create(struct mc_daemon **out, const struct mc_config *cfg);
/* Connect and start the threads. Returns <0 when the hypervisor cannot be
 * reached and cfg->once is set (the error is logged); otherwise keeps
 * retrying in the background and returns 0. */
int mc_daemon_start(struct mc_daemon *d);
/* A file descriptor that becomes readable when mc_daemon_process has work. */
int mc_daemon_fd(struct mc_daemon *d);
/* Handle queued events, join exited collectors, resync when due.
 * Returns the number of milliseconds until it wants to run again. */
int mc_daemon_process(struct mc_daemon *d);
/* Publish a new running configuration (already validated). Settings fixed
 * at start (the URI) are reported, not applied. Main thread only. */
int mc_daemon_reload(struct mc_daemon *d, const struct mc_config *c);
/* --once: the decision has been made. */
bool mc_daemon_finished(struct mc_daemon *d);
/* Ordered shutdown: arbiter, host collector, collectors, records,
 * rcu_barrier, backend. Idempotent. */
void mc_daemon_stop(struct mc_daemon *d);
void mc_daemon_destroy(struct mc_daemon *d);

/* For tests, status and summaries. */
struct mc_registry *mc_daemon_registry(struct mc_daemon *d);
unsigned long mc_daemon_passes(struct mc_daemon *d);
/* The arbiter's figures (the final ones after stop). */
void mc_daemon_arbiter_stats(struct mc_daemon *d, struct mc_arbiter_stats *out);
struct mc_hv *mc_daemon_hv(struct mc_daemon *d);
/* For the service manager's status and watchdog (main thread): whether the
 * backend is connected, the URI (or scenario) shown in messages, and the
 * arbiter's heartbeat, which advances at least once a second while its
 * thread is alive. */
bool mc_daemon_connected(struct mc_daemon *d);
const char *mc_daemon_uri(struct mc_daemon *d);
unsigned long mc_daemon_heartbeat(struct mc_daemon *d);

#endif
