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
 *       it is predicted to consume over `horizon`. (A guest whose use
 *       moves in steps has a larger target: low + twice its jump.)
 *     - donor: headroom above `high`, not under pressure, not grown within
 *       `cooldown`. It gives a bounded step toward `target` headroom.
 *  2. Supply for growers: the donors' steps, plus the host's free memory
 *     above its reserve (less grants not taken yet), limited by the budget
 *     (sum of all balloons). The budget counts a shrink only once its
 *     balloon has inflated — a grow lands at once, a shrink over a second
 *     or more — so a grow it funds waits for the next decision; shrinks in
 *     flight count as supply in sight and are not reclaimed twice.
 *  3. Shares: the pool (budget, else host memory above the reserve) is
 *     divided by weight among the guests memcoord may act on. Needs
 *     within a guest's share come first. When every need (beyond shares
 *     too) can be met, with the surplus of guests above `target`
 *     reclaimed in proportion, it is — but under a budget, the part of an
 *     active guest's share it does not hold yet is kept for it, so a
 *     guest that started earlier cannot take what a heavier one will
 *     need. Otherwise (contention) only needs within shares count:
 *     surplus is reclaimed for them; if guests are below `low`, others
 *     give what they hold between `target` and `low` — first guests above
 *     their share, then all by inverse weight; then what there is is
 *     divided among growers by weight (weighted max-min fairness).
 *  4. Emergency (host below its reserve, or balloons above the budget
 *     with no shrink in flight to fix it): no grants; reclaim surplus
 *     proportionally, then squeeze guests below their target headroom in
 *     inverse proportion to their weight, never below their floors.
 * Guests whose balloon is moving toward a size memcoord did not set (a
 * guest booting down to its <currentMemory>) are left alone until it stops.
 * No guest is both grown and shrunk in one plan; no target leaves
 * [floor, max]. */
#include "memcoord/policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memcoord/hv.h"

/* Changes smaller than this are not worth a balloon operation. */
#define BAL_MIN_SHRINK_KIB (4 * 1024)
#define BAL_MIN_GROW_KIB 1024
/* Grows in a row that the guest's headroom did not follow before it is
 * granted no more (see signals.h). */
#define BAL_UNABSORBED_MAX 3
/* A guest whose used memory rises in steps (jump_kib, signals.h) keeps
 * headroom for two more steps above low — target becomes at least low +
 * twice its last step — so that the next steps do not take it below low
 * before memcoord's next decision and the balloon's answer (the demo
 * scenario's random-walk guest, below low for up to 8 s a run with the
 * plain target, stayed up to 6 s with room for one step and under 1 s
 * with two). Capped: beyond this a step is a workload's phase, not noise
 * to leave room for. (The collector does not measure it in a domain's
 * first samples, signals.h: counting their start, the churn scenario's
 * short-lived guests held 5% more than without, more than seed's.) Not
 * believed from a guest with rejected samples or grants that vanished
 * (one that lies must not buy itself a larger target). */
#define BAL_JUMP_MAX_KIB (512 * 1024)
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
	uint64_t target;       /* its target headroom: target, or low + 2 x jump */
	uint64_t need;         /* grower: KiB wanted */
	uint64_t grant;        /* grower: KiB granted */
	uint64_t step;         /* donor: gradual shrink this decision */
	uint64_t extra_cap;    /* surplus above target beyond the step */
	uint64_t extra;        /* taken from extra_cap under contention */
	uint64_t comfort_cap;  /* below target, down to low headroom */
	uint64_t squeeze_cap;  /* below target, above floor and used memory */
	uint64_t squeeze;      /* taken from comfort_cap (rebalance) or
				* squeeze_cap (emergency) */
	uint64_t entitled;     /* weighted share of the pool (0: not sharing) */
	uint64_t over_share;   /* held above its share: rebalanced first */
	uint64_t claim;        /* active: its share it does not hold yet,
				* kept free for it while others borrow */
	uint64_t over;         /* grower: need beyond its share */
	uint64_t within;       /* grower: granted within its share */
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
/* a + b for b >= 0, saturating at INT64_MAX. */
static int64_t i64_add_sat(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }

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
	if (mc_vdom_stale(d, p->stale_samples))
		return false;
	/* Changed after this sample was taken: the actuator waits for a
	 * fresh sample, and so does the decision. */
	if (settling(d))
		return false;
	/* Moving toward a size set by someone else (a guest booting down to
	 * its <currentMemory>): a transient, not a size to decide on. */
	if (mc_vdom_moving_alone(d))
		return false;
	return d->actual_kib > 0 && d->max_kib > 0;
}

