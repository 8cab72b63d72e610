/* memcoord — randomized property test of the balance policy.
 *
 * Generates views (fixed seeds: reproducible) of 1..64 domains, and a few of
 * 5,000, with random balloons, maxima, floors, headroom, rates, weights,
 * flags, stamps, host free memory, reserve, budget and parameters, and
 * checks on every plan:
 *   - the policy returns 0 with a plan of mc_plan_cap_for(n);
 *   - each domain at most once (so never both grown and shrunk), and every
 *     action changes the balloon and carries a reason naming its kind;
 *   - only eligible domains are acted on (not paused, without stats,
 *     excluded, untrusted, stale, settling, or stuck growing; a balloon
 *     stuck shrinking may only be grown);
 *   - no target below the domain's floor (min(floor, max)) or above its
 *     max; a domain already outside [floor, max] is only moved toward it;
 *   - shrinks never go below used memory, nor below used + target headroom
 *     outside an emergency, nor within the cooldown after a grow, and a
 *     plain "shrink" is at most its step (shrink_step, or shrink_pct of
 *     the surplus above target when larger);
 *   - with host free known: grants - shrinks <= max(0, free - reserve);
 *   - with a budget and sum(actual) <= budget: sum(targets) <= budget;
 *   - conservation: grants <= shrinks + max(0, min(free - reserve,
 *     budget - sum(actual))) (an unknown host or no budget: no bound);
 *   - squeeze, and no rebalance, only in an emergency as the policy
 *     defines it (free < reserve, or balloons above the budget beyond the
 *     shrinks still in flight);
 *   - free < reserve, or balloons above the budget (a grow not yet seen
 *     in a sample counted at its target): no grants;
 *   - liveness: when the host alone covers every need (no budget, no
 *     emergency), every eligible guest below low or under pressure gets its
 *     whole need (target + consume * horizon - headroom, at least low under
 *     pressure, capped at max).
 * On a failure: the seed, the failed property, and the view minimized to
 * the fewest domains that still fail, dumped.
 *
 * A diagnostic (counted, not a failure; PROPS_SHOW_RECLAIM=1 dumps three):
 * plans outside an emergency that reclaimed, beyond the donors' gradual
 * steps, more than their grants needed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcoord/config.h"
#include "memcoord/hv.h"
#include "memcoord/policy.h"

#include "check.h"

/* The text of an action's reason (formatted on demand; a ring of buffers so
 * that a few can be used in one expression). */
static const char *reason(const struct mc_action *a)
{
	static char buf[4][MC_REASON_LEN];
	static unsigned k;

	return mc_reason_format(a, buf[k++ % 4], MC_REASON_LEN);
}

#define MIB(x) ((uint64_t)(x) * 1024u)
#define GIB(x) (MIB(x) * 1024u)

#define NOW ((int64_t)100000 * MC_NS_PER_S)
#define MIN_GROW_KIB 1024   /* the policy skips grants below 1 MiB */

/* ---- random numbers (xorshift64*: reproducible everywhere) ---------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void rng_seed(uint64_t s)
{
	rng_state = s * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
	if (!rng_state)
		rng_state = 1;
	for (int i = 0; i < 8; i++)
		rnd();
}

/* Uniform in [lo, hi]. */
static uint64_t range(uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	if (hi - lo == UINT64_MAX)
		return rnd();
	return lo + rnd() % (hi - lo + 1);
}

static int64_t srange(int64_t lo, int64_t hi)
{
	return lo + (int64_t)range(0, (uint64_t)(hi - lo));
}

/* True with probability pct %. */
static bool pct(unsigned p) { return rnd() % 100 < p; }

/* Log-uniform in [lo, hi] (lo >= 1): balloons from MiB to TiB. */
static uint64_t logrange(uint64_t lo, uint64_t hi)
{
	unsigned blo = 63 - (unsigned)__builtin_clzll(lo), bhi = 63 - (unsigned)__builtin_clzll(hi);
	unsigned b = (unsigned)range(blo, bhi);
	uint64_t from = (uint64_t)1 << b, to = b == 63 ? UINT64_MAX : ((uint64_t)1 << (b + 1)) - 1;

	if (from < lo)
		from = lo;
	if (to > hi)
		to = hi;
	return range(from, to);
}

/* ---- generation --------------------------------------------------------- */

struct gen {
	struct mc_balance_params p;
	struct mc_view v;
	struct mc_vdom *dom;   /* v.dom */
};

