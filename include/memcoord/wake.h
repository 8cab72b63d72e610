/* memcoord — which new samples wake the arbiter.
 *
 * A reactive policy decides when a sample calls for it, not on every
 * sample: on a settled host nearly every sample changes nothing (1,000 idle
 * domains published ~700 wake-ups a second, half the daemon's CPU). The
 * collector asks these predicates after each sample and wakes the arbiter
 * only when they say so; the interval's pass (every `interval`, 1 s by
 * default) still sees every domain, so nothing is missed — only what can
 * wait (a surplus the policy left alone, a guest that stopped moving)
 * waits up to one interval.
 *
 * A domain's sample wakes the arbiter when it
 *  - is its first (or the first since a lost connection), or its state,
 *    its having statistics, their being trusted or stale changed: the set
 *    of guests the policy decides on changed;
 *  - may need memory: headroom below `low` plus its predicted use over
 *    `horizon`, or pressure (swapping, major faults), with room to grow —
 *    the balance policy's own grow test;
 *  - has surplus (headroom above `high`) that just appeared or whose
 *    balloon moved since the previous sample (a shrink step landed: the
 *    next step may follow). A surplus the policy did not take (cooling
 *    down after a grow, at its floor) waits for the interval's pass.
 * The host's sample wakes it when it is the first, or when the host's free
 * memory is below the reserve (an emergency).
 *
 * Pure functions, called by the collectors with the running configuration's
 * balance parameters. */
#ifndef MEMCOORD_WAKE_H
#define MEMCOORD_WAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "memcoord/policy.h"
#include "memcoord/registry.h"

/* What the predicate remembers of a domain's previous sample; zeroed: none
 * (the next sample is a first). */
struct mc_wake_mark {
	bool seen;
	uint8_t state;        /* enum mc_dom_state */
	bool has_stats, trusted, stale, surplus;
};

/* Whether sample s may call for a decision now; updates *mark. */
bool mc_wake_domain(struct mc_wake_mark *mark, const struct mc_sample *s,
		    const struct mc_balance_params *p);

/* Whether a host sample may call for a decision now: the first one
 * (`first`), or free memory below the reserve. */
bool mc_wake_host(bool first, const struct mc_host_mem *m, const struct mc_balance_params *p);

#endif