/* Balloon still on its way or stuck: see mc_vdom_balloon_pending. */
static int stuck(const struct mc_vdom *d, const struct mc_balance_params *p, int64_t now)
{
	return mc_vdom_balloon_pending(d, p->stuck_recheck_ms, now);
}

/* Takes part in the division of the pool by weight: every guest memcoord
 * may act on, eligible in this pass or not (settling, stale, untrusted
 * ones keep their share). */
static bool sharing(const struct mc_vdom *d)
{
	return !(d->flags & (MC_VDOM_PAUSED | MC_VDOM_NO_STATS | MC_VDOM_EXCLUDED));
}

/* Consumption at or above this makes a guest an active claimant of its
 * share even in a pass where it is not growing. */
#define BAL_ACTIVE_KIB_S 1024

/* Wants memory now, grew within the cooldown, or is consuming: the part
 * of its share it does not hold is kept free for it while others borrow
 * beyond theirs. (Recent growth counts on its own: between two grows a
 * guest's consumption can read near zero for a sample.) */
static bool active(const struct mc_vdom *d, const struct bal_dom *x,
		   const struct mc_balance_params *p, int64_t now)
{
	if (x->role != ROLE_NONE)
		return true;
	if (d->last_grow_ns && now - d->last_grow_ns < p->cooldown_ms * MC_NS_PER_MS)
		return true;
	return !(d->flags & (MC_VDOM_NO_RATES | MC_VDOM_UNTRUSTED)) &&
	       d->consume_kib_s >= BAL_ACTIVE_KIB_S;
}

/* Memory a shrink memcoord made is still returning: the balloon has not
 * inflated to its target yet, and is still expected to (not stuck). */
static uint64_t shrinking_kib(const struct mc_vdom *d, const struct mc_balance_params *p,
			      int64_t now)
{
	if (!d->last_set_ns || d->last_target_kib >= d->actual_kib ||
	    now - d->last_set_ns >= p->stuck_ms * MC_NS_PER_MS)
		return 0;
	return d->actual_kib - d->last_target_kib;
}

static bool pressured(const struct mc_vdom *d, const struct mc_balance_params *p)
{
	if (d->flags & MC_VDOM_NO_RATES)
		return false;
	return d->swap_in_kib_s + d->swap_out_kib_s >= p->swap_pressure_kib_s ||
	       d->major_fault_s >= p->fault_pressure_s;
}

