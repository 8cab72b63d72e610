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

#include "memcoord/util.h"

#define MC_REASON_LEN 160

/* vdom flags */
#define MC_VDOM_PAUSED   0x1u  /* not running: the actuator skips it */
#define MC_VDOM_NO_STATS 0x2u  /* no balloon statistics: left out of decisions */

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
	int64_t last_set_ns;       /* last balloon change by memcoord, 0 = never */
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

/* One balloon change: set view domain `dom` to `target_kib`. */
struct mc_action {
	uint32_t dom;               /* index into view.dom */
	uint64_t target_kib;
	char reason[MC_REASON_LEN];
};

/* Preallocated by the caller; cap >= mc_plan_cap_for(view.n). */
struct mc_plan {
	size_t n, cap;
	struct mc_action *act;
};

static inline size_t mc_plan_cap_for(size_t ndom) { return 2 * ndom + 4; }

/* Seed policy parameters (the original two thresholds). */
struct mc_seed_params {
	uint64_t loaded_kib;   /* unused at or below this: the domain is loaded */
	uint64_t free_kib;     /* unused at or above this: the domain wastes memory */
};

struct mc_policy_params {
	struct mc_seed_params seed;
};

/* A policy: decide() appends actions to plan (plan->n starts at 0).
 * Returns 0, or -ENOSPC if the plan is full. `state` is the policy's own
 * small state, state_size bytes zeroed before the first call. */
struct mc_policy {
	const char *name;
	bool reactive;        /* decide on every new sample, not only per interval */
	size_t state_size;
	int (*decide)(const struct mc_view *v, const struct mc_policy_params *p,
		      void *state, struct mc_plan *plan);
};

extern const struct mc_policy mc_policy_seed;

/* Look up a policy by name; NULL if unknown. */
const struct mc_policy *mc_policy_find(const char *name);

/* The seed policy as a plain function, for tests and benchmarks. */
int mc_policy_seed_decide(const struct mc_view *v, const struct mc_seed_params *p,
			  struct mc_plan *plan);

#endif
