/* memcoord — the decision trace (--trace FILE.csv), for both backends.
 *
 * One row per domain per decision, plus one row for the host:
 *   time_s,domain,actual_mib,usable_mib,unused_mib,target_mib,action,reason
 * time_s is seconds since the trace began on memcoord's clock (simulated
 * time in an accelerated run); the host row is named "_host" and carries
 * the host's free memory in usable_mib. action is grow, shrink, none,
 * skipped or failed. Written by the arbiter thread only. */
#ifndef MEMCOORD_TRACE_H
#define MEMCOORD_TRACE_H

#include <stdint.h>

#include "memcoord/actuator.h"
#include "memcoord/policy.h"

struct mc_trace;

/* Create (truncate) path and write the header: 0 or -errno. */
int mc_trace_open(struct mc_trace **out, const char *path);
/* res may be NULL when the plan was not applied. */
void mc_trace_pass(struct mc_trace *t, int64_t now_ns, const struct mc_view *v,
		   const struct mc_vmeta *meta, const struct mc_plan *p,
		   const struct mc_applied *res);
/* Flush and close; accepts NULL. */
void mc_trace_close(struct mc_trace *t);

#endif
