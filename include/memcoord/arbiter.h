/* memcoord — the arbiter thread.
 *
 * It wakes on its interval and when collectors publish samples that may
 * call for a decision (wake.h; coalesced: many publishes, one wake-up; a
 * reactive policy decides on them, spaced by ten times the last pass's CPU
 * time — 1 to 20 ms — so that the arbiter takes about a tenth of a core at
 * most), copies the latest consistent view of all domains and the host out
 * of the registry inside one short RCU read
 * section, calls the (pure) policy, and hands the plan to the actuator. */
#ifndef MEMCOORD_ARBITER_H
#define MEMCOORD_ARBITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memcoord/actuator.h"
#include "memcoord/policy.h"
#include "memcoord/registry.h"
#include "memcoord/trace.h"

/* The arbiter reads the running configuration (policy, parameters,
 * interval, dry run, host reserve) from reg->cfg at every pass, so a reload
 * takes effect at the next decision. */
struct mc_arbiter_cfg {
	bool once;              /* one decision (after first samples), then exit */
	int once_wait_ms;       /* --once: longest wait for first samples */
	void (*done)(void *opaque);  /* --once: called when the decision ran */
	void *done_opaque;
	struct mc_trace *trace;      /* --trace: written each pass; may be NULL */
};

/* What a pass needs of the configuration, copied with the view. */
struct mc_snap_cfg {
	const struct mc_policy *policy;
	struct mc_policy_params params;
	int interval_ms;
	bool dry_run;
};

/* A reusable snapshot buffer. */
struct mc_snapshot {
	struct mc_view view;
	struct mc_vmeta *meta;
	char *names;            /* meta's names, end to end: cap * MC_NAME_LEN
				 * bytes, of which a pass writes only what the
				 * names take (most of the space is never
				 * touched) */
	size_t cap;
	struct mc_snap_cfg cfg;
};

void mc_snapshot_init(struct mc_snapshot *s);
void mc_snapshot_fini(struct mc_snapshot *s);
/* Copy the registry's domains, host and configuration into s inside one
 * RCU read section, the domains in the order they were added (the
 * registry's dense array). Domains without a sample yet, or with one of an
 * older epoch, are left out. reg->cfg must
 * be set. Only one thread may build snapshots of a registry (it caches the
 * per-domain configuration in the records). The caller's thread must be
 * RCU-registered. Returns 0, -ENOMEM, or -EINVAL without a configuration. */
int mc_snapshot_build(struct mc_snapshot *s, struct mc_registry *reg, int64_t now_ns);

/* A domain's per-domain configuration in cfg (read only: any thread, with
 * cfg held, e.g. under the RCU read lock). */
void mc_dcfg_resolve(struct mc_dcfg *out, const struct mc_config *cfg,
		     const uint8_t uuid[MC_UUID_LEN], const char *name);
/* The view of a domain from its record and sample sm (caller holds the RCU
 * read lock), exactly as the snapshot makes it: status reports use it to
 * apply the policy's rules to the same figures. */
void mc_vdom_fill(struct mc_vdom *v, const struct mc_domain *d,
		  const struct mc_sample *sm, const struct mc_dcfg *dc,
		  uint64_t default_floor_kib);

struct mc_arbiter;

/* The arbiter thread wakes at least this often (memcoord's clock), whatever
 * its interval, so that its heartbeat shows it alive. */
#define MC_ARBITER_BEAT_NS 1000000000LL

struct mc_arbiter_stats {
	unsigned long passes;     /* policy decisions made */
	unsigned long wakeups;    /* wake-ups from samples (coalesced) */
	unsigned long heartbeats; /* every wake-up, at least one a second
				   * (MC_ARBITER_BEAT_NS): proof of life */
	int64_t last_pass_ns;     /* snapshot + policy time of the last pass */
	struct mc_hist pass_ns;   /* snapshot + policy time of every pass */
	unsigned long actions;    /* actions planned */
	unsigned long applied;    /* changes applied (or logged in a dry run) */
	struct mc_hist react_ns;  /* sample collected -> balloon call, per change */
};

int mc_arbiter_start(struct mc_arbiter **out, struct mc_registry *reg,
		     struct mc_actuator *act, const struct mc_arbiter_cfg *cfg);
/* New data arrived; cheap and callable from any thread. */
void mc_arbiter_kick(struct mc_arbiter *a);
/* True once a --once arbiter has finished its decision. */
bool mc_arbiter_done(struct mc_arbiter *a);
/* 0 if the --once decision ran, -ETIMEDOUT if no sample ever came. */
int mc_arbiter_result(struct mc_arbiter *a);
void mc_arbiter_get_stats(struct mc_arbiter *a, struct mc_arbiter_stats *out);
/* Stop and join the thread; no more decisions. The arbiter stays valid
 * (kicks are harmless, its figures readable) until mc_arbiter_stop, so
 * threads that kick it may still be running. Accepts NULL; idempotent. */
void mc_arbiter_halt(struct mc_arbiter *a);
/* Halt if not yet, free everything. Accepts NULL. */
void mc_arbiter_stop(struct mc_arbiter *a);

#endif
