/* memcoord — the balance policy: pressure-aware balancing with floors,
 * shares, a host reserve and an optional budget.
 *
 * A pure function of the view and its parameters (KiB, ms): no libvirt,
 * urcu, clock, I/O, locks or allocation; working memory is the caller's
 * scratch. What it must remember between decisions (when a guest last grew,
 * the target it was last given) the actuator stamps into the registry and
 * the view carries back in.
 *
 * One decision:
 *  1. Classify each eligible guest (running, statistics trusted, not
 *     excluded, not stale, balloon not stuck):
 *     - grower: headroom below `low`, or under pressure (swapping, major
 *       faults). It needs enough to get back to `target` headroom plus what
 *       it is predicted to consume over `horizon`.
 *     - donor: headroom above `high`, not under pressure, not grown within
 *       `cooldown`. It gives a bounded step toward `target` headroom.
 *  2. Supply for growers: the donors' steps, plus the host's free memory
 *     above its reserve, limited by the budget (sum of all balloons).
 *  3. Contention (demand above supply): reclaim more from the surplus of
 *     guests above `target`, in proportion to their surplus; if guests are
 *     below `low`, others give what they hold between `target` and `low`
 *     (rebalance, by inverse weight); then divide what there is among
 *     growers by weight (weighted max-min fairness), none above its
 *     weighted share of the pool.
 *  4. Emergency (host below its reserve, or balloons above the budget):
 *     no grants; reclaim surplus proportionally, then squeeze guests below
 *     their target headroom in inverse proportion to their weight, never
 *     below their floors.
 * No guest is both grown and shrunk in one plan; no target leaves
 * [floor, max]. */
#include "memcoord/policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcoord/hv.h"

/* A balloon within this distance of its last target has reached it. */
#define BAL_STUCK_TOLERANCE_KIB (8 * 1024)
/* Changes smaller than this are not worth a balloon operation. */
#define BAL_MIN_SHRINK_KIB (4 * 1024)
#define BAL_MIN_GROW_KIB 1024
/* Grows in a row that the guest's headroom did not follow before it is
 * granted no more (see signals.h). */
#define BAL_UNABSORBED_MAX 3
/* Squeeze shares are cap / weight, scaled to keep integer precision. */
#define BAL_WEIGHT_SCALE 1000

enum bal_role { ROLE_NONE = 0, ROLE_GROW, ROLE_HOLD };

enum bal_why {
	WHY_LOW = 1,       /* headroom below low */
	WHY_PRESSURE,      /* swapping or faulting */
	WHY_SURPLUS,       /* headroom above high: gradual step */
	WHY_PREDICT,       /* headroom will fall below low within the horizon */
};

/* Per view domain working state, in the caller's scratch. */
struct bal_dom {
	uint8_t role;
	uint8_t why;
	bool eligible;
	bool can_give;         /* may be shrunk (not growing, cooling, stuck) */
	uint32_t weight;
	uint64_t need;         /* grower: KiB wanted */
	uint64_t grant;        /* grower: KiB granted */
	uint64_t step;         /* donor: gradual shrink this decision */
	uint64_t extra_cap;    /* surplus above target beyond the step */
	uint64_t extra;        /* taken from extra_cap under contention */
	uint64_t comfort_cap;  /* below target, down to low headroom */
	uint64_t squeeze_cap;  /* below target, above floor and used memory */
	uint64_t squeeze;      /* taken from comfort_cap (rebalance) or
				* squeeze_cap (emergency) */
};

size_t mc_balance_scratch_size(size_t ndom)
{
	/* Per domain state plus an index array for the fair-share sort. */
	return ndom * (sizeof(struct bal_dom) + sizeof(uint32_t)) + 16;
}

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t sub_sat(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }
static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
static int64_t i64_sat(uint64_t a) { return a > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)a; }

/* MiB with one decimal for reasons ("-12.5", "256"). Digits by hand: a
 * contended pass formats thousands of these, and snprintf dominated. */