/* Step 1, for one guest: its role, its need, and what it could give. */
static void classify(const struct mc_vdom *d, const struct mc_balance_params *p,
		     int64_t now, struct bal_dom *x)
{
	uint64_t h, floor, room, consume = 0, want, predicted;
	bool press, cooling;
	int st;

	memset(x, 0, sizeof(*x));
	x->weight = d->weight ? d->weight : 1;
	if (!eligible(d, p))
		return;
	st = stuck(d, p, now);
	/* Balloon still growing, or grants that vanished without the
	 * headroom following, three times in a row: not granted more
	 * until its figures answer (the count resets when the headroom
	 * rises). */
	if (st > 0 || d->unabsorbed >= BAL_UNABSORBED_MAX)
		return;
	x->eligible = true;
	h = d->headroom_kib;
	x->target = p->target_kib;
	if (!(d->flags & MC_VDOM_NO_RATES) && !d->bad_samples && !d->unabsorbed) {
		uint64_t t = p->low_kib + min_u64(2 * min_u64(d->jump_kib, BAL_JUMP_MAX_KIB),
						  BAL_JUMP_MAX_KIB);

		if (t > x->target)
			x->target = t;
	}
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
		want = x->target + predicted;
		x->need = sub_sat(want, h);
		/* Pressure with enough headroom on paper (cache that
		 * will not come back): still give it a low mark. */
		if (press && x->need < p->low_kib)
			x->need = p->low_kib;
		x->need = min_u64(x->need, room);
		x->why = press && h >= p->low_kib ? WHY_PRESSURE
		       : h >= p->low_kib ? WHY_PREDICT : WHY_LOW;
		x->role = x->need >= BAL_MIN_GROW_KIB ? ROLE_GROW : ROLE_HOLD;
		return;
	}

	cooling = d->last_grow_ns &&
		  now - d->last_grow_ns < p->cooldown_ms * MC_NS_PER_MS;
	if (cooling || st < 0)
		return;
	/* Never below the floor, nor below used memory + low. */
	{
		uint64_t to_floor = sub_sat(d->actual_kib, floor);
		uint64_t above_target = sub_sat(h, x->target);

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

enum take_mode {
	TAKE_SURPLUS,   /* extra_cap: surplus above target, by size */
	TAKE_OVERSHARE, /* comfort_cap, as far as held above the share */
	TAKE_COMFORT,   /* comfort_cap: down to low headroom, by inverse weight */
	TAKE_SQUEEZE,   /* squeeze_cap: down to the floor or used memory */
};

static uint64_t take_cap(const struct bal_dom *x, enum take_mode m)
{
	switch (m) {
	case TAKE_SURPLUS: return x->extra_cap;
	case TAKE_OVERSHARE: return min_u64(x->comfort_cap, x->over_share);
	case TAKE_COMFORT: return x->comfort_cap;
	default: return x->squeeze_cap;
	}
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

	for (size_t k = 0; k < ng; k++) {
		wsum += b[idx[k]].weight;
		b[idx[k]].grant = 0;
	}
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
	uint64_t sum_held = 0, steps = 0, demand = 0, inflight = 0, pending = 0;
	uint64_t pool, wsum = 0, within_demand = 0, over_demand = 0, reserved = 0;
	uint64_t surplus = 0;    /* extra_cap of all: surplus above target */
	uint64_t reclaimed = 0;  /* extra + squeeze taken, outside an emergency */
	int64_t host_avail, host_net, budget_now, budget_seen, supply_seen, grantable;
	size_t ng = 0;
	bool emergency = false, contention = false, allow_over = false;
	int r;

	if (!v->n)
		return 0;
	if (!scratch)
		return -EINVAL;
	idx = (uint32_t *)((char *)scratch + v->n * sizeof(struct bal_dom));

	/* One walk over the view for step 1 and its sums: at 10,000 guests
	 * the view and the working state are megabytes, and each walk over
	 * them costs more than the arithmetic in it. */
	for (size_t i = 0; i < v->n; i++) {
		const struct mc_vdom *d = &v->dom[i];

		classify(d, p, v->now_ns, &b[i]);
		surplus += b[i].extra_cap;
		/* Saturating: a rejected sample keeps the balloon size the
		 * guest's driver reported, however absurd. */
		sum_held = add_sat(sum_held, held_kib(d));
		inflight = add_sat(inflight, mc_vdom_inflight_kib(d, v->now_ns));
		pending = add_sat(pending, shrinking_kib(d, p, v->now_ns));
		steps += b[i].step;
		if (sharing(d))
			wsum += b[i].weight;
		if (b[i].role == ROLE_GROW) {
			demand += b[i].need;
			idx[ng++] = (uint32_t)i;
		}
	}

	/* Step 2: what the host and the budget allow. Host memory above the
	 * reserve (negative: an emergency), less what balloons were granted
	 * but have not taken yet. The budget counts the balloons as they are
	 * (grows in flight at their targets): memory a shrink returns counts
	 * only once its balloon has inflated — a grow lands at once, a shrink
	 * takes a second or more, and the sum must stay within the budget at
	 * every moment — but it is in sight, so it is not reclaimed twice. */
	host_avail = v->host.has_free
		? (int64_t)v->host.free_kib - (int64_t)p->host_reserve_kib : 0;
	host_net = host_avail;
	if (host_net > 0)
		host_net = host_net > i64_sat(inflight) ? host_net - i64_sat(inflight) : 0;
	budget_now = p->budget_kib ? i64_sat(p->budget_kib) - i64_sat(sum_held) : INT64_MAX;
	budget_seen = p->budget_kib ? i64_add_sat(budget_now, i64_sat(pending)) : INT64_MAX;
	/* Shrinks in flight show in the host's free memory as they land. */
	supply_seen = i64_add_sat(host_net, i64_sat(pending));
	if (budget_seen < supply_seen)
		supply_seen = budget_seen;
	supply_seen = i64_add_sat(supply_seen, i64_sat(steps));

	/* Shares: the pool (the budget, else the host's memory above its
	 * reserve) divided by weight among the guests that take part. */
	pool = p->budget_kib ? p->budget_kib
	     : v->host.has_free ? sub_sat(v->host.total_kib, p->host_reserve_kib)
	     : sum_held;
	for (size_t i = 0; i < v->n; i++) {
		const struct mc_vdom *d = &v->dom[i];
		struct bal_dom *x = &b[i];

		if (!sharing(d) || !wsum)
			continue;
		x->entitled = (uint64_t)((unsigned __int128)pool * x->weight / wsum);
		x->over_share = sub_sat(held_kib(d), x->entitled);
		/* Under a budget — a pool set aside for these guests — the
		 * part of an active guest's share it does not hold yet is
		 * kept for it. Without one, the host's free memory goes to
		 * whoever needs it now. */
		if (p->budget_kib && active(d, x, p, v->now_ns))
			x->claim = sub_sat(min_u64(x->entitled, d->max_kib), held_kib(d));
		reserved += x->claim;
		if (x->role == ROLE_GROW) {
			uint64_t w = min_u64(x->need, sub_sat(x->entitled, held_kib(d)));

			x->over = x->need - w;
			x->need = w;
			within_demand += w;
			over_demand += x->over;
		}
	}
	if (!wsum)
		within_demand = demand;

	if (supply_seen < 0 || (v->host.has_free && host_avail < 0) || budget_seen < 0) {
		/* Step 4: an emergency. The deficit is what must come back. */
		uint64_t deficit = supply_seen < 0 ? (uint64_t)-supply_seen : 0;

		emergency = true;
		if (deficit) {
			uint64_t got = take_proportional(b, v->n, deficit, TAKE_SURPLUS);

			if (got < deficit)
				take_proportional(b, v->n, deficit - got, TAKE_SQUEEZE);
		}
		for (size_t i = 0; i < v->n; i++)
			b[i].grant = 0;
		ng = 0;
	} else {
		uint64_t total = within_demand + over_demand;

		if ((uint64_t)supply_seen + surplus >= total) {
			/* Enough for every need, with the surplus of guests
			 * above their target headroom: reclaim what is
			 * missing, in proportion to the surplus. */
			allow_over = true;
			if ((uint64_t)supply_seen < total) {
				reclaimed = take_proportional(b, v->n,
					total - (uint64_t)supply_seen, TAKE_SURPLUS);
				supply_seen += (int64_t)reclaimed;
			}
		} else {
			/* Step 3: contention. Needs count only within shares.
			 * Surplus is reclaimed, in proportion, for what they
			 * lack; if guests are below low, others give what
			 * they hold between low and target — first those
			 * holding more than their share, then all by inverse
			 * weight — for those below low only: a guest in
			 * reclaim weighs more than another's comfort. */
			contention = true;
			if ((uint64_t)supply_seen < within_demand) {
				uint64_t got, starving = 0;

				got = take_proportional(b, v->n, within_demand - (uint64_t)supply_seen,
							TAKE_SURPLUS);
				supply_seen += (int64_t)got;
				reclaimed += got;
				for (size_t k = 0; k < ng; k++)
					if (v->dom[idx[k]].headroom_kib < p->low_kib)
						starving += b[idx[k]].need;
				if ((uint64_t)supply_seen < within_demand &&
				    starving > (uint64_t)supply_seen) {
					uint64_t want = min_u64(starving, within_demand) -
							(uint64_t)supply_seen;

					got = take_proportional(b, v->n, want, TAKE_OVERSHARE);
					if (got < want)
						got += take_proportional(b, v->n, want - got,
									 TAKE_COMFORT);
					supply_seen += (int64_t)got;
					reclaimed += got;
				}
			}
		}
	}

	/* What can be granted now: the host's side counts this plan's
	 * shrinks (the actuator checks grows against the host's free memory
	 * read at that moment), the budget's does not. */
	grantable = 0;
	if (!emergency) {
		grantable = (int64_t)(steps + reclaimed) + host_net;
		if (budget_now < grantable)
			grantable = budget_now;
		if (grantable < 0)
			grantable = 0;
	}

	/* Within shares first (weighted max-min when short). Needs beyond
	 * shares only when there is enough for every need (surplus
	 * included): under contention nobody — a guest lying about its
	 * memory included — takes more than its weighted share. Even then
	 * they get only what is not kept for active guests short of their
	 * own shares (under a budget), by weight. */
	if (ng) {
		uint64_t left = (uint64_t)grantable, given = 0;

		fair_share(b, idx, ng, min_u64(left, within_demand));
		for (size_t k = 0; k < ng; k++) {
			struct bal_dom *x = &b[idx[k]];

			x->within = x->grant;
			given += x->grant;
			if (x->grant < x->need)
				contention = true;
			reserved -= min_u64(x->claim, x->grant);
			x->need = x->over;
		}
		left -= given;
		left = sub_sat(left, reserved);
		if (over_demand && allow_over) {
			fair_share(b, idx, ng, min_u64(left, over_demand));
			if (left < over_demand)
				contention = true;
		} else {
			for (size_t k = 0; k < ng; k++)
				b[idx[k]].grant = 0;
			if (over_demand)
				contention = true;
		}
		for (size_t k = 0; k < ng; k++) {
			struct bal_dom *x = &b[idx[k]];

			x->grant += x->within;
		}
	}

	/* Emit: shrinks (step + extra + squeeze), then grants. Reasons carry
	 * their figures; the text is made only where it is read. */
	for (size_t i = 0; i < v->n; i++) {
		const struct mc_vdom *d = &v->dom[i];
		struct bal_dom *x = &b[i];
		uint64_t take = x->step + x->extra + x->squeeze;
		struct mc_reason why = { .v = { (int64_t)d->headroom_kib } };

		/* Steps below the minimum were dropped in classify; extra and
		 * squeeze amounts were counted as supply, so all are issued. */
		if (x->role == ROLE_GROW || take == 0)
			continue;
		if (x->squeeze) {
			why.kind = emergency ? MC_REASON_SQUEEZE : MC_REASON_REBALANCE;
			why.n = x->weight;
			why.v[1] = (int64_t)take;
		} else {
			why.kind = x->extra ? MC_REASON_RECLAIM : MC_REASON_SHRINK;
			why.flags = x->extra && emergency ? MC_REASON_SHORT : 0;
			why.v[1] = (int64_t)(x->extra ? x->target : p->high_kib);
			why.v[2] = (int64_t)take;
		}
		r = mc_plan_push(plan, (uint32_t)i, d->actual_kib - take, &why);
		if (r < 0)
			return r;
	}
	for (size_t k = 0; k < ng; k++) {
		uint32_t i = idx[k];
		const struct mc_vdom *d = &v->dom[i];
		struct bal_dom *x = &b[i];
		struct mc_reason why = { .flags = contention ? MC_REASON_SHARED : 0 };

		if (x->grant < BAL_MIN_GROW_KIB)
			continue;
		if (x->why == WHY_PRESSURE) {
			why.kind = MC_REASON_GROW_PRESSURE;
			why.v[0] = (int64_t)(d->swap_in_kib_s + d->swap_out_kib_s);
			why.v[1] = (int64_t)d->major_fault_s;
			why.v[2] = (int64_t)d->headroom_kib;
			why.v[3] = (int64_t)x->grant;
		} else if (x->why == WHY_PREDICT) {
			why.kind = MC_REASON_GROW_PREDICT;
			why.v[0] = (int64_t)d->headroom_kib;
			why.v[1] = d->consume_kib_s;
			why.v[2] = (int64_t)p->low_kib;
			why.v[3] = p->horizon_ms * 1024 / 1000;
			why.v[4] = (int64_t)x->grant;
		} else {
			why.kind = MC_REASON_GROW_LOW;
			why.v[0] = (int64_t)d->headroom_kib;
			why.v[1] = (int64_t)p->low_kib;
			why.v[2] = d->flags & MC_VDOM_NO_RATES ? 0 : d->consume_kib_s;
			why.v[3] = (int64_t)x->grant;
		}
		r = mc_plan_push(plan, i, d->actual_kib + x->grant, &why);
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
