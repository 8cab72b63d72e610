/* memcoord — the simulated host: a second backend behind the hypervisor
 * interface, with guests whose memory follows a simple but honest model and
 * whose workloads come from a scenario file.
 *
 * Guest memory model (KiB), per guest:
 *   kernel   fixed overhead of the guest kernel (default 5% of max, >= 48 MiB)
 *   rss      the workload's resident memory (anonymous)
 *   cache    page cache: grows toward a workload-given size while memory is
 *            free, and is the first thing dropped under pressure
 *   swap     anonymous memory pushed out when the balloon squeezes the guest
 * The balloon target is set by set_memory; `actual` moves toward it at the
 * guest's balloon rate (like a real balloon driver) and stops at the guest
 * kernel if asked to go below. MemTotal = actual - kernel / 4 (the part the
 * kernel reserves is not in it); MemFree = actual - kernel - rss_resident -
 * cache;
 * MemAvailable = MemFree + cache. When demand exceeds actual the guest drops
 * cache, then swaps (swap_in/swap_out/major_fault counters rise) up to its
 * swap size, and when it can swap no more its workload is OOM-killed
 * (recorded as an event).
 *
 * Time: the simulation runs on memcoord's clock (mc_now_ns); an accelerated
 * run speeds that clock up for the whole process (mc_clock_set_speed). */
#ifndef MEMCOORD_SIM_H
#define MEMCOORD_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "memcoord/hv.h"

/* Per-guest outcome of a run. */
struct mc_sim_guest_result {
	char name[MC_NAME_LEN];
	unsigned oom_kills;
	uint64_t swapped_kib;        /* total swapped out */
	int64_t below_low_ms;        /* time with MemAvailable below low_kib */
	uint64_t moved_kib;          /* total balloon movement (up + down) */
	uint64_t held_kib_s;         /* balloon size integrated over its run (KiB x s) */
	uint64_t final_actual_kib;
	uint64_t peak_actual_kib;
	bool workload_done;          /* the workload's schedule completed */
};

struct mc_sim_result {
	size_t nguests;
	struct mc_sim_guest_result *guests;   /* owned by the sim */
	uint64_t host_min_free_kib;           /* lowest host free memory seen */
	uint64_t host_total_kib;
	uint64_t budget_kib;                  /* scenario budget, 0 = none */
	int64_t duration_ms;                  /* simulated time covered */
	unsigned starts, stops;               /* lifecycle events produced */
};

/* Parse a scenario file and create the backend. The low watermark for the
 * "time below low" accounting is low_kib. On error returns <0 with a
 * message "FILE:LINE: ..." in err. */
int mc_hv_sim_create(const char *scenario_path, uint64_t low_kib,
		     const struct mc_hv_callbacks *cb, struct mc_hv **out,
		     char *err, size_t errlen);

/* The same from an open stream (a memory buffer: fmemopen); name stands for
 * the file in messages. */
int mc_hv_sim_create_stream(FILE *f, const char *name, uint64_t low_kib,
			    const struct mc_hv_callbacks *cb, struct mc_hv **out,
			    char *err, size_t errlen);

/* The scenario's own settings (valid after create). */
double mc_hv_sim_speed(struct mc_hv *hv);          /* clock speed-up, >= 1 */
int64_t mc_hv_sim_duration_ms(struct mc_hv *hv);   /* simulated length */
uint64_t mc_hv_sim_budget_kib(struct mc_hv *hv);   /* 0 = none */

/* Results so far (call after stop for the final ones). The pointer stays
 * valid until destroy. */
const struct mc_sim_result *mc_hv_sim_result(struct mc_hv *hv);

#endif