static struct mc_balance_params defparams(void)
{
	return (struct mc_balance_params){
		.low_kib = MIB(MC_DEF_LOW_MIB),
		.target_kib = MIB(MC_DEF_TARGET_MIB),
		.high_kib = MIB(MC_DEF_HIGH_MIB),
		.shrink_step_kib = MIB(MC_DEF_SHRINK_STEP_MIB),
		.shrink_pct = MC_DEF_SHRINK_PCT,
		.cooldown_ms = MC_DEF_COOLDOWN_MS,
		.horizon_ms = MC_DEF_HORIZON_MS,
		.stale_samples = MC_DEF_STALE_SAMPLES,
		.stuck_ms = MC_DEF_STUCK_MS,
		.stuck_recheck_ms = MC_DEF_STUCK_RECHECK_MS,
		.swap_pressure_kib_s = MC_DEF_SWAP_PRESSURE_KIB_S,
		.fault_pressure_s = MC_DEF_FAULT_PRESSURE_S,
		.budget_kib = 0,
		.host_reserve_kib = MIB(MC_DEF_RESERVE_MIN_MIB),
	};
}

static void gen_params(struct mc_balance_params *p)
{
	*p = defparams();
	if (pct(50)) {
		p->low_kib = range(MIB(16), MIB(512));
		p->target_kib = p->low_kib + range(MIB(1), MIB(512));
		p->high_kib = p->target_kib + range(MIB(1), MIB(1024));
		p->shrink_step_kib = pct(10) ? range(1, MIB(4)) : range(MIB(4), MIB(512));
		/* The step alone, or a share of the surplus when larger. */
		p->shrink_pct = pct(30) ? 0 : (uint32_t)range(1, 100);
		p->cooldown_ms = (int64_t)range(0, 30000);
		p->horizon_ms = (int64_t)range(0, 10000);
		p->stale_samples = (uint32_t)range(1, 10);
		p->stuck_ms = (int64_t)range(1000, 10000);
		p->stuck_recheck_ms = p->stuck_ms + (int64_t)range(0, 120000);
		p->swap_pressure_kib_s = range(1, 8192);
		p->fault_pressure_s = range(1, 1000);
	}
	p->host_reserve_kib = pct(10) ? 0 : range(MIB(64), GIB(4));
}

