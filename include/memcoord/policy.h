/* memcoord — policies: pure functions from a view (+ parameters) to a plan.
 *
 * No libvirt, no urcu, no clock, no I/O, no locks, no allocation inside a
 * policy: the arbiter copies a consistent view out of the registry, calls
 * the policy, and hands the plan to the actuator. Time enters only as the
 * view's timestamps. Memory is KiB throughout. */
#ifndef MEMCOORD_POLICY_H
#define MEMCOORD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memcoord/hv.h"
#include "memcoord/util.h"

#define MC_REASON_LEN 160

/* vdom flags */
#define MC_VDOM_PAUSED    0x1u  /* not running: the actuator skips it */
#define MC_VDOM_NO_STATS  0x2u  /* no balloon statistics: left out of decisions */
#define MC_VDOM_EXCLUDED  0x4u  /* excluded by configuration: never acted on */
#define MC_VDOM_UNTRUSTED 0x8u  /* this sample failed the sanity checks */
#define MC_VDOM_NO_RATES  0x10u /* no previous sample to derive rates from */

/* Per-domain view: a copy of the domain's latest sample. */
struct mc_vdom {
	uint8_t uuid[MC_UUID_LEN];
	uint32_t flags;
	uint32_t present;          /* mc_stats present bits */
	uint64_t actual_kib;       /* current balloon */
	uint64_t max_kib;          /* domain maximum */
	uint64_t floor_kib;        /* max(configured floor, min_guarantee) */
	uint64_t unused_kib;       /* guest MemFree */
	uint64_t usable_kib;       /* guest MemAvailable */
	uint64_t available_kib;    /* guest MemTotal */
	uint64_t disk_caches_kib;
	uint64_t swap_in_kib, swap_out_kib, major_fault; /* counters */
	uint64_t last_update;      /* guest's stats timestamp */
	uint64_t seq;
	int64_t taken_ns;          /* when the sample was collected */

	/* Derived by the collector from this and the previous sample
	 * (see signals.h); zero when MC_VDOM_NO_RATES. */
	uint64_t headroom_kib;     /* usable if reported, else unused + disk_caches */
	int64_t consume_kib_s;     /* growth rate of used memory (actual - headroom) */
	uint64_t swap_in_kib_s, swap_out_kib_s;
	uint64_t major_fault_s;    /* major faults per second */
	uint32_t stale_samples;    /* consecutive samples whose last_update did not advance */
	uint32_t bad_samples;      /* samples rejected by the sanity checks so far */
	uint32_t unabsorbed;       /* grows in a row the headroom did not follow */
	int64_t moved_kib;         /* balloon change since the previous sample */
	uint64_t jump_kib;         /* largest recent one-sample rise of used memory */

	/* From the configuration (per-domain section, else defaults). */
	uint32_t weight;           /* share under contention, >= 1 */

	/* Stamped by the actuator. */
	int64_t last_set_ns;       /* last balloon change by memcoord, 0 = never */
	uint64_t last_target_kib;  /* the target of that change */
	uint64_t set_last_update;  /* the guest's last_update when it was made */
	int64_t last_grow_ns;      /* last change that grew the balloon, 0 = never */
};

struct mc_vhost {
	bool has_free;
	uint64_t free_kib;
	uint64_t total_kib;
	int64_t taken_ns;
};

struct mc_view {
	int64_t now_ns;
	struct mc_vhost host;
	size_t n;
	struct mc_vdom *dom;
};

/* Why a policy planned an action: its kind and the figures its text shows.
 * A pass plans thousands of actions and the actuator applies few of them,
 * so the text is made only where it is read (mc_reason_format: the
 * actuator's log line and status, the trace, tests). */
enum mc_reason_kind {
	MC_REASON_NONE = 0,       /* not given (actions made by hand) */
	/* balance; v[] in KiB, KiB/s or counts, in the order of the text */
	MC_REASON_GROW_LOW,       /* headroom, low, consumption, grant */
	MC_REASON_GROW_PREDICT,   /* headroom, consumption, low, horizon (ms * 1024 / 1000), grant */
	MC_REASON_GROW_PRESSURE,  /* swap in + out rate, major faults/s, headroom, grant */
	MC_REASON_SHRINK,         /* headroom, high, taken */
	MC_REASON_RECLAIM,        /* headroom, target, taken */
	MC_REASON_REBALANCE,      /* headroom, taken; n = weight */
	MC_REASON_SQUEEZE,        /* headroom, taken; n = weight */
	/* seed; v[] in KiB; n = the other domain's first 4 UUID bytes */
	MC_REASON_SEED_TAKE,      /* unused, loaded, grown by, other's unused */
	MC_REASON_SEED_GIVE,      /* unused, free, shrunk by, other's unused */
	MC_REASON_SEED_HOST_GROW, /* unused, loaded, free, grown by */
	MC_REASON_SEED_HOST_GIVE, /* unused, free, shrunk by */
	MC_REASON_SEED_RECLAIM,   /* host free, loaded, unused, free, reclaimed */
};

