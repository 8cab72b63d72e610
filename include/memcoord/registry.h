/* memcoord — the domain registry: an RCU lock-free hash table keyed by UUID.
 *
 * One record (struct mc_domain) per active domain. Records are linked in a
 * cds_lfht; readers traverse it inside rcu_read_lock(). Each record points to
 * its latest immutable sample; collectors replace it with rcu_xchg_pointer and
 * free the old one with call_rcu. A removed record is freed with call_rcu
 * after its collector thread has been joined.
 *
 * The linked records are also kept in a dense array of pointers
 * (mc_registry_records), for walks that visit every record: the snapshot
 * reads it as an array and can prefetch records and samples ahead, where the
 * hash table is a chain of dependent cache misses.
 *
 * Every thread using these functions must be registered with liburcu
 * (rcu_register_thread). */
#ifndef MEMCOORD_REGISTRY_H
#define MEMCOORD_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URCU_API_MAP 1
#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>

#include "memcoord/config.h"
#include "memcoord/hv.h"
#include "memcoord/signals.h"

struct mc_collector;

/* One collection of a domain's state; immutable once published. */
struct mc_sample {
	uint64_t seq;                /* per-domain, 1 for the first sample */
	int64_t taken_ns;            /* CLOCK_MONOTONIC when collected */
	struct mc_stats stats;       /* every tag, with its present bit */
	enum mc_dom_state state;
	uint64_t max_kib;            /* domain maximum memory */
	uint64_t cur_kib;            /* current balloon target (from info) */
	uint64_t min_guarantee_kib;  /* 0 when unset */
	bool has_stats;              /* false: the guest reports no balloon stats */
	struct mc_signals sig;       /* checks and rates (sig.bad != 0: untrusted) */
	uint32_t bad_total;          /* samples of this domain rejected so far */
	unsigned long epoch;         /* registry epoch when collected */
	struct rcu_head rcu;
};

/* A domain's per-domain configuration, resolved: its [domain:] section
 * over the defaults (mc_dcfg_resolve, arbiter.h). */
struct mc_dcfg {
	uint32_t weight;             /* >= 1 */
	bool excluded;
	bool has_floor, has_max;
	uint64_t floor_kib, max_kib; /* configured, when has_floor/has_max */
};

/* The last balloon change memcoord made to a domain (or, in a dry run,
 * would have made), for status reports; immutable once published. */
struct mc_last_action {
	int64_t at_ns;               /* memcoord's clock */
	uint64_t old_kib, new_kib;
	bool dry_run;
	char reason[MC_REASON_LEN];
	struct rcu_head rcu;
};

/* Records are allocated on a cache line (MC_DOMAIN_ALIGN) and start with
 * what every snapshot reads, so that a record costs the snapshot two cache
 * lines (MC_DOMAIN_HOT_END) when its name is short; the rest is read by
 * status reports and the threads that add and remove. */
struct mc_domain {
	/* First: at the end of the table cds_lfht_for_each_entry takes the
	 * container of a NULL node, which is NULL only at offset 0. */
	struct cds_lfht_node node;
	struct mc_sample *sample;    /* RCU pointer, NULL until the first sample */
	uint8_t uuid[MC_UUID_LEN];
	/* Written by the actuator (arbiter thread), read by the snapshot. */
	int64_t last_set_ns;         /* last balloon change, 0 = never */
	uint64_t last_target_kib;    /* its target */
	uint64_t set_last_update;    /* the guest's last_update at that change */
	int64_t last_grow_ns;        /* last change that grew the balloon */
	/* Per-domain configuration, resolved by the snapshot (arbiter thread)
	 * whenever the configuration generation changes; that thread only. */
	uint64_t dcfg_gen;           /* 0: not resolved yet */
	struct mc_dcfg dcfg;
	uint8_t name_len;            /* strlen(name): the snapshot copies that */
	char name[MC_NAME_LEN];      /* set once by mc_domain_new */

	uint64_t dry_note;           /* last "would set" logged at info (actuator) */
	/* Also written by the actuator, for status and metrics: an RCU
	 * pointer (NULL: no change yet) and counters (uatomic) of the changes
	 * applied (dry runs not counted) and the KiB they moved. */
	struct mc_last_action *last_action;
	unsigned long changes;
	uint64_t grown_kib, shrunk_kib;
	struct mc_collector *collector; /* owned by the thread that adds/removes */
	size_t slot;                 /* index in the registry's dense array while
				      * linked (under the registry's lock) */
	struct rcu_head rcu;
};

#define MC_DOMAIN_ALIGN 64
/* The end of the record's first two cache lines: what a snapshot reads of
 * a record whose name ends before it (23 bytes). */