static const char *mib(char buf[24], int64_t kib)
{
	int64_t tenths = (kib * 10 + (kib >= 0 ? 512 : -512)) / 1024;
	uint64_t t = (uint64_t)(tenths < 0 ? -tenths : tenths);
	char tmp[24];
	int n = 0, o = 0;

	if (t % 10)
		tmp[n++] = (char)('0' + t % 10), tmp[n++] = '.';
	t /= 10;
	do {
		tmp[n++] = (char)('0' + t % 10);
		t /= 10;
	} while (t);
	if (tenths < 0)
		buf[o++] = '-';
	while (n)
		buf[o++] = tmp[--n];
	buf[o] = '\0';
	return buf;
}


static bool settling(const struct mc_vdom *d)
{
	return mc_vdom_settling(d);
}

/* The balloon a domain holds for budget purposes: a change not yet seen in
 * a sample counts at its target. */
static uint64_t held_kib(const struct mc_vdom *d)
{
	if (settling(d) && d->last_target_kib > d->actual_kib)
		return d->last_target_kib;
	return d->actual_kib;
}

static bool eligible(const struct mc_vdom *d, const struct mc_balance_params *p)
{
	if (d->flags & (MC_VDOM_PAUSED | MC_VDOM_NO_STATS | MC_VDOM_EXCLUDED | MC_VDOM_UNTRUSTED))
		return false;
	if (!(d->present & ((1u << MC_STAT_USABLE) | (1u << MC_STAT_UNUSED))))
		return false;
	/* A guest whose figures stopped moving is neither grown nor shrunk
	 * on their strength. */
	if (d->stale_samples >= p->stale_samples)
		return false;
	/* Changed after this sample was taken: the actuator waits for a
	 * fresh sample, and so does the decision. */
	if (settling(d))
		return false;
	return d->actual_kib > 0 && d->max_kib > 0;
}

/* The balloon was told a target and has not reached it: it is on its way
 * (a balloon moves hundreds of MiB per second) or, after stuck_ms, stuck —
 * uncooperative. Either way it is not pushed further in that direction until
 * stuck_recheck_ms after that change, when it is tried again; re-setting it
 * every decision would also restart the clock that finds it stuck. Returns
 * +1 when it has not finished growing (it is not granted more), -1 when it
 * has not finished shrinking (it is not shrunk, but may still be grown: a
 * target above what it holds only stops the balloon), 0 otherwise. */
static int stuck(const struct mc_vdom *d, const struct mc_balance_params *p, int64_t now)
{
	uint64_t off;
	int64_t since;

	if (!d->last_set_ns)
		return 0;
	since = now - d->last_set_ns;
	off = d->actual_kib > d->last_target_kib ? d->actual_kib - d->last_target_kib
						 : d->last_target_kib - d->actual_kib;
	if (off <= BAL_STUCK_TOLERANCE_KIB || since >= p->stuck_recheck_ms * MC_NS_PER_MS)
		return 0;
	return d->last_target_kib > d->actual_kib ? 1 : -1;
}

static bool pressured(const struct mc_vdom *d, const struct mc_balance_params *p)
{
	if (d->flags & MC_VDOM_NO_RATES)
		return false;
	return d->swap_in_kib_s + d->swap_out_kib_s >= p->swap_pressure_kib_s ||
	       d->major_fault_s >= p->fault_pressure_s;
}

