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
/* Request stop and wait for the thread until deadline_ns (mc_real_now_ns
 * clock): 0 when it exited (the collector is freed), -ETIMEDOUT when it is
 * still in a hypervisor call. Then it is detached and left to finish on its
 * own: it publishes nothing more, and its record must never be freed. */
int mc_collector_join_until(struct mc_collector *c, int64_t deadline_ns);
/* The domain's name (for messages). */
const char *mc_collector_name(const struct mc_collector *c);

/* How long the arbiter waits for a balloon change's answer (real time). A
 * change takes milliseconds; one that hangs holds up only its own domain's
 * collector. */
#define MC_COLLECTOR_SET_WAIT_MS 1000

/* Set the balloon of the domain with this UUID on its collector thread
 * (reg_opaque: the struct mc_registry; the signature of the actuator's
 * set_memory hook). Waits at most MC_COLLECTOR_SET_WAIT_MS. Returns 0 or the
 * backend's error (text in mc_hv_last_error()), or:
 *   -ENOENT       the domain is not collected (any more)
 *   -ETIMEDOUT    its collector was busy in a call all that time; the change
 *                 was withdrawn, nothing changed
 *   -EINPROGRESS  the change was made and has not returned; it may still
 *                 take effect (its collector logs how it ends)
 *   -EBUSY        a call for the domain has not returned for longer than
 *                 that already: not tried
 * Caller is an RCU-registered thread. */
int mc_collector_set_memory(void *reg_opaque, const uint8_t uuid[MC_UUID_LEN], uint64_t kib);

/* Number of collector threads alive in this process (for tests/status). */
unsigned long mc_collector_live_count(void);

/* The host collector: publishes reg->host every period. */
struct mc_hostmon;
int mc_hostmon_start(struct mc_hostmon **out, const struct mc_collector_env *env);
void mc_hostmon_stop(struct mc_hostmon *h);

#endif
