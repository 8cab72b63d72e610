/* memcoord — the hypervisor interface.
 *
 * A small ops table so that everything above it (registry, collectors,
 * arbiter, policy, actuator) is backend-agnostic. Backends: libvirt
 * (hv_libvirt.c) and the simulated host (hv_sim.c, memcoord/sim.h).
 *
 * Threading contract: every op except create/destroy may be called from any
 * thread concurrently. Lifecycle and connection events are delivered through
 * the mc_hv_callbacks on a backend-owned thread; callbacks must not block
 * (post to a queue and return).
 *
 * Errors: ops return 0 or a negative errno:
 *   -ENOENT    the domain does not exist (any more)
 *   -ENOTCONN  no connection to the hypervisor right now (reconnect pending)
 *   -ENOTSUP   the backend or the domain does not support the operation
 *   -EIO       any other hypervisor error; mc_hv_last_error() has the text
 */
#ifndef MEMCOORD_HV_H
#define MEMCOORD_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memcoord/util.h"

/* Balloon statistics tags, memcoord's own numbering; backends map their tags
 * onto these by name/tag, never by position in a returned array. Memory
 * tags are KiB; SWAP_IN/SWAP_OUT are KiB counters; faults are counters;
 * LAST_UPDATE is the guest's timestamp (seconds) of its last stats refresh. */
enum mc_stat {
	MC_STAT_SWAP_IN = 0,
	MC_STAT_SWAP_OUT,
	MC_STAT_MAJOR_FAULT,
	MC_STAT_MINOR_FAULT,
	MC_STAT_UNUSED,       /* guest MemFree */
	MC_STAT_AVAILABLE,    /* guest MemTotal (NOT free memory) */
	MC_STAT_ACTUAL,       /* current balloon size */
	MC_STAT_RSS,          /* host-side resident set of the guest process */
	MC_STAT_USABLE,       /* guest MemAvailable */
	MC_STAT_LAST_UPDATE,
	MC_STAT_DISK_CACHES,
	MC_STAT_HUGETLB_PGALLOC,
	MC_STAT_HUGETLB_PGFAIL,
	MC_STAT_NR
};

/* Human-readable tag name ("unused", "usable", ...). */
const char *mc_stat_name(enum mc_stat tag);

struct mc_stats {
	uint32_t present;              /* bit (1u << tag) set when reported */
	uint64_t val[MC_STAT_NR];      /* 0 where not present */
};

static inline bool mc_stats_has(const struct mc_stats *s, enum mc_stat t)
{
	return (s->present & (1u << t)) != 0;
}

enum mc_dom_state {
	MC_DOM_RUNNING = 0,
	MC_DOM_PAUSED,      /* paused or suspended: the actuator skips it */
	MC_DOM_OTHER,       /* shutting down, crashed, ...: not acted on */
};

/* What a domain looks like from the hypervisor's side. */
struct mc_dom_info {
	uint8_t uuid[MC_UUID_LEN];
	char name[MC_NAME_LEN];
	enum mc_dom_state state;
	uint64_t max_kib;            /* maximum memory (boot memory) */
	uint64_t cur_kib;            /* current balloon target */
	uint64_t min_guarantee_kib;  /* <memtune><min_guarantee>, 0 when unset */
	bool has_balloon;            /* a balloon device exists */
};

struct mc_host_mem {
	uint64_t total_kib;
	uint64_t free_kib;     /* free memory the host can hand out */
	bool has_total;
};

enum mc_hv_event {
	MC_HV_EV_STARTED,      /* domain became active (uuid, name valid) */
	MC_HV_EV_STOPPED,      /* stopped, crashed, or undefined */
	MC_HV_EV_CONNECTED,    /* (re)connected: resynchronise from a listing */
	MC_HV_EV_DISCONNECTED, /* connection lost; reconnect in progress */
	MC_HV_EV_END,          /* simulated host: the scenario is over */
};

struct mc_hv_callbacks {
	void (*event)(void *opaque, enum mc_hv_event ev,
		      const uint8_t uuid[MC_UUID_LEN], const char *name);
	void *opaque;
};

struct mc_hv;      /* a backend instance */
struct mc_hv_dom;  /* a per-domain handle, owned by one thread at a time */

struct mc_hv_ops {
	const char *name;
	/* Connect. On failure returns <0 with mc_hv_last_error() set; when
	 * `retry` is true the backend keeps reconnecting in the background
	 * and delivers MC_HV_EV_CONNECTED when it succeeds. */
	int (*start)(struct mc_hv *hv, bool retry);
	/* Stop the event thread and close every connection. */
	void (*stop)(struct mc_hv *hv);
	void (*destroy)(struct mc_hv *hv);

	/* All active domains. *out is malloc'd; caller frees. */
	int (*list)(struct mc_hv *hv, struct mc_dom_info **out, size_t *n);

	/* Handle for one domain, resolved by UUID. A handle survives
	 * reconnects: the backend re-resolves it on the new connection and
	 * never uses objects from an old connection again. */
	int (*dom_open)(struct mc_hv *hv, const uint8_t uuid[MC_UUID_LEN],
			struct mc_hv_dom **out);
	void (*dom_close)(struct mc_hv_dom *d);
	int (*dom_info)(struct mc_hv_dom *d, struct mc_dom_info *out);
	int (*dom_stats)(struct mc_hv_dom *d, struct mc_stats *out);
	int (*dom_set_period)(struct mc_hv_dom *d, int period_s);

	/* Set the live balloon of the domain with this UUID (no handle: the
	 * actuator runs on the arbiter thread and owns no handles). */
	int (*set_memory)(struct mc_hv *hv, const uint8_t uuid[MC_UUID_LEN],
			  uint64_t kib);

	int (*host_mem)(struct mc_hv *hv, struct mc_host_mem *out);
};

struct mc_hv {
	const struct mc_hv_ops *ops;
	struct mc_hv_callbacks cb;
	void *priv;
};

/* libvirt backend: uri NULL means LIBVIRT_DEFAULT_URI, else qemu:///system. */
int mc_hv_libvirt_create(const char *uri, const struct mc_hv_callbacks *cb,
			 struct mc_hv **out);
/* Number of connections (1..16, default 4) the domain handles are spread
 * over; 1 puts them on the primary connection, which otherwise only carries
 * events, listings, host statistics and set_memory. Before start only.
 * test:///FILE URIs (private state per connection) always use 1. */
int mc_hv_libvirt_set_connections(struct mc_hv *hv, unsigned int n);

/* Thread-local text of the last backend error (never NULL). */
const char *mc_hv_last_error(void);
void mc_hv_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Convenience wrappers. */
static inline int mc_hv_start(struct mc_hv *hv, bool retry) { return hv->ops->start(hv, retry); }
static inline void mc_hv_stop(struct mc_hv *hv) { if (hv) hv->ops->stop(hv); }
static inline void mc_hv_destroy(struct mc_hv *hv) { if (hv) hv->ops->destroy(hv); }

#endif