static void gen_dom(struct mc_vdom *d, uint32_t i, const struct mc_balance_params *p)
{
	uint64_t a;

	memset(d, 0, sizeof(*d));
	memcpy(d->uuid, &i, sizeof(i));
	d->uuid[15] = 0x42;

	a = pct(1) ? 0 : logrange(MIB(64), GIB(256));
	d->actual_kib = a;
	if (pct(3))
		d->max_kib = a ? range(0, a - 1) : 0;   /* above its (configured) max */
	else if (pct(20))
		d->max_kib = a;
	else
		d->max_kib = a + range(0, a ? a : GIB(1));
	if (pct(1))
		d->max_kib = 0;
	if (pct(15))
		d->floor_kib = 0;
	else if (pct(8))
		d->floor_kib = a + range(1, GIB(2));     /* below its floor */
	else
		d->floor_kib = range(0, a);

	switch (rnd() % 5) {
	case 0: d->headroom_kib = range(0, p->low_kib); break;
	case 1: d->headroom_kib = range(p->low_kib, p->high_kib); break;
	case 2: d->headroom_kib = range(p->high_kib, p->high_kib + GIB(2)); break;
	case 3: d->headroom_kib = range(p->target_kib - MIB(2), p->target_kib + MIB(2)); break;
	default: d->headroom_kib = range(0, a); break;
	}
	if (d->headroom_kib > a)
		d->headroom_kib = a;
	d->usable_kib = d->headroom_kib;
	d->unused_kib = d->headroom_kib / 2;
	d->available_kib = a - a / 32;

	d->present = (1u << MC_STAT_USABLE) | (1u << MC_STAT_UNUSED) | (1u << MC_STAT_ACTUAL);
	if (pct(5))
		d->present = (1u << MC_STAT_UNUSED) | (1u << MC_STAT_ACTUAL);
	else if (pct(4))
		d->present = 1u << MC_STAT_ACTUAL;

	if (pct(50))
		d->consume_kib_s = 0;
	else if (pct(60))
		d->consume_kib_s = srange(-(int64_t)MIB(50), (int64_t)MIB(50));
	else if (pct(90))
		d->consume_kib_s = (int64_t)range(0, MIB(200));
	else
		d->consume_kib_s = (int64_t)range(0, (uint64_t)1 << 40);
	if (pct(25)) {
		d->swap_in_kib_s = range(0, 8192);
		d->swap_out_kib_s = range(0, 8192);
	}
	if (pct(25))
		d->major_fault_s = range(0, 2000);

	if (pct(5)) d->flags |= MC_VDOM_PAUSED;
	if (pct(5)) d->flags |= MC_VDOM_NO_STATS;
	if (pct(5)) d->flags |= MC_VDOM_EXCLUDED;
	if (pct(5)) d->flags |= MC_VDOM_UNTRUSTED;
	if (pct(8)) d->flags |= MC_VDOM_NO_RATES;
	if (d->flags & MC_VDOM_NO_RATES) {
		d->consume_kib_s = 0;
		d->swap_in_kib_s = d->swap_out_kib_s = d->major_fault_s = 0;
	}
	d->stale_samples = pct(85) ? 0 : (uint32_t)range(0, 12);
	d->bad_samples = pct(95) ? 0 : (uint32_t)range(0, 5);

	if (pct(60))
		d->weight = 1;
	else if (pct(75))
		d->weight = (uint32_t)range(1, 4);
	else
		d->weight = (uint32_t)range(1, MC_MAX_WEIGHT);
	if (pct(1))
		d->weight = 0;   /* treated as 1 */

	d->taken_ns = NOW - (int64_t)range(0, 2 * MC_NS_PER_S);
	if (pct(40)) {
		d->last_set_ns = 0;
	} else if (pct(10)) {
		/* settling: changed at or after the sample */
		d->last_set_ns = d->taken_ns + (int64_t)range(0, (uint64_t)(NOW - d->taken_ns));
	} else {
		d->last_set_ns = NOW - (int64_t)range(0, 150 * MC_NS_PER_S);
		if (d->last_set_ns >= d->taken_ns)
			d->taken_ns = d->last_set_ns + 1 <= NOW ? d->last_set_ns + 1 : NOW;
		if (d->last_set_ns >= d->taken_ns)
			d->last_set_ns = d->taken_ns - 1;
	}
	if (d->last_set_ns) {
		if (pct(60))
			d->last_target_kib = a;
		else if (pct(50))
			d->last_target_kib = a + range(0, GIB(1));
		else
			d->last_target_kib = a - range(0, a);
		if (pct(50))
			d->last_grow_ns = d->last_set_ns;
	} else if (pct(10)) {
		d->last_grow_ns = NOW - (int64_t)range(0, 60 * MC_NS_PER_S);
	}
	d->seq = range(1, 1000);
	d->last_update = range(1, 1u << 30);
}

static void gen_view(struct gen *g, size_t n)
{
	uint64_t sum = 0;

	gen_params(&g->p);
	for (size_t i = 0; i < n; i++) {
		gen_dom(&g->dom[i], (uint32_t)i, &g->p);
		sum += g->dom[i].actual_kib;
	}
	g->v = (struct mc_view){ .now_ns = NOW, .n = n, .dom = g->dom };
	if (pct(92)) {
		uint64_t r = g->p.host_reserve_kib;

		g->v.host.has_free = true;
		switch (rnd() % 4) {
		case 0: g->v.host.free_kib = r + range(0, GIB(256)); break;        /* plenty */
		case 1: g->v.host.free_kib = r + range(0, GIB(2)); break;          /* tight */
		case 2: g->v.host.free_kib = range(0, r); break;                   /* emergency */
		default: g->v.host.free_kib = r + range(0, MIB(64)); break;        /* at the edge */
		}
		g->v.host.total_kib = pct(3) ? range(0, r) : g->v.host.free_kib + sum + range(0, GIB(64));
		g->v.host.taken_ns = NOW - (int64_t)range(0, MC_NS_PER_S);
	}
	if (pct(35)) {
		/* Around the sum of the balloons: above (room), at, and below
		 * (an emergency). */
		uint64_t lo = sum - sum / 4, hi = sum + sum / 4 + GIB(1);

		g->p.budget_kib = range(lo ? lo : 1, hi);
		if (pct(10))
			g->p.budget_kib = sum ? sum : 1;
	}
}

/* ---- the properties ----------------------------------------------------- */

static bool settling(const struct mc_vdom *d)
{
	return d->last_set_ns != 0 && d->taken_ns <= d->last_set_ns;
}

/* The balloon was given a target it has not reached (further than off_min
 * from it) within the window in which the policy calls it stuck. */