/* Step 1: roles, needs, and what each guest could give. */
static void classify(const struct mc_view *v, const struct mc_balance_params *p,
		     struct bal_dom *b)
{
	for (size_t i = 0; i < v->n; i++) {
		const struct mc_vdom *d = &v->dom[i];
		struct bal_dom *x = &b[i];
		uint64_t h, floor, room, consume = 0, want, predicted;
		bool press, cooling;

		int st;

		memset(x, 0, sizeof(*x));
		x->weight = d->weight ? d->weight : 1;
		if (!eligible(d, p))
			continue;
		st = stuck(d, p, v->now_ns);
		/* Balloon still growing, or grants that vanished without the
		 * headroom following, three times in a row: not granted more
		 * until its figures answer (the count resets when the headroom
		 * rises). */
		if (st > 0 || d->unabsorbed >= BAL_UNABSORBED_MAX)
			continue;
		x->eligible = true;
		h = d->headroom_kib;
		floor = d->floor_kib > d->max_kib ? d->max_kib : d->floor_kib;
		room = sub_sat(d->max_kib, d->actual_kib);
		press = pressured(d, p);
		/* A grant the headroom did not follow makes the consumption
		 * look like the grant: not a rate to predict from. */
		if (!(d->flags & MC_VDOM_NO_RATES) && d->consume_kib_s > 0 && !d->unabsorbed)
			consume = (uint64_t)d->consume_kib_s;

		/* Grow ahead of need: when the headroom will be below low
		 * within the horizon at the current consumption rate. */
		predicted = consume * (uint64_t)p->horizon_ms / 1000;
		if (h < p->low_kib + predicted || press) {
			want = p->target_kib + predicted;
			x->need = sub_sat(want, h);
			/* Pressure with enough headroom on paper (cache that
			 * will not come back): still give it a low mark. */
			if (press && x->need < p->low_kib)
				x->need = p->low_kib;
			x->need = min_u64(x->need, room);
			x->why = press && h >= p->low_kib ? WHY_PRESSURE
			       : h >= p->low_kib ? WHY_PREDICT : WHY_LOW;
			x->role = x->need >= BAL_MIN_GROW_KIB ? ROLE_GROW : ROLE_HOLD;
			continue;
		}

		cooling = d->last_grow_ns &&
			  v->now_ns - d->last_grow_ns < p->cooldown_ms * MC_NS_PER_MS;
		if (cooling || st < 0)
			continue;
		/* Never below the floor, nor below used memory + low. */
		{
			uint64_t to_floor = sub_sat(d->actual_kib, floor);
			uint64_t above_target = sub_sat(h, p->target_kib);

			x->can_give = true;
			/* The step: shrink_step, or shrink_pct of the surplus
			 * when that is larger — a guest that just freed
			 * gigabytes returns them in seconds, one with a little
			 * surplus loses it gently. */
			if (h > p->high_kib) {
				uint64_t step = p->shrink_step_kib;
				uint64_t pct = above_target / 100 * p->shrink_pct;

				if (pct > step)
					step = pct;
				x->step = min_u64(min_u64(step, above_target), to_floor);
			}
			if (x->step < BAL_MIN_SHRINK_KIB)
				x->step = 0;
			else
				x->why = WHY_SURPLUS;
			x->extra_cap = sub_sat(min_u64(above_target, to_floor), x->step);
			/* Squeezing may go below target headroom, down to
			 * the floor or to used memory, never below. */
			x->squeeze_cap = sub_sat(min_u64(h, to_floor), x->step + x->extra_cap);
			/* Rebalancing (others below low, nothing else to
			 * give) stops at low headroom. */
			x->comfort_cap = sub_sat(min_u64(sub_sat(h, p->low_kib), to_floor),
						 x->step + x->extra_cap);
		}
	}
}

enum take_mode {
	TAKE_SURPLUS,   /* extra_cap: surplus above target, by size */
	TAKE_COMFORT,   /* comfort_cap: down to low headroom, by inverse weight */
	TAKE_SQUEEZE,   /* squeeze_cap: down to the floor or used memory */
};

static uint64_t take_cap(const struct bal_dom *x, enum take_mode m)
{
	return m == TAKE_SURPLUS ? x->extra_cap : m == TAKE_COMFORT ? x->comfort_cap : x->squeeze_cap;
}

/* Take up to `amount` from the caps of `mode`, in proportion to each cap
 * (divided by the weight below target: heavier guests give less). Shares
 * below the minimum balloon change are dropped and their part taken, in a
 * second round, from guests that still have room, so a contended host sees
 * a few real changes rather than thousands of crumbs. Returns what was
 * taken. */
