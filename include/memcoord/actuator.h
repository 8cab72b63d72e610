/* memcoord — the actuator: applies a policy's plan to the hypervisor.
 *
 * It is the last line of defence, whatever the policy asked for:
 *   - never below the domain's floor (configured floor, and never below its
 *     <memtune><min_guarantee>) nor above its maximum;
 *   - never grows from the host when that would leave the host below its
 *     reserve (grants are clipped to what is above it), checked against a
 *     fresh reading of the host's free memory;
 *   - never grows the sum of all balloons above the budget, when one is set
 *     (whatever the policy: the budget is host protection, like the reserve);
 *   - skips paused domains and domains without balloon statistics;
 *   - does not act on a domain again until a sample taken after its last
 *     change has arrived (it would be acting on stale data);
 *   - with dry_run, only logs "would set".
 * Every action is logged at info with name, old and new MiB and the reason.
 * Runs on the arbiter thread only. */
#ifndef MEMCOORD_ACTUATOR_H
#define MEMCOORD_ACTUATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "memcoord/hv.h"
#include "memcoord/policy.h"
#include "memcoord/registry.h"

struct mc_actuator_cfg {
	bool dry_run;
	uint64_t host_reserve_kib;
	uint64_t budget_kib;       /* cap on the sum of all balloons, 0 = none */
};

/* Names of view domains, parallel to view.dom (kept out of the policy view).
 * name is never NULL; a snapshot's names live in the snapshot (valid until
 * its next build). */
struct mc_vmeta {
	const char *name;
};

struct mc_actuator_stats {
	unsigned long applied;    /* balloon changes issued (or logged in dry-run) */
	unsigned long clamped;    /* targets changed by floor/max/reserve */
	unsigned long skipped;    /* actions not applied (paused, stale, no-op) */
	unsigned long failed;     /* hypervisor errors */
	/* Reaction time of each applied change: from the collection of the
	 * sample it was decided on to the balloon call (memcoord's clock). */
	struct mc_hist react_ns;
};

struct mc_actuator {
	struct mc_hv *hv;
	/* When set, balloon changes go through this instead of
	 * hv->ops->set_memory (the daemon hands them to the domain's collector
	 * thread: mc_collector_set_memory, whose return codes it may give). */
	int (*set_memory)(void *opaque, const uint8_t uuid[MC_UUID_LEN], uint64_t kib);
	void *set_opaque;
	struct mc_registry *reg;   /* to stamp last_set_ns; may be NULL in tests */
	struct mc_actuator_cfg cfg;
	/* Memory granted from the host that the host sample may not show yet:
	 * grants made after host.taken_ns. */
	int64_t grant_ns[64];
	int64_t grant_kib[64];
	unsigned ngrant;
	struct mc_actuator_stats stats;
};

void mc_actuator_init(struct mc_actuator *a, struct mc_hv *hv,
		      struct mc_registry *reg, const struct mc_actuator_cfg *cfg);

/* What became of one planned action. */
enum mc_applied_status {
	MC_APPLIED = 0,        /* set (or, in a dry run, logged) */
	MC_APPLIED_SKIPPED,    /* not applied: see why */
	MC_APPLIED_FAILED,     /* the hypervisor refused */
};

struct mc_applied {
	enum mc_applied_status status;
	uint64_t target_kib;   /* after clamps (MC_APPLIED) */
	const char *why;       /* static text for SKIPPED/FAILED, else NULL */
};

/* Apply plan p decided on view v (meta parallel to v->dom). now_ns is the
 * time used to stamp changes. If out is not NULL it receives p->n entries,
 * the outcome of each action. Returns the number of changes applied. */
int mc_actuator_apply(struct mc_actuator *a, const struct mc_view *v,
		      const struct mc_vmeta *meta, const struct mc_plan *p,
		      int64_t now_ns, struct mc_applied *out);

#endif