static bool in_stuck_window(const struct mc_vdom *d, const struct mc_balance_params *p,
			    int64_t now, uint64_t off_min)
{
	uint64_t off;
	int64_t since;

	if (!d->last_set_ns)
		return false;
	since = now - d->last_set_ns;
	off = d->actual_kib > d->last_target_kib ? d->actual_kib - d->last_target_kib
						 : d->last_target_kib - d->actual_kib;
	/* On its way or stuck: left alone in that direction until recheck. */
	return off > off_min && since < p->stuck_recheck_ms * MC_NS_PER_MS;
}

/* May the policy act on d at all? (Stuck is judged with the policy's own
 * 8 MiB tolerance: a balloon further than that from its target is stuck.) */
static const char *ineligible_why(const struct mc_vdom *d, const struct mc_balance_params *p,
				  int64_t now)
{
	if (d->flags & MC_VDOM_PAUSED) return "paused";
	if (d->flags & MC_VDOM_NO_STATS) return "no stats";
	if (d->flags & MC_VDOM_EXCLUDED) return "excluded";
	if (d->flags & MC_VDOM_UNTRUSTED) return "untrusted";
	if (!(d->present & ((1u << MC_STAT_USABLE) | (1u << MC_STAT_UNUSED))))
		return "no usable/unused";
	if (d->stale_samples >= p->stale_samples) return "stale";
	if (settling(d)) return "settling";
	/* A balloon that failed to grow is not granted more, nor touched;
	 * one that failed to shrink may still be grown (checked below). */
	if (in_stuck_window(d, p, now, MIB(8)) && d->last_target_kib > d->actual_kib)
		return "stuck";
	if (!d->actual_kib || !d->max_kib) return "no balloon size or max";
	return NULL;
}

static bool pressured(const struct mc_vdom *d, const struct mc_balance_params *p)
{
	return !(d->flags & MC_VDOM_NO_RATES) &&
	       (d->swap_in_kib_s + d->swap_out_kib_s >= p->swap_pressure_kib_s ||
		d->major_fault_s >= p->fault_pressure_s);
}

/* Is some eligible guest below low (a rebalance may help it)? */
static bool starving_exists(const struct mc_view *v, const struct mc_balance_params *p);

/* The documented need of a grower, 0 if it does not need to grow. */
static uint64_t need_of(const struct mc_vdom *d, const struct mc_balance_params *p)
{
	uint64_t want, need, consume = 0, room, predicted;
	bool press = pressured(d, p);

	if (!(d->flags & MC_VDOM_NO_RATES) && d->consume_kib_s > 0)
		consume = (uint64_t)d->consume_kib_s;
	predicted = consume * (uint64_t)p->horizon_ms / 1000;
	/* Grown ahead: when headroom will fall below low within the horizon. */
	if (!(d->headroom_kib < p->low_kib + predicted || press))
		return 0;
	want = p->target_kib + predicted;
	need = want > d->headroom_kib ? want - d->headroom_kib : 0;
	if (press && need < p->low_kib)
		need = p->low_kib;
	room = d->max_kib > d->actual_kib ? d->max_kib - d->actual_kib : 0;
	return need < room ? need : room;
}

static bool starving_exists(const struct mc_view *v, const struct mc_balance_params *p)
{
	for (size_t i = 0; i < v->n; i++)
		if (!ineligible_why(&v->dom[i], p, v->now_ns) && v->dom[i].headroom_kib < p->low_kib &&
		    need_of(&v->dom[i], p) > 0)
			return true;
	return false;
}

/* The gradual step a donor gives: shrink_step, or shrink_pct of its
 * surplus above target when that is larger; never more than that surplus
 * nor below the floor. */
static uint64_t step_of(const struct mc_vdom *d, const struct mc_balance_params *p,
			uint64_t floor)
{
	uint64_t above, st;

	if (d->headroom_kib <= p->high_kib)
		return 0;
	above = d->headroom_kib - p->target_kib;
	st = p->shrink_step_kib;
	if (above / 100 * p->shrink_pct > st)
		st = above / 100 * p->shrink_pct;
	if (above < st)
		st = above;
	if (d->actual_kib - floor < st)
		st = d->actual_kib - floor;
	return st;
}

static char fail_msg[512];

#define PROP(cond, ...)                                                      \
	do {                                                                 \
		if (!(cond)) {                                               \
			snprintf(fail_msg, sizeof(fail_msg), __VA_ARGS__);   \
			return false;                                        \
		}                                                            \
	} while (0)

static struct mc_action *acts;
static size_t acts_cap;
static void *scratch;
static size_t scratch_cap;
static unsigned char *seen;   /* per domain: acted on in this plan */