static uint64_t take_proportional(struct bal_dom *b, size_t n, uint64_t amount,
				  enum take_mode mode)
{
	bool weighted = mode != TAKE_SURPLUS;
	unsigned __int128 total = 0;
	uint64_t taken = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t *got = weighted ? &b[i].squeeze : &b[i].extra;
		uint64_t cap = sub_sat(take_cap(&b[i], mode), *got);

		total += weighted ? (unsigned __int128)cap * BAL_WEIGHT_SCALE / b[i].weight : cap;
	}
	if (!total || !amount)
		return 0;
	for (int round = 0; round < 2 && taken < amount; round++) {
		for (size_t i = 0; i < n && taken < amount; i++) {
			uint64_t *got = weighted ? &b[i].squeeze : &b[i].extra;
			uint64_t cap = sub_sat(take_cap(&b[i], mode), *got);
			uint64_t t;

			if (!cap)
				continue;
			if (round == 0) {
				unsigned __int128 share = weighted
					? (unsigned __int128)cap * BAL_WEIGHT_SCALE / b[i].weight
					: cap;

				t = (uint64_t)((unsigned __int128)amount * share / total);
				if (t < BAL_MIN_SHRINK_KIB)
					continue;
			} else {
				t = amount - taken;
				/* A crumb from a guest not yet touched: only if it
				 * is all that is left to take. */
				if (t > cap && cap < BAL_MIN_SHRINK_KIB && !*got)
					continue;
			}
			t = min_u64(min_u64(t, cap), amount - taken);
			*got += t;
			taken += t;
		}
	}
	return taken;
}

/* Ascending need per unit of weight: those who need least per share are
 * satisfied first in max-min filling. */
static int cmp_need_per_weight(const void *pa, const void *pb, void *arg)
{
	const struct bal_dom *base = arg;
	const struct bal_dom *a = &base[*(const uint32_t *)pa];
	const struct bal_dom *b = &base[*(const uint32_t *)pb];
	unsigned __int128 l = (unsigned __int128)a->need * b->weight;
	unsigned __int128 r = (unsigned __int128)b->need * a->weight;

	return l < r ? -1 : l > r ? 1 : 0;
}

/* Weighted max-min fair division of `supply` among growers, each capped at
 * its need (already capped at its weighted share). */
static void fair_share(struct bal_dom *b, uint32_t *idx, size_t ng, uint64_t supply)
{
	uint64_t wsum = 0;

	for (size_t k = 0; k < ng; k++)
		wsum += b[idx[k]].weight;
	qsort_r(idx, ng, sizeof(*idx), cmp_need_per_weight, b);
	for (size_t k = 0; k < ng && supply && wsum; k++) {
		struct bal_dom *x = &b[idx[k]];
		uint64_t fair = (uint64_t)((unsigned __int128)supply * x->weight / wsum);
		uint64_t g = min_u64(x->need, fair);

		/* The last one takes the rounding remainder if it needs it. */
		if (k == ng - 1)
			g = min_u64(x->need, supply);
		x->grant = g;
		supply -= g;
		wsum -= x->weight;
	}
}

