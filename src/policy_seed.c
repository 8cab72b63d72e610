/* memcoord — the seed policy: the original coordinator's two thresholds.
 *
 * A pure function of the view and two thresholds (KiB): no libvirt, urcu,
 * clock, I/O, locks or allocation. It reproduces the original program's
 * decision (see SEED.md) with three deliberate differences:
 *
 *   - New balloon sizes are computed from the domain's current balloon
 *     (`actual_kib`). The original used the "available" tag, which is the
 *     guest's MemTotal: smaller than the balloon by the memory the guest
 *     kernel reserves for itself, so every step of the original also shrank
 *     the guest by that difference, and repeated steps walked guests down.
 *   - Domains without balloon statistics (no UNUSED tag, or flagged
 *     MC_VDOM_NO_STATS) are left out instead of being read as "0 unused",
 *     which the original would have taken for the most loaded guest.
 *   - Ties on unused are broken by the smallest UUID, so the decision does
 *     not depend on the order of the view.
 *
 * The policy does not clamp to a domain's floor or maximum, nor consider the
 * host reserve: the actuator does. Targets never underflow (a shrink larger
 * than the balloon gives 0, which the actuator raises to the floor). */
#include "memcoord/policy.h"

#include <errno.h>
#include <string.h>

#include "memcoord/hv.h"

static bool seed_eligible(const struct mc_vdom *d)
{
	/* Excluded domains and samples that failed the sanity checks are
	 * never candidates, as if absent. */
	return !(d->flags & (MC_VDOM_NO_STATS | MC_VDOM_EXCLUDED | MC_VDOM_UNTRUSTED)) &&
	       (d->present & (1u << MC_STAT_UNUSED)) != 0;
}

/* The first 4 UUID bytes: names live in the actuator's meta, so a reason
 * points at the other domain of a transfer by this short form. */
static uint32_t seed_short_uuid(const uint8_t uuid[MC_UUID_LEN])
{
	return (uint32_t)uuid[0] << 24 | (uint32_t)uuid[1] << 16 | (uint32_t)uuid[2] << 8 | uuid[3];
}

/* A figure for a reason (int64_t; the reason's text shows no more than
 * that). */
static int64_t kib(uint64_t x)
{
	return x > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)x;
}

static uint64_t seed_grow(uint64_t actual_kib, uint64_t by_kib)
{
	return actual_kib > UINT64_MAX - by_kib ? UINT64_MAX : actual_kib + by_kib;
}

static uint64_t seed_shrink(uint64_t actual_kib, uint64_t by_kib)
{
	return actual_kib < by_kib ? 0 : actual_kib - by_kib;
}


/* True if an action for dom is among plan->act[from, to). */
static bool seed_has_action(const struct mc_plan *plan, size_t from, size_t to,
			    uint32_t dom)
{
	for (size_t i = from; i < to; i++)
		if (plan->act[i].dom == dom)
			return true;
	return false;
}

int mc_policy_seed_decide(const struct mc_view *v, const struct mc_seed_params *p,
			  struct mc_plan *plan)
{
	const uint64_t loaded = p->loaded_kib, freet = p->free_kib;
	const size_t first = plan->n;
	const struct mc_vdom *d1 = NULL, *d2 = NULL;
	uint32_t i1 = 0, i2 = 0;
	int r = 0;

	/* Step 1: D1 = least unused, D2 = most unused; ties -> smallest UUID. */
	for (size_t i = 0; i < v->n; i++) {
		const struct mc_vdom *d = &v->dom[i];

		if (!seed_eligible(d))
			continue;
		if (!d1 || d->unused_kib < d1->unused_kib ||
		    (d->unused_kib == d1->unused_kib &&
		     memcmp(d->uuid, d1->uuid, MC_UUID_LEN) < 0)) {
			d1 = d;
			i1 = (uint32_t)i;
		}
		if (!d2 || d->unused_kib > d2->unused_kib ||
		    (d->unused_kib == d2->unused_kib &&
		     memcmp(d->uuid, d2->uuid, MC_UUID_LEN) < 0)) {
			d2 = d;
			i2 = (uint32_t)i;
		}
	}
	if (!d1)
		return 0;

	if (d1->unused_kib <= loaded) {
		/* Step 2: D1 is loaded. */
		if (d2 != d1 && d2->unused_kib >= freet) {
			r = mc_plan_push(plan, i1, seed_grow(d1->actual_kib, loaded),
				&(struct mc_reason){ .kind = MC_REASON_SEED_TAKE,
					.n = seed_short_uuid(d2->uuid),
					.v = { kib(d1->unused_kib), kib(loaded), kib(loaded),
					       kib(d2->unused_kib) } });
			if (r < 0)
				goto out;
			r = mc_plan_push(plan, i2, seed_shrink(d2->actual_kib, loaded),
				&(struct mc_reason){ .kind = MC_REASON_SEED_GIVE,
					.n = seed_short_uuid(d1->uuid),
					.v = { kib(d2->unused_kib), kib(freet), kib(loaded),
					       kib(d1->unused_kib) } });
		} else {
			r = mc_plan_push(plan, i1, seed_grow(d1->actual_kib, freet),
				&(struct mc_reason){ .kind = MC_REASON_SEED_HOST_GROW,
					.v = { kib(d1->unused_kib), kib(loaded), kib(freet),
					       kib(freet) } });
		}
	} else if (d2->unused_kib >= freet) {
		/* Step 3: nobody is loaded, D2 wastes memory. */
		r = mc_plan_push(plan, i2, seed_shrink(d2->actual_kib, loaded),
			&(struct mc_reason){ .kind = MC_REASON_SEED_HOST_GIVE,
				.v = { kib(d2->unused_kib), kib(freet), kib(loaded) } });
	}
	if (r < 0)
		goto out;

	/* Step 4: the host is short; reclaim from everyone who wastes memory.
	 * A domain acted on above keeps that single action: a reclaim would be
	 * the same target (same sample), and a grant must not be undone. At
	 * most two actions precede this loop (the ones checked), so the loop
	 * stays O(n). */
	if (v->host.has_free && v->host.free_kib < loaded) {
		const size_t before = plan->n;

		for (size_t i = 0; i < v->n; i++) {
			const struct mc_vdom *d = &v->dom[i];

			if (!seed_eligible(d) || d->unused_kib <= freet ||
			    seed_has_action(plan, first, before, (uint32_t)i))
				continue;
			r = mc_plan_push(plan, (uint32_t)i, seed_shrink(d->actual_kib, loaded),
				&(struct mc_reason){ .kind = MC_REASON_SEED_RECLAIM,
					.v = { kib(v->host.free_kib), kib(loaded),
					       kib(d->unused_kib), kib(freet), kib(loaded) } });
			if (r < 0)
				goto out;
		}
	}

out:
	return r;
}

static int seed_decide(const struct mc_view *v, const struct mc_policy_params *p,
		       void *scratch, struct mc_plan *plan)
{
	(void)scratch;
	return mc_policy_seed_decide(v, &p->seed, plan);
}

const struct mc_policy mc_policy_seed = {
	.name = "seed",
	.reactive = false,
	.scratch_size = NULL,
	.decide = seed_decide,
};