static void ensure(size_t n)
{
	size_t cap = mc_plan_cap_for(n), sc = mc_balance_scratch_size(n);

	if (cap > acts_cap) {
		free(acts);
		acts = calloc(cap, sizeof(*acts));
		free(seen);
		seen = calloc(n + 1, 1);
		acts_cap = cap;
	}
	if (sc > scratch_cap) {
		free(scratch);
		scratch = malloc(sc);
		scratch_cap = sc;
	}
	if (!acts || !scratch || !seen) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
}

static void dump(const struct mc_view *v, const struct mc_balance_params *p);

static size_t actions_checked;
static size_t needless_reclaim_plans;
static bool counting = true;   /* off while minimizing */

/* Run the policy on the view and check every property; false with
 * fail_msg set on the first violation. */
static bool check_view(const struct mc_view *v, const struct mc_balance_params *p)
{
	struct mc_plan plan;
	uint64_t sum_actual = 0, sum_held = 0, sum_after = 0, grants = 0, shrinks = 0, reclaims = 0,
		 steps = 0, slack = MIB(1), pending = 0;
	bool host_emerg, budget_emerg, emergency, squeezing;
	int r;

	ensure(v->n);
	memset(scratch, 0x5a, mc_balance_scratch_size(v->n));
	plan = (struct mc_plan){ .n = 0, .cap = mc_plan_cap_for(v->n), .act = acts };
	r = mc_policy_balance_decide(v, p, scratch, &plan);
	PROP(r == 0, "decide returned %d with a plan of mc_plan_cap_for(%zu)", r, v->n);
	PROP(plan.n <= plan.cap, "plan.n %zu > cap %zu", plan.n, plan.cap);

	for (size_t i = 0; i < v->n; i++) {
		const struct mc_vdom *d = &v->dom[i];

		sum_actual += d->actual_kib;
		/* A grow not yet seen in a sample counts at its target
		 * (documented in policy_balance.c) for the budget. */
		sum_held += settling(d) && d->last_target_kib > d->actual_kib
			? d->last_target_kib : d->actual_kib;
		/* Shrinks memcoord made whose balloons are still inflating
		 * (not yet stuck): memory on its way back. */
		if (d->last_set_ns && d->last_target_kib < d->actual_kib &&
		    v->now_ns - d->last_set_ns < p->stuck_ms * MC_NS_PER_MS)
			pending += d->actual_kib - d->last_target_kib;
	}
	sum_after = sum_actual;
	host_emerg = v->host.has_free && v->host.free_kib < p->host_reserve_kib;
	budget_emerg = p->budget_kib && sum_held > p->budget_kib;
	emergency = host_emerg || budget_emerg;
	/* Squeezing below target (and no rebalancing) only in the emergency
	 * the policy documents: balloons above the budget with no shrink in
	 * flight to bring them back. Above it with enough in flight, nothing
	 * is granted (checked with `emergency`) but a rebalance may go on. */
	squeezing = host_emerg || (p->budget_kib && sum_held > p->budget_kib + pending);

	memset(seen, 0, v->n);
	for (size_t k = 0; k < plan.n; k++) {
		const struct mc_action *a = &plan.act[k];
		const struct mc_vdom *d;
		const char *why;
		char rtext[MC_REASON_LEN];
		const char *r = mc_reason_format(a, rtext, sizeof(rtext));
		uint64_t t = a->target_kib, floor;

		PROP(a->dom < v->n, "action %zu for domain %u of %zu", k, a->dom, v->n);
		d = &v->dom[a->dom];
		PROP(!seen[a->dom], "domain %u acted on twice", a->dom);
		seen[a->dom] = 1;
		why = ineligible_why(d, p, v->now_ns);
		PROP(!why, "domain %u acted on although %s (target %" PRIu64 ", \"%s\")",
		     a->dom, why, t, r);
		PROP(r[0] && strlen(r) < MC_REASON_LEN - 1,
		     "domain %u: empty or truncated reason (\"%s\")", a->dom, r);
		PROP(t != d->actual_kib, "domain %u: no-op action (\"%s\")", a->dom, r);
		PROP(!(in_stuck_window(d, p, v->now_ns, MIB(8)) && d->last_target_kib < d->actual_kib &&
		       t < d->actual_kib),
		     "domain %u shrunk although its balloon failed to shrink (\"%s\")", a->dom, r);
		floor = d->floor_kib < d->max_kib ? d->floor_kib : d->max_kib;
		if (t > d->actual_kib) {
			grants += t - d->actual_kib;
			slack += MIN_GROW_KIB;
			sum_after += t - d->actual_kib;
			PROP(strncmp(r, "grow: ", 6) == 0,
			     "domain %u grown with reason \"%s\"", a->dom, r);
			PROP(t <= d->max_kib, "domain %u grown to %" PRIu64 " above max %" PRIu64,
			     a->dom, t, d->max_kib);
			PROP(d->actual_kib < floor || t >= floor,
			     "domain %u target %" PRIu64 " below floor %" PRIu64, a->dom, t, floor);
			PROP(!emergency, "domain %u grown in an emergency (%s)", a->dom,
			     host_emerg ? "host below its reserve" : "balloons above the budget");
		} else {
			uint64_t s = d->actual_kib - t;

			shrinks += s;
			sum_after -= s;
			PROP(strncmp(r, "shrink: ", 8) == 0 ||
			     strncmp(r, "reclaim: ", 9) == 0 ||
			     strncmp(r, "squeeze: ", 9) == 0 ||
			     strncmp(r, "rebalance: ", 11) == 0,
			     "domain %u shrunk with reason \"%s\"", a->dom, r);
			PROP(t >= floor, "domain %u shrunk to %" PRIu64 " below floor %" PRIu64
			     " (actual %" PRIu64 ")", a->dom, t, floor, d->actual_kib);
			PROP(s <= d->headroom_kib, "domain %u shrunk by %" PRIu64
			     " below its used memory (headroom %" PRIu64 ")", a->dom, s, d->headroom_kib);
			/* Outside an emergency nobody goes below target, but
			 * a rebalance for guests below low goes down to low. */
			if (strncmp(r, "rebalance: ", 11) == 0) {
				PROP(!squeezing && starving_exists(v, p),
				     "domain %u rebalanced without a guest below low, or in an emergency",
				     a->dom);
				PROP(d->headroom_kib - s >= p->low_kib,
				     "domain %u rebalanced to headroom %" PRIu64 " < low %" PRIu64,
				     a->dom, d->headroom_kib - s, p->low_kib);
			}
			PROP(squeezing || strncmp(r, "rebalance: ", 11) == 0 ||
			     d->headroom_kib - s >= p->target_kib,
			     "domain %u shrunk by %" PRIu64 " to headroom %" PRIu64
			     " < target %" PRIu64 " outside an emergency (\"%s\")", a->dom, s,
			     d->headroom_kib - s, p->target_kib, r);
			PROP(!d->last_grow_ns ||
			     v->now_ns - d->last_grow_ns >= p->cooldown_ms * MC_NS_PER_MS,
			     "domain %u shrunk %" PRId64 " ms after a grow (cooldown %" PRId64 " ms)",
			     a->dom, (int64_t)((v->now_ns - d->last_grow_ns) / MC_NS_PER_MS), p->cooldown_ms);
			PROP(squeezing || strncmp(r, "squeeze: ", 9) != 0,
			     "domain %u squeezed outside an emergency", a->dom);
			if (strncmp(r, "shrink: ", 8) == 0) {
				PROP(s <= step_of(d, p, floor), "domain %u: plain shrink %" PRIu64
				     " > step %" PRIu64 " (shrink_step %" PRIu64 ", shrink_pct %u)",
				     a->dom, s, step_of(d, p, floor), p->shrink_step_kib,
				     p->shrink_pct);
				steps += s;
			} else {
				/* The gradual step a donor gives anyway, within a
				 * reclaim. */
				uint64_t st = step_of(d, p, floor);

				st = st < s ? st : s;
				steps += st;
				reclaims += s - st;
				slack += MIB(4);
			}
		}
		if (counting)
			actions_checked++;
	}

	/* The host reserve. */
	if (v->host.has_free) {
		int64_t room = (int64_t)v->host.free_kib - (int64_t)p->host_reserve_kib;

		if (room < 0)
			room = 0;
		PROP((int64_t)grants - (int64_t)shrinks <= room,
		     "grants %" PRIu64 " - shrinks %" PRIu64 " > host free %" PRIu64
		     " - reserve %" PRIu64, grants, shrinks, v->host.free_kib,
		     p->host_reserve_kib);
	}
	/* The budget. */
	if (p->budget_kib && sum_actual <= p->budget_kib)
		PROP(sum_after <= p->budget_kib, "balloons %" PRIu64 " -> %" PRIu64
		     " above budget %" PRIu64, sum_actual, sum_after, p->budget_kib);
	/* Conservation. */
	{
		bool bounded = false;
		int64_t avail = INT64_MAX;

		if (v->host.has_free) {
			bounded = true;
			avail = (int64_t)v->host.free_kib - (int64_t)p->host_reserve_kib;
		}
		if (p->budget_kib) {
			int64_t b = (int64_t)p->budget_kib - (int64_t)sum_actual;

			bounded = true;
			if (b < avail)
				avail = b;
		}
		if (avail < 0)
			avail = 0;
		if (bounded)
			PROP(grants <= shrinks + (uint64_t)avail,
			     "grants %" PRIu64 " > shrinks %" PRIu64 " + available %" PRId64,
			     grants, shrinks, avail);
		/* Diagnostic (not a failure): memory reclaimed beyond the
		 * gradual steps although the grants did not need it. */
		if (!emergency && reclaims > MIB(1)) {
			uint64_t a = v->host.has_free ? (uint64_t)avail : 0;
			uint64_t needed = grants > steps + a ? grants - steps - a : 0;

			if (reclaims > needed + slack && counting) {
				if (getenv("PROPS_SHOW_RECLAIM") && needless_reclaim_plans < 3) {
					fprintf(stderr, "needless reclaim: %" PRIu64 " reclaimed beyond steps, "
						"%" PRIu64 " needed\n", reclaims, needed);
					dump(v, p);
				}
				needless_reclaim_plans++;
			}
		}
	}
	/* Liveness: the host covers every need. */
	if (v->host.has_free && !p->budget_kib && !emergency) {
		uint64_t demand = 0;

		for (size_t i = 0; i < v->n; i++) {
			const struct mc_vdom *d = &v->dom[i];

			if (ineligible_why(d, p, v->now_ns))
				continue;
			demand += need_of(d, p);
		}
		uint64_t inflight = 0;

		for (size_t i = 0; i < v->n; i++)
			inflight += mc_vdom_inflight_kib(&v->dom[i], v->now_ns);
		/* The host grants what its free memory shows above the reserve,
		 * less what balloons were granted but have not taken yet. */
		if (demand + inflight <= v->host.free_kib - p->host_reserve_kib) {
			for (size_t i = 0; i < v->n; i++) {
				const struct mc_vdom *d = &v->dom[i];
				uint64_t need, got = 0;

				if (ineligible_why(d, p, v->now_ns))
					continue;
				need = need_of(d, p);
				if (need < MIN_GROW_KIB)
					continue;
				for (size_t k = 0; k < plan.n; k++)
					if (plan.act[k].dom == i && plan.act[k].target_kib > d->actual_kib)
						got = plan.act[k].target_kib - d->actual_kib;
				PROP(got == need, "domain %zu needs %" PRIu64 " and the host has %" PRIu64
				     " above its reserve for a total demand of %" PRIu64 ", granted %" PRIu64,
				     i, need, v->host.free_kib - p->host_reserve_kib, demand, got);
			}
		}
	}
	return true;
}