int mc_policy_balance_decide(const struct mc_view *v, const struct mc_balance_params *p,
			     void *scratch, struct mc_plan *plan)
{
	struct bal_dom *b = scratch;
	uint32_t *idx;
	uint64_t sum_actual = 0, steps = 0, demand = 0, inflight = 0;
	int64_t host_avail, budget_avail, net_avail, supply;
	size_t ng = 0;
	bool emergency = false, contention = false;
	char m1[24], m2[24], m3[24], m4[24], m5[24];
	int r;

	if (!v->n)
		return 0;
	if (!scratch)
		return -EINVAL;
	idx = (uint32_t *)((char *)scratch + v->n * sizeof(struct bal_dom));

	classify(v, p, b);
	for (size_t i = 0; i < v->n; i++) {
		/* Saturating: a rejected sample keeps the balloon size the
		 * guest's driver reported, however absurd. */
		sum_actual = add_sat(sum_actual, held_kib(&v->dom[i]));
		inflight = add_sat(inflight, mc_vdom_inflight_kib(&v->dom[i], v->now_ns));
		steps += b[i].step;
		if (b[i].role == ROLE_GROW) {
			demand += b[i].need;
			idx[ng++] = (uint32_t)i;
		}
	}

	/* Step 2: what the host and the budget allow, net of the steps. */
	/* Host memory above the reserve (negative: an emergency). What the
	 * host can still grant excludes what balloons have been granted but
	 * not taken yet. */
	host_avail = v->host.has_free
		? (int64_t)v->host.free_kib - (int64_t)p->host_reserve_kib : 0;
	budget_avail = p->budget_kib ? i64_sat(p->budget_kib) - i64_sat(sum_actual) : INT64_MAX;
	net_avail = host_avail;
	if (net_avail > 0)
		net_avail = net_avail > i64_sat(inflight) ? net_avail - i64_sat(inflight) : 0;
	if (budget_avail < net_avail)
		net_avail = budget_avail;
	supply = (int64_t)steps + net_avail;

	if (supply < 0 || (v->host.has_free && host_avail < 0) || budget_avail < 0) {
		/* Step 4: an emergency. The deficit is what must come back. */
		uint64_t deficit = supply < 0 ? (uint64_t)-supply : 0;

		emergency = true;
		if (deficit) {
			uint64_t got = take_proportional(b, v->n, deficit, TAKE_SURPLUS);

			if (got < deficit)
				take_proportional(b, v->n, deficit - got, TAKE_SQUEEZE);
		}
		for (size_t i = 0; i < v->n; i++)
			b[i].grant = 0;
	} else if ((uint64_t)supply < demand) {
		/* Step 3: contention. First, nobody may claim more than its
		 * weighted share of the pool; then surplus is reclaimed, in
		 * proportion, for what the capped demand still lacks; what
		 * there is then goes to the growers by weight. */
		uint64_t pool = p->budget_kib ? p->budget_kib
			      : v->host.has_free ? sub_sat(v->host.total_kib, p->host_reserve_kib)
			      : sum_actual;
		uint64_t wsum = 0, got;

		contention = true;
		for (size_t i = 0; i < v->n; i++)
			if (b[i].eligible)
				wsum += b[i].weight;
		demand = 0;
		for (size_t k = 0; k < ng; k++) {
			struct bal_dom *x = &b[idx[k]];
			uint64_t share = wsum ? (uint64_t)((unsigned __int128)pool * x->weight / wsum) : 0;

			x->need = min_u64(x->need, sub_sat(share, v->dom[idx[k]].actual_kib));
			demand += x->need;
		}
		if ((uint64_t)supply < demand) {
			got = take_proportional(b, v->n, demand - (uint64_t)supply, TAKE_SURPLUS);
			supply += (int64_t)got;
		}
		/* Still short while some guest is below low: the others give
		 * what they hold between low and target, by inverse weight,
		 * for those below low only — a guest in reclaim weighs more
		 * than another's comfort. */
		if ((uint64_t)supply < demand) {
			uint64_t starving = 0;

			for (size_t k = 0; k < ng; k++)
				if (v->dom[idx[k]].headroom_kib < p->low_kib)
					starving += b[idx[k]].need;
			if (starving > (uint64_t)supply) {
				got = take_proportional(b, v->n, min_u64(starving - (uint64_t)supply,
									 demand - (uint64_t)supply),
							TAKE_COMFORT);
				supply += (int64_t)got;
			}
		}
		fair_share(b, idx, ng, (uint64_t)supply);
	} else {
		for (size_t k = 0; k < ng; k++)
			b[idx[k]].grant = b[idx[k]].need;
	}

	/* Emit: shrinks (step + extra + squeeze), then grants. */
	for (size_t i = 0; i < v->n; i++) {
		const struct mc_vdom *d = &v->dom[i];
		struct bal_dom *x = &b[i];
		uint64_t take = x->step + x->extra + x->squeeze;

		/* Steps below the minimum were dropped in classify; extra and
		 * squeeze amounts were counted as supply, so all are issued. */
		if (x->role == ROLE_GROW || take == 0)
			continue;
		if (x->squeeze && !emergency)
			r = mc_plan_push(plan, (uint32_t)i, d->actual_kib - take,
				 "rebalance: others below low, usable %s MiB, -%s MiB (weight %u)",
				 mib(m1, (int64_t)d->headroom_kib), mib(m2, (int64_t)take), x->weight);
		else if (x->squeeze)
			r = mc_plan_push(plan, (uint32_t)i, d->actual_kib - take,
				 "squeeze: host/budget short, usable %s MiB, -%s MiB (weight %u)",
				 mib(m1, (int64_t)d->headroom_kib), mib(m2, (int64_t)take), x->weight);
		else if (x->extra)
			r = mc_plan_push(plan, (uint32_t)i, d->actual_kib - take,
				 "reclaim: %s, usable %s MiB > target %s MiB, -%s MiB",
				 emergency ? "host/budget short" : "others need memory",
				 mib(m1, (int64_t)d->headroom_kib), mib(m2, (int64_t)p->target_kib),
				 mib(m3, (int64_t)take));
		else
			r = mc_plan_push(plan, (uint32_t)i, d->actual_kib - take,
				 "shrink: usable %s MiB > high %s MiB, -%s MiB",
				 mib(m1, (int64_t)d->headroom_kib), mib(m2, (int64_t)p->high_kib),
				 mib(m3, (int64_t)take));
		if (r < 0)
			return r;
	}
	for (size_t k = 0; k < ng; k++) {
		uint32_t i = idx[k];
		const struct mc_vdom *d = &v->dom[i];
		struct bal_dom *x = &b[i];

		if (x->grant < BAL_MIN_GROW_KIB)
			continue;
		if (x->why == WHY_PRESSURE)
			r = mc_plan_push(plan, i, d->actual_kib + x->grant,
				 "grow: pressure (swap %s MiB/s, %llu major faults/s), usable %s MiB, +%s MiB%s",
				 mib(m1, (int64_t)(d->swap_in_kib_s + d->swap_out_kib_s)),
				 (unsigned long long)d->major_fault_s,
				 mib(m2, (int64_t)d->headroom_kib), mib(m3, (int64_t)x->grant),
				 contention ? " (shared by weight)" : "");
		else if (x->why == WHY_PREDICT)
			r = mc_plan_push(plan, i, d->actual_kib + x->grant,
				 "grow: usable %s MiB, consuming %s MiB/s, below low %s MiB within %s s, +%s MiB%s",
				 mib(m1, (int64_t)d->headroom_kib), mib(m2, d->consume_kib_s),
				 mib(m3, (int64_t)p->low_kib), mib(m4, p->horizon_ms * 1024 / 1000),
				 mib(m5, (int64_t)x->grant), contention ? " (shared by weight)" : "");
		else
			r = mc_plan_push(plan, i, d->actual_kib + x->grant,
				 "grow: usable %s MiB < low %s MiB, consuming %s MiB/s, +%s MiB%s",
				 mib(m1, (int64_t)d->headroom_kib), mib(m2, (int64_t)p->low_kib),
				 mib(m3, d->flags & MC_VDOM_NO_RATES ? 0 : d->consume_kib_s),
				 mib(m4, (int64_t)x->grant),
				 contention ? " (shared by weight)" : "");
		if (r < 0)
			return r;
	}
	return 0;
}

static size_t balance_scratch(size_t ndom)
{
	return mc_balance_scratch_size(ndom);
}

static int balance_decide(const struct mc_view *v, const struct mc_policy_params *p,
			  void *scratch, struct mc_plan *plan)
{
	return mc_policy_balance_decide(v, &p->bal, scratch, plan);
}

const struct mc_policy mc_policy_balance = {
	.name = "balance",
	.reactive = true,
	.scratch_size = balance_scratch,
	.decide = balance_decide,
};
