/* memcoord — the status table: what the daemon knows about every domain
 * and the host, copied out of the registry for the control socket
 * (`memcoord status`) and the metrics endpoint.
 *
 * Building it only reads: one RCU read section over the registry, the
 * running configuration and the arbiter's figures. It never writes daemon
 * state, so any RCU-registered thread may build one at any time. Memory is
 * KiB; times are memcoord's clock (sped up in a simulation) unless named
 * real. */
#ifndef MEMCOORD_STATUS_H
#define MEMCOORD_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "memcoord/arbiter.h"
#include "memcoord/policy.h"
#include "memcoord/registry.h"

/* A domain's state, most important first: a domain in several states
 * shows the first. */
enum mc_status_state {
	MC_ST_STARTING = 0,  /* no sample since it started (or since a reconnect) */
	MC_ST_PAUSED,        /* not running: never acted on */
	MC_ST_EXCLUDED,      /* excluded by configuration */
	MC_ST_NO_STATS,      /* the guest reports no balloon statistics */
	MC_ST_UNTRUSTED,     /* its latest statistics failed the sanity checks */
	MC_ST_STALE,         /* its statistics stopped moving (stale_samples) */
	MC_ST_STUCK,         /* its balloon has not followed a change for stuck_ms */
	MC_ST_MOVING,        /* its balloon moves toward a size memcoord did not set */
	MC_ST_OK,
	MC_ST_COUNT
};

/* "ok", "no stats", ...: the words of the table. */
const char *mc_status_state_name(enum mc_status_state s);
/* "ok", "no_stats", ...: identifiers (JSON, metrics labels). */
const char *mc_status_state_id(enum mc_status_state s);

struct mc_status_dom {
	char name[MC_NAME_LEN];
	char uuid[MC_UUID_STR_LEN];
	enum mc_status_state state;
	bool has_sample;           /* the figures below come from a sample */
	bool has_headroom;         /* the guest reports usable/unused memory */
	uint64_t actual_kib;       /* balloon now */
	uint64_t max_kib;          /* the most it may hold (domain or [domain:] max) */
	uint64_t floor_kib;        /* the least it is shrunk to */
	uint64_t headroom_kib;     /* usable (MemAvailable), see signals.h */
	uint64_t last_target_kib;  /* balloon target of memcoord's last change, 0: none */
	uint32_t weight;
	uint32_t bad_samples;      /* samples rejected by the sanity checks */
	unsigned long changes;     /* balloon changes applied */
	uint64_t grown_kib, shrunk_kib;  /* memory those changes moved */
	bool has_action;           /* last change (or dry-run "would set") */
	struct {
		int64_t age_ns;    /* how long ago (memcoord's clock) */
		uint64_t old_kib, new_kib;
		bool dry_run;
		char reason[MC_REASON_LEN];
	} last;
};

struct mc_status {
	int64_t now_ns;
	int64_t uptime_ns;         /* since the daemon started */
	double clock_speed;        /* 1, or a simulation's speed */
	char policy[32];
	bool dry_run;
	uint64_t target_headroom_kib, low_kib, high_kib;  /* balance watermarks */
	/* The host. */
	bool host_known;
	uint64_t host_total_kib, host_free_kib;
	uint64_t host_reserve_kib;
	uint64_t budget_kib;       /* 0: none */
	uint64_t held_kib;         /* sum of the balloons shown */
	/* The arbiter (real time). */
	struct mc_arbiter_stats arb;
	int64_t pass_p50_ns, pass_p99_ns;
	/* The domains, sorted by name then UUID. */
	size_t n, cap;
	struct mc_status_dom *dom;
};

void mc_status_init(struct mc_status *st);
void mc_status_fini(struct mc_status *st);

/* Fill st from the registry (its running configuration must be
 * published), the arbiter's figures and the daemon's start time, at
 * now_ns. The caller's thread must be RCU-registered; it must not hold the
 * read lock. Returns 0, -ENOMEM, or -EAGAIN when no configuration is
 * published yet. */
int mc_status_build(struct mc_status *st, struct mc_registry *reg,
		    const struct mc_arbiter_stats *arb, int64_t started_ns,
		    int64_t now_ns);

/* The table for people: a header with the daemon and the host, then one
 * aligned row per domain, MiB. */
void mc_status_print_text(const struct mc_status *st, FILE *out);
/* The same as a JSON document (json-c): a malloc'd string, NULL on
 * ENOMEM. Fields are documented in docs/operations.md. */
char *mc_status_to_json(const struct mc_status *st);

#endif