/* ---- minimizing and dumping a failing view ----------------------------- */

static void dump(const struct mc_view *v, const struct mc_balance_params *p)
{
	fprintf(stderr,
		"  params: low %" PRIu64 " target %" PRIu64 " high %" PRIu64 " step %" PRIu64
		" KiB (or %u%%), cooldown %" PRId64 " horizon %" PRId64 " ms, stale %u, stuck %" PRId64
		"/%" PRId64 " ms, swap %" PRIu64 " KiB/s, faults %" PRIu64 "/s, budget %" PRIu64
		" reserve %" PRIu64 " KiB\n",
		p->low_kib, p->target_kib, p->high_kib, p->shrink_step_kib, p->shrink_pct,
		p->cooldown_ms, p->horizon_ms, p->stale_samples, p->stuck_ms, p->stuck_recheck_ms,
		p->swap_pressure_kib_s, p->fault_pressure_s, p->budget_kib, p->host_reserve_kib);
	fprintf(stderr, "  now %" PRId64 "; host: has_free %d free %" PRIu64 " total %" PRIu64
		" KiB taken %" PRId64 "\n", v->now_ns, v->host.has_free, v->host.free_kib,
		v->host.total_kib, v->host.taken_ns);
	for (size_t i = 0; i < v->n; i++) {
		const struct mc_vdom *d = &v->dom[i];

		fprintf(stderr,
			"  [%zu] flags 0x%x present 0x%x actual %" PRIu64 " max %" PRIu64
			" floor %" PRIu64 " headroom %" PRIu64 " KiB, consume %" PRId64
			" KiB/s, swap %" PRIu64 "+%" PRIu64 " KiB/s, faults %" PRIu64
			"/s, stale %u, weight %u, taken %" PRId64 " last_set %" PRId64
			" last_target %" PRIu64 " last_grow %" PRId64 "\n",
			i, d->flags, d->present, d->actual_kib, d->max_kib, d->floor_kib,
			d->headroom_kib, d->consume_kib_s, d->swap_in_kib_s, d->swap_out_kib_s,
			d->major_fault_s, d->stale_samples, d->weight, d->taken_ns,
			d->last_set_ns, d->last_target_kib, d->last_grow_ns);
	}
	/* And what the policy decided on the minimized view. */
	{
		struct mc_plan plan;

		ensure(v->n);
		plan = (struct mc_plan){ .n = 0, .cap = mc_plan_cap_for(v->n), .act = acts };
		if (mc_policy_balance_decide(v, p, scratch, &plan) == 0)
			for (size_t k = 0; k < plan.n; k++)
				fprintf(stderr, "  plan: [%u] %" PRIu64 " -> %" PRIu64 " KiB: %s\n",
					plan.act[k].dom, v->dom[plan.act[k].dom].actual_kib,
					plan.act[k].target_kib, reason(&plan.act[k]));
	}
}