#define MC_REASON_SHARED 0x1u  /* grow: divided by weight under contention */
#define MC_REASON_SHORT  0x2u  /* reclaim: the host or budget is short */

struct mc_reason {
	uint8_t kind;             /* enum mc_reason_kind */
	uint8_t flags;            /* MC_REASON_* */
	uint32_t n;
	int64_t v[5];
};

/* One balloon change: set view domain `dom` to `target_kib`. */
struct mc_action {
	uint32_t dom;               /* index into view.dom */
	uint64_t target_kib;
	struct mc_reason reason;
};

/* Preallocated by the caller; cap >= mc_plan_cap_for(view.n). */
struct mc_plan {
	size_t n, cap;
	struct mc_action *act;
};

static inline size_t mc_plan_cap_for(size_t ndom) { return 2 * ndom + 4; }

/* Memory granted to a domain that its balloon has not taken yet: the host's
 * free memory does not show it. Counted for changes within the last
 * minute (a balloon that never moves is found stuck well before). */
static inline uint64_t mc_vdom_inflight_kib(const struct mc_vdom *d, int64_t now_ns)
{
	if (!d->last_set_ns || now_ns - d->last_set_ns > 60 * MC_NS_PER_S ||
	    d->last_target_kib <= d->actual_kib)
		return 0;
	return d->last_target_kib - d->actual_kib;
}

/* A domain changed by memcoord whose latest sample does not show the change
 * yet: taken before the change, or carrying guest figures (last_update) from
 * before it — the host's "actual" moves at once, the guest reports a stats
 * period later. Neither the policy nor the actuator acts on it until it
 * settles. */
static inline bool mc_vdom_settling(const struct mc_vdom *d)
{
	if (!d->last_set_ns)
		return false;
	if (d->taken_ns <= d->last_set_ns)
		return true;
	return (d->present & (1u << MC_STAT_LAST_UPDATE)) &&
	       d->last_update == d->set_last_update;
}

/* The balloon moved since the previous sample, and not toward a target
 * memcoord gave it: something else is moving it — a guest just started,
 * inflating from its boot memory to its <currentMemory>, or an
 * administrator's setmem. Its size is a transient: neither the policy nor
 * the actuator acts on it until it stops. A balloon memcoord never changed
 * is moving when it moved at all (nothing moves a balloon by accident; a
 * booting guest's first sample with statistics had inflated 4-6 MiB on the
 * end-to-end lab); one memcoord changed, by more than a few MiB. */
#define MC_MOVING_TOLERANCE_KIB (8 * 1024)
static inline bool mc_vdom_moving_alone(const struct mc_vdom *d)
{
	int64_t tol = MC_MOVING_TOLERANCE_KIB;

	if (!d->last_set_ns)
		return d->moved_kib != 0;
	if (d->moved_kib <= tol && d->moved_kib >= -tol)
		return false;
	/* A sample from before memcoord's latest change moved toward the
	 * target before it (a shrink landing, then a grow decided on that
	 * sample): not judged against the new one. Such a domain is settling
	 * and left alone anyway; status would call it "moving". */
	if (d->taken_ns <= d->last_set_ns)
		return false;
	/* Shrinking toward (or onto) memcoord's target, or growing toward it. */
	if (d->moved_kib < 0)
		return d->actual_kib + MC_MOVING_TOLERANCE_KIB < d->last_target_kib;
	return d->actual_kib > d->last_target_kib + MC_MOVING_TOLERANCE_KIB;
}

/* A balloon within this distance of the target memcoord last gave it has
 * reached it. */
#define MC_BALLOON_TOLERANCE_KIB (8 * 1024)

/* The balloon was told a target and has not reached it: it is on its way
 * (a balloon moves hundreds of MiB per second) or, after stuck_ms, stuck —
 * uncooperative. Either way it is not pushed further in that direction until
 * stuck_recheck_ms after that change, when it is tried again; re-setting it
 * every decision would also restart the clock that finds it stuck. Returns
 * +1 when it has not finished growing, -1 when it has not finished
 * shrinking, 0 otherwise (reached, never set, or due for a recheck). */
