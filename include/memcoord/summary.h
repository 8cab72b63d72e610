/* memcoord — the end-of-run summary of a simulated run, and the side-by-side
 * comparison of two policies on the same scenario. */
#ifndef MEMCOORD_SUMMARY_H
#define MEMCOORD_SUMMARY_H

#include <stdio.h>

#include "memcoord/arbiter.h"
#include "memcoord/sim.h"

/* A run's figures, copied out of the daemon before it is destroyed. */
struct mc_run {
	char policy[32];
	struct mc_sim_result sim;          /* guests owned by the run */
	struct mc_arbiter_stats arb;
};

/* Copy the results of a finished run (sim and arbiter): 0 or -ENOMEM. */
int mc_run_capture(struct mc_run *r, const char *policy, const struct mc_sim_result *sim,
		   const struct mc_arbiter_stats *arb);
void mc_run_free(struct mc_run *r);

/* Totals over a run's guests. */
struct mc_run_totals {
	unsigned oom_kills;
	uint64_t swapped_kib;
	int64_t below_low_ms;
	uint64_t moved_kib;
	uint64_t final_actual_kib;     /* sum of final balloons */
	uint64_t held_kib_s;           /* balloons integrated over time */
	unsigned done, guests;
};
void mc_run_totals(const struct mc_run *r, struct mc_run_totals *t);

void mc_summary_print(FILE *out, const struct mc_run *r);
void mc_summary_compare(FILE *out, const struct mc_run *a, const struct mc_run *b);

#endif