/* Remove domains (in chunks, then one by one) while the view still fails. */
static void minimize(struct mc_view *v, const struct mc_balance_params *p)
{
	struct mc_vdom *tmp = malloc(v->n * sizeof(*tmp));
	size_t chunk = v->n / 2 ? v->n / 2 : 1;

	if (!tmp)
		return;
	counting = false;
	while (v->n > 1) {
		bool removed = false;

		for (size_t at = 0; at < v->n && v->n > 1;) {
			size_t len = chunk < v->n - at ? chunk : v->n - at;
			size_t n0 = v->n;

			if (len == n0)
				len = n0 - 1;
			memcpy(tmp, v->dom, n0 * sizeof(*tmp));
			memmove(&v->dom[at], &v->dom[at + len], (n0 - at - len) * sizeof(*tmp));
			v->n = n0 - len;
			if (!check_view(v, p)) {
				removed = true;     /* keep it out; retry at the same place */
			} else {
				memcpy(v->dom, tmp, n0 * sizeof(*tmp));
				v->n = n0;
				at += len;
			}
		}
		if (chunk == 1 && !removed)
			break;
		if (chunk > 1)
			chunk /= 2;
	}
	free(tmp);
	check_view(v, p);   /* leave fail_msg for the minimized view */
	counting = true;
}