static inline int mc_vdom_balloon_pending(const struct mc_vdom *d,
					  int64_t stuck_recheck_ms, int64_t now_ns)
{
	uint64_t off;

	if (!d->last_set_ns)
		return 0;
	off = d->actual_kib > d->last_target_kib ? d->actual_kib - d->last_target_kib
						 : d->last_target_kib - d->actual_kib;
	if (off <= MC_BALLOON_TOLERANCE_KIB ||
	    now_ns - d->last_set_ns >= stuck_recheck_ms * MC_NS_PER_MS)
		return 0;
	return d->last_target_kib > d->actual_kib ? 1 : -1;
}

/* Pending for stuck_ms or longer: the balloon does not follow. */
static inline bool mc_vdom_stuck(const struct mc_vdom *d, int64_t stuck_ms,
				 int64_t stuck_recheck_ms, int64_t now_ns)
{
	return mc_vdom_balloon_pending(d, stuck_recheck_ms, now_ns) != 0 &&
	       now_ns - d->last_set_ns >= stuck_ms * MC_NS_PER_MS;
}

/* The guest's figures stopped moving (its last_update did not advance for
 * stale_samples samples): nothing is decided on their strength. */
static inline bool mc_vdom_stale(const struct mc_vdom *d, uint32_t stale_samples)
{
	return d->stale_samples >= stale_samples;
}

/* Append one action with its reason (copied): 0, or -ENOSPC when the plan
 * is full. Pure: for policies. */
int mc_plan_push(struct mc_plan *plan, uint32_t dom, uint64_t target_kib,
		 const struct mc_reason *why);

/* The text of an action's reason ("grow: usable 100 MiB < low 128 MiB, ...")
 * into buf (len bytes, MC_REASON_LEN is enough), always terminated. Pure.
 * Returns buf. */
const char *mc_reason_format(const struct mc_action *a, char *buf, size_t len);

/* Seed policy parameters (the original two thresholds). */
struct mc_seed_params {
	uint64_t loaded_kib;   /* unused at or below this: the domain is loaded */
	uint64_t free_kib;     /* unused at or above this: the domain wastes memory */
};

/* Balance policy parameters. Memory in KiB, times in ms. Watermarks are
 * guest headroom (MemAvailable): low < target < high. */
struct mc_balance_params {
	uint64_t low_kib;          /* grow when headroom falls below this */
	uint64_t target_kib;       /* headroom a grow restores (plus the predicted use) */
	uint64_t high_kib;         /* headroom above this is surplus */
	uint64_t shrink_step_kib;  /* a guest is shrunk by at most this ... */
	uint32_t shrink_pct;       /* ... or this % of its surplus above target,
				    * when larger (0: the step alone) */
	int64_t cooldown_ms;       /* no shrink this long after a grow */
	int64_t horizon_ms;        /* a grow covers predicted use over this long */
	uint32_t stale_samples;    /* this many unchanged last_update: stale */
	int64_t stuck_ms;          /* balloon not at its target after this: stuck */
	int64_t stuck_recheck_ms;  /* a stuck guest is tried again after this */
	uint64_t swap_pressure_kib_s;  /* swap in+out at or above: pressure */
	uint64_t fault_pressure_s;     /* major faults/s at or above: pressure */
	uint64_t budget_kib;       /* cap on the sum of all balloons, 0 = none */
	uint64_t host_reserve_kib; /* host memory never granted */
};

struct mc_policy_params {
	struct mc_seed_params seed;
	struct mc_balance_params bal;
};

/* A policy: decide() appends actions to plan (plan->n starts at 0).
 * Returns 0, or -ENOSPC if the plan is full. A policy keeps no state between
 * calls: what it must remember (when a guest last grew, what target it was
 * given) comes back in the view, stamped by the actuator. `scratch` holds
 * scratch_size(view.n) bytes of working memory (NULL when scratch_size is
 * NULL), so the policy never allocates. */
struct mc_policy {
	const char *name;
	bool reactive;        /* decide on every new sample, not only per interval */
	size_t (*scratch_size)(size_t ndom);
	int (*decide)(const struct mc_view *v, const struct mc_policy_params *p,
		      void *scratch, struct mc_plan *plan);
};

extern const struct mc_policy mc_policy_seed;
extern const struct mc_policy mc_policy_balance;

/* Look up a policy by name; NULL if unknown. */
const struct mc_policy *mc_policy_find(const char *name);

/* The seed policy as a plain function, for tests and benchmarks. */
int mc_policy_seed_decide(const struct mc_view *v, const struct mc_seed_params *p,
			  struct mc_plan *plan);

/* The balance policy (policy_balance.c). `scratch` must hold
 * mc_balance_scratch_size(v->n) bytes: the policy allocates nothing. */
size_t mc_balance_scratch_size(size_t ndom);
int mc_policy_balance_decide(const struct mc_view *v, const struct mc_balance_params *p,
			     void *scratch, struct mc_plan *plan);

#endif