#define MC_DOMAIN_HOT_END ((size_t)2 * MC_DOMAIN_ALIGN)
_Static_assert(offsetof(struct mc_domain, name) + 16 < MC_DOMAIN_HOT_END,
	       "the snapshot's fields and a short name fit in two cache lines");
_Static_assert(MC_NAME_LEN <= 256 && MC_NAME_LEN % 8 == 0,
	       "name_len holds a name's length; the snapshot copies names by words");

/* The dense array of linked records. Slots [0, n) have been filled in the
 * order records were added; a removed record's slot is NULL until the
 * array is rebuilt (a new array, holes squeezed out, order kept, published
 * with rcu_assign_pointer; the old one freed after a grace period). Writers
 * (under the registry's lock) only append to the current array or clear a
 * slot of it, so a reader sees each record linked during its whole read
 * section exactly once, and never a record twice. */
struct mc_reg_dense {
	size_t n;                      /* slots filled (uatomic; set after the slot) */
	size_t cap;
	struct rcu_head rcu;
	struct mc_domain *rec[];       /* NULL: removed */
};

/* The host's latest memory figures, published like a domain sample. */
struct mc_host_sample {
	uint64_t seq;
	int64_t taken_ns;
	struct mc_host_mem mem;
	struct rcu_head rcu;
};

struct mc_registry {
	struct cds_lfht *ht;
	struct mc_reg_dense *dense;    /* RCU pointer, NULL until the first add */
	size_t dense_live;             /* non-NULL slots (under lock) */
	pthread_mutex_t lock;          /* serializes add and del: the hash table
					* and the dense array change together */
	struct mc_host_sample *host;   /* RCU pointer, NULL until first sample */
	struct mc_config *cfg;         /* RCU pointer: the running configuration
					* (owned and replaced by the daemon) */
	unsigned long count;           /* records linked (uatomic) */
	unsigned long epoch;           /* uatomic: bumped when the hypervisor
					* connection is lost; samples of an
					* older epoch are never decided on */
	unsigned long listings;        /* uatomic: full domain listings the
					* registry was made to match; until
					* the first, an empty table says
					* nothing about the host */
};

int mc_registry_init(struct mc_registry *r);
/* The table must be empty and rcu_barrier() done before. */
void mc_registry_destroy(struct mc_registry *r);

/* Allocate a record (not linked). Returns NULL on ENOMEM. */
struct mc_domain *mc_domain_new(const uint8_t uuid[MC_UUID_LEN], const char *name);
/* Free a record that was never linked or whose grace period has passed. */
void mc_domain_free(struct mc_domain *d);
/* Free a record after a grace period (it and its last sample). The record
 * must be unlinked and its collector joined. */
void mc_domain_free_rcu(struct mc_domain *d);

/* Caller holds the RCU read lock; the result is valid until it unlocks. */
struct mc_domain *mc_registry_lookup(struct mc_registry *r,
				     const uint8_t uuid[MC_UUID_LEN]);
/* Link d unless a record with its UUID exists: 0, -EEXIST, or -ENOMEM
 * (the dense array could not grow; d is not linked). Takes the RCU read
 * lock itself. A record that was unlinked may be linked again only after a
 * grace period (as with cds_lfht_del). */
int mc_registry_add(struct mc_registry *r, struct mc_domain *d);
/* Unlink d: 0, or -ENOENT if it was already unlinked. Takes the read lock. */
int mc_registry_del(struct mc_registry *r, struct mc_domain *d);
unsigned long mc_registry_count(struct mc_registry *r);

/* The dense array of linked records: *n slots to read, each a record or
 * NULL (removed). Caller holds the RCU read lock; the array and the records
 * in it stay valid until it unlocks. Records added after the call are not
 * in the first *n slots; records removed after it may still be. */
static inline struct mc_domain *const *mc_registry_records(struct mc_registry *r, size_t *n)
{
	struct mc_reg_dense *a = rcu_dereference(r->dense);

	if (!a) {
		*n = 0;
		return NULL;
	}
	*n = uatomic_read(&a->n);
	/* Pairs with the writer's barrier between filling a slot and
	 * publishing n. */
	cmm_smp_rmb();
	return a->rec;
}

/* Publish a new sample for d and free the previous one after a grace period
 * (call_rcu: the calling thread must be RCU-registered). Only d's collector
 * publishes, so there is a single writer per record. */
void mc_domain_publish(struct mc_domain *d, struct mc_sample *s);
/* Publish d's last action (the actuator, on the arbiter thread: one
 * writer) and free the previous one after a grace period. */
void mc_domain_publish_action(struct mc_domain *d, struct mc_last_action *a);
void mc_registry_publish_host(struct mc_registry *r, struct mc_host_sample *s);

/* Hash of a UUID for the table. */
unsigned long mc_uuid_hash(const uint8_t uuid[MC_UUID_LEN]);

#endif