static int failures;

static void run_seed(uint64_t seed, size_t nmin, size_t nmax, size_t *views)
{
	static struct mc_vdom *dom;
	static size_t dom_cap;
	struct gen g;
	size_t n;

	rng_seed(seed);
	n = (size_t)range(nmin, nmax);
	if (n > dom_cap) {
		free(dom);
		dom = malloc(n * sizeof(*dom));
		dom_cap = n;
		if (!dom)
			exit(2);
	}
	g.dom = dom;
	gen_view(&g, n);
	(*views)++;
	if (check_view(&g.v, &g.p))
		return;
	failures++;
	check_failures++;
	if (failures <= 3) {
		fprintf(stderr, "FAIL seed %" PRIu64 " (%zu domains): %s\n", seed, n, fail_msg);
		minimize(&g.v, &g.p);
		fprintf(stderr, "  minimized to %zu domain(s): %s\n", g.v.n, fail_msg);
		dump(&g.v, &g.p);
	} else {
		fprintf(stderr, "FAIL seed %" PRIu64 ": %s\n", seed, fail_msg);
	}
}

int main(int argc, char **argv)
{
	size_t views = 0, small = 2000, big = 10;

	/* Optional: more views for a longer soak (not used by meson). */
	if (argc > 1)
		small = (size_t)strtoull(argv[1], NULL, 10);
	for (uint64_t s = 1; s <= small; s++)
		run_seed(s, 1, 64, &views);
	printf("%s - %zu random views of 1..64 domains\n", failures ? "FAIL" : "ok", views);
	{
		int before = failures;
		size_t before_views = views;

		for (uint64_t s = 1; s <= big; s++)
			run_seed(1000000 + s, 5000, 5000, &views);
		printf("%s - %zu random views of 5,000 domains\n",
		       failures != before ? "FAIL" : "ok", views - before_views);
	}
	printf("%zu views, %zu actions checked, %d failing view(s)\n", views, actions_checked,
	       failures);
	printf("diagnostic: %zu non-emergency plan(s) reclaimed beyond the gradual steps "
	       "more than their grants needed\n", needless_reclaim_plans);
	free(acts);
	free(scratch);
	free(seen);
	return check_failures ? 1 : 0;
}
