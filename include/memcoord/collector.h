/* memcoord — collector threads: one per domain, plus one for the host.
 *
 * A collector reads its domain's info and balloon statistics every period,
 * publishes an immutable mc_sample into the domain's record and tells the
 * arbiter when the sample may call for a decision (wake.h). It sleeps on a condition variable, so a stop request wakes it at
 * once. Collectors started together (at start-up, after a resync) jitter
 * their first collection over one period so that thousands of them do not
 * call the hypervisor in lockstep; one started by a lifecycle event
 * collects at once. */
#ifndef MEMCOORD_COLLECTOR_H
#define MEMCOORD_COLLECTOR_H

#include <stddef.h>

#include "memcoord/hv.h"
#include "memcoord/registry.h"

/* Collector threads do little more than wait and copy; 128 KiB is plenty for
 * the libvirt client calls they make, and keeps 10,000 threads cheap. */
#define MC_COLLECTOR_STACK_KIB 128

struct mc_collector_env {
	struct mc_hv *hv;
	struct mc_registry *reg;
	int period_ms;                    /* stats period */
	int jitter_ms;                    /* first collection within [0, jitter) */
	void (*published)(void *opaque);  /* called after a new sample that may
					   * call for a decision (wake.h) */
	void *opaque;
};

struct mc_collector;

/* Start the collector thread of record d (d->collector is set). The env is
 * copied. The record must stay allocated until the collector is joined. */
int mc_collector_start(struct mc_domain *d, const struct mc_collector_env *env);
/* Ask the thread to stop; returns at once. */
void mc_collector_request_stop(struct mc_collector *c);
/* 0 when the thread has exited and was joined (the collector is freed),
 * -EBUSY while it is still running. */
int mc_collector_try_join(struct mc_collector *c);
/* Request stop, wait for the thread, free the collector. */
void mc_collector_join(struct mc_collector *c);
/* Number of collector threads alive in this process (for tests/status). */
unsigned long mc_collector_live_count(void);

/* The host collector: publishes reg->host every period. */
struct mc_hostmon;
int mc_hostmon_start(struct mc_hostmon **out, const struct mc_collector_env *env);
void mc_hostmon_stop(struct mc_hostmon *h);

#endif
