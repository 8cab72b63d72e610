/* memcoord — small helpers shared by all modules: clocks, units, UUIDs. */
#ifndef MEMCOORD_UTIL_H
#define MEMCOORD_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MC_UUID_LEN 16        /* raw UUID bytes, as libvirt's VIR_UUID_BUFLEN */
#define MC_UUID_STR_LEN 37    /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */
#define MC_NAME_LEN 128       /* domain names longer than this are truncated */

#define MC_KIB_PER_MIB 1024ULL
#define MC_NS_PER_MS 1000000LL
#define MC_NS_PER_S 1000000000LL

/* memcoord's clock: CLOCK_MONOTONIC in nanoseconds, or, after
 * mc_clock_set_speed(k), a clock running k times faster (an accelerated
 * simulation: every period, interval and timeout in the daemon shrinks by
 * k in real time). */
int64_t mc_now_ns(void);
/* CLOCK_MONOTONIC, never sped up: for measuring memcoord's own costs. */
int64_t mc_real_now_ns(void);
/* Set once, before any thread starts; k >= 1. */
void mc_clock_set_speed(double k);
double mc_clock_speed(void);

/* Absolute CLOCK_MONOTONIC (real) timespec for a deadline on memcoord's
 * clock, for pthread_cond_timedwait on a condvar created with
 * mc_cond_init_monotonic. mc_deadline_ts: now + delta_ns. */
struct timespec mc_deadline_ts(int64_t delta_ns);
struct timespec mc_ns_to_ts(int64_t ns);

/* Initialise a condition variable that waits on CLOCK_MONOTONIC. */
int mc_cond_init_monotonic(pthread_cond_t *cond);

/* Moves the process's futexes to the kernel's global hash table (Linux >=
 * 6.16 gives a process a private one sized by CPUs, not threads: 16 slots
 * on 2 CPUs, ~600 waiters a slot with 10,000 collectors, scanned by every
 * futex wake). 0, or -errno (-EINVAL on kernels without it: nothing to do). */
int mc_futex_hash_global(void);

void mc_uuid_format(const uint8_t uuid[MC_UUID_LEN], char out[MC_UUID_STR_LEN]);
/* Accepts the 36-character form with dashes; returns 0 or -EINVAL. */
int mc_uuid_parse(const char *s, uint8_t uuid[MC_UUID_LEN]);

/* Copies at most dstlen-1 bytes and always terminates. */
void mc_strlcpy(char *dst, const char *src, size_t dstlen);

/* Parse an unsigned decimal integer that must consume the whole string.
 * Returns 0, -EINVAL (not a number, sign, trailing junk) or -ERANGE. */
int mc_parse_u64(const char *s, uint64_t *out);

/* KiB as MiB for messages: "512", "100.5" (one decimal unless whole).
 * Integer arithmetic only (policies use it too). Returns buf. */
#define MC_MIB_STR_LEN 24
const char *mc_fmt_mib(char buf[MC_MIB_STR_LEN], uint64_t kib);

static inline uint64_t mc_mib_to_kib(uint64_t mib) { return mib * MC_KIB_PER_MIB; }
static inline uint64_t mc_kib_to_mib(uint64_t kib) { return kib / MC_KIB_PER_MIB; }


/* A latency histogram with logarithmic buckets (8 per doubling, about 9%
 * resolution) from 1 ns to about 18 minutes: constant memory however long
 * the daemon runs. Not thread-safe: one writer. */
#define MC_HIST_BUCKETS 320
struct mc_hist {
	uint64_t count;
	int64_t max_ns;
	int64_t sum_ns;               /* saturates at INT64_MAX (292 years) */
	uint64_t bucket[MC_HIST_BUCKETS];
};
void mc_hist_add(struct mc_hist *h, int64_t ns);
/* The q-quantile (0..1) in ns, the upper edge of its bucket; 0 if empty. */
int64_t mc_hist_quantile(const struct mc_hist *h, double q);
/* How many values were at most ns, counting whole buckets only (those
 * whose upper edge is <= ns): exact to a bucket, never an overcount. */
uint64_t mc_hist_count_le(const struct mc_hist *h, int64_t ns);

/* printf into err (errlen bytes, always terminated); nothing when err is
 * NULL or errlen 0. For parsers that report one message. */
void mc_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
