/* Fuzz target: guest statistics as hostile input (signals.c), and the
 * policies fed what the checks let through.
 *
 * The input drives 1..8 domains, each through 1..16 samples (present bits,
 * values chosen around the balloon, the maximum and the 64 TiB limit, times
 * between samples from 0 to hours, backwards too) handled as the collector
 * does: the last fresh trusted sample is the base for rates, a counter or
 * clock going backwards starts rates over. After every sample:
 *   - a rejected sample carries nothing else (headroom, rates, counts 0);
 *   - a trusted one has no memory figure above 64 TiB, none above the
 *     larger of its balloon and the previous one (+ the 64 MiB slack), a
 *     balloon within its maximum (+ slack), and headroom <= balloon;
 *   - rates only with a previous sample; swap at most 64 GiB/s, faults at
 *     most 1e8/s; the consumption rate no faster than 64 TiB over the time
 *     between the two samples, nor than 64 TiB/s (no overflow).
 * The last samples become a view as the arbiter builds it (floors, maxima,
 * weights, flags and actuator stamps from the input too) and both policies
 * decide on it with parameters that pass validation. The balance policy's
 * plan: each action for a domain of the view, once, with a reason, eligible
 * (not paused, excluded, untrusted, without stats); targets within
 * [min(floor, max), max] (or moving toward it); with a budget the
 * balloons already respect, the sum of targets respects it too; grants
 * minus shrinks within the host's free memory above its reserve. The seed
 * policy (it leaves clamping to the actuator): actions for domains of the
 * view, once each, eligible. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcoord/hv.h"
#include "memcoord/policy.h"
#include "memcoord/signals.h"

#include "fuzz.h"

#define MAX_DOMS 8
#define MAX_SAMPLES 16
#define SLACK_KIB (64ULL * 1024)   /* signals.c's */
#define MAX_SWAP_KIB_S (64ULL * 1024 * 1024)
#define MAX_FAULT_S 100000000ULL
#define MIB(x) ((uint64_t)(x) * 1024)
#define GIB(x) (MIB(x) * 1024)
#define NOW ((int64_t)1000000 * MC_NS_PER_S)

/* The collector's state for one domain (collector.c, derive_signals). */
struct dom {
	bool has_prev, has_last_sig;
	struct mc_stats prev, cur;
	int64_t prev_ns, cur_ns;
	struct mc_signals last_sig, sig;
	uint64_t last_actual_kib;
	uint64_t max_kib;
	uint32_t bad_total, samples;
};

/* A memory figure: around the balloon (the interesting edge), the
 * maximum, the 64 TiB limit, or anything. */
static uint64_t mem_value(struct fuzz_in *in, uint64_t actual, uint64_t max)
{
	uint8_t shape = fuzz_u8(in);
	uint64_t v = fuzz_u64(in);

	switch (shape % 8) {
	case 0: return v;
	case 1: return actual == UINT64_MAX ? v : v % (actual + 1);   /* within the balloon */
	case 2: return actual + v % (2 * SLACK_KIB);             /* over it, around the slack */
	case 3: return actual > SLACK_KIB ? actual - v % SLACK_KIB : v % SLACK_KIB;
	case 4: return MC_SIG_MAX_KIB - 4 + v % 8;               /* the limit */
	case 5: return max + v % (2 * SLACK_KIB);
	case 6: return v % GIB(64);
	default: return v & 0xff;
	}
}

/* A counter: mostly forward from its previous value. */
static uint64_t counter_value(struct fuzz_in *in, uint64_t prev)
{
	uint8_t shape = fuzz_u8(in);
	uint64_t v = fuzz_u64(in);

	switch (shape % 4) {
	case 0: return v;
	case 1: return prev + v % MIB(1);
	case 2: return prev > 0 ? prev - 1 - v % prev : 0;    /* backwards */
	default: return prev + (v & 0xffff);
	}
}

/* Time between two samples: about a second, tiny, none, backwards, hours. */
static int64_t time_step(struct fuzz_in *in)
{
	uint8_t shape = fuzz_u8(in);
	uint32_t v = fuzz_u32(in);

	switch (shape % 6) {
	case 0: return MC_NS_PER_S + (int64_t)(v % MC_NS_PER_S) - MC_NS_PER_S / 2;
	case 1: return 1 + (int64_t)(v % 1000);
	case 2: return 0;
	case 3: return -(int64_t)(v % (10 * MC_NS_PER_S));
	case 4: return (int64_t)v * 1000;
	default: return (int64_t)(v % 1000000) * 1000;
	}
}

static void check_signals(const struct dom *d, const struct mc_signals *s, int64_t dt_ns)
{
	const struct mc_stats *c = &d->cur;

	FUZZ_ASSERT(!(s->bad & ~((1u << MC_BAD_NBITS) - 1)), "unknown bad bits 0x%x", s->bad);
	if (s->bad) {
		FUZZ_ASSERT(!s->has_rates && !s->headroom_kib && !s->consume_kib_s &&
			    !s->swap_in_kib_s && !s->swap_out_kib_s && !s->major_fault_s &&
			    !s->stale_samples && !s->unabsorbed && !s->jump_kib && !s->trusted &&
			    !s->fresh,
			    "rejected sample (0x%x) carries values", s->bad);
		return;
	}
	FUZZ_ASSERT(s->jump_kib <= MC_SIG_MAX_KIB, "jump %llu above 64 TiB",
		    (unsigned long long)s->jump_kib);
	FUZZ_ASSERT(s->trusted >= 1 && (s->trusted > MC_SIG_JUMP_AFTER || !s->jump_kib),
		    "jump %llu after %u trusted samples", (unsigned long long)s->jump_kib,
		    s->trusted);
	for (int t = 0; t < MC_STAT_NR; t++) {
		if (!mc_stats_has(c, t))
			continue;
		if (t == MC_STAT_UNUSED || t == MC_STAT_USABLE || t == MC_STAT_AVAILABLE ||
		    t == MC_STAT_DISK_CACHES || t == MC_STAT_ACTUAL || t == MC_STAT_SWAP_IN ||
		    t == MC_STAT_SWAP_OUT)
			FUZZ_ASSERT(c->val[t] <= MC_SIG_MAX_KIB, "trusted %s %llu above 64 TiB",
				    mc_stat_name(t), (unsigned long long)c->val[t]);
	}
	if (mc_stats_has(c, MC_STAT_ACTUAL)) {
		uint64_t a = c->val[MC_STAT_ACTUAL];
		uint64_t recent = d->last_actual_kib ? d->last_actual_kib : d->max_kib;
		uint64_t base = a > recent ? a : recent;
		uint64_t lim = base > UINT64_MAX - SLACK_KIB ? UINT64_MAX : base + SLACK_KIB;
		static const enum mc_stat guest[] = {
			MC_STAT_UNUSED, MC_STAT_USABLE, MC_STAT_AVAILABLE, MC_STAT_DISK_CACHES,
		};

		for (size_t i = 0; i < sizeof(guest) / sizeof(guest[0]); i++)
			FUZZ_ASSERT(!mc_stats_has(c, guest[i]) || c->val[guest[i]] <= lim,
				    "trusted %s %llu above the balloon %llu (previous %llu)",
				    mc_stat_name(guest[i]), (unsigned long long)c->val[guest[i]],
				    (unsigned long long)a, (unsigned long long)d->last_actual_kib);
		FUZZ_ASSERT(!d->max_kib || a <= d->max_kib + SLACK_KIB,
			    "trusted balloon %llu above max %llu", (unsigned long long)a,
			    (unsigned long long)d->max_kib);
		FUZZ_ASSERT(s->headroom_kib <= a, "headroom %llu above the balloon %llu",
			    (unsigned long long)s->headroom_kib, (unsigned long long)a);
	}
	if (!s->has_rates) {
		FUZZ_ASSERT(!s->consume_kib_s && !s->swap_in_kib_s && !s->swap_out_kib_s &&
			    !s->major_fault_s, "rates without has_rates");
		return;
	}
	FUZZ_ASSERT(d->has_prev || d->has_last_sig, "rates without a previous sample");
	FUZZ_ASSERT(s->swap_in_kib_s <= MAX_SWAP_KIB_S && s->swap_out_kib_s <= MAX_SWAP_KIB_S,
		    "swap rates %llu/%llu KiB/s", (unsigned long long)s->swap_in_kib_s,
		    (unsigned long long)s->swap_out_kib_s);
	FUZZ_ASSERT(s->major_fault_s <= MAX_FAULT_S, "fault rate %llu/s",
		    (unsigned long long)s->major_fault_s);
	if (s->fresh && dt_ns > 0) {
		/* Used memory is within 0..64 TiB on both sides; the rate is
		 * clamped to 64 TiB/s. Across a grow of the balloon the
		 * previous estimate may be kept (it is lower than the
		 * measurement), which was bounded by its own interval. */
		double bound = (double)MC_SIG_MAX_KIB * MC_NS_PER_S / (double)dt_ns + 1;
		bool carried = d->has_last_sig && d->last_sig.has_rates &&
			       s->consume_kib_s == d->last_sig.consume_kib_s;

		if (bound > (double)MC_SIG_MAX_KIB || carried)
			bound = (double)MC_SIG_MAX_KIB;
		double c = (double)s->consume_kib_s;

		FUZZ_ASSERT(c <= bound && -c <= bound, "consumption %lld KiB/s over %lld ns",
			    (long long)s->consume_kib_s, (long long)dt_ns);
	}
}

/* One sample through the sanity checks, kept as the collector keeps it. */
static void sample(struct dom *d, struct fuzz_in *in)
{
	struct mc_stats *c = &d->cur;
	const struct mc_stats *p = d->has_prev ? &d->prev : NULL;
	uint64_t actual;
	int64_t dt = time_step(in);
	struct mc_signals *s = &d->sig;

	memset(c, 0, sizeof(*c));
	c->present = (uint32_t)fuzz_bytes(in, 2) & ((1u << MC_STAT_NR) - 1);
	/* Mostly a balloon within the maximum. */
	actual = fuzz_u8(in) % 4 ? fuzz_range(in, 0, d->max_kib ? d->max_kib : GIB(4))
				 : mem_value(in, d->last_actual_kib, d->max_kib);
	for (int t = 0; t < MC_STAT_NR; t++) {
		if (!(c->present & (1u << t)))
			continue;
		switch (t) {
		case MC_STAT_ACTUAL:
			c->val[t] = actual;
			break;
		case MC_STAT_SWAP_IN: case MC_STAT_SWAP_OUT: case MC_STAT_MAJOR_FAULT:
		case MC_STAT_MINOR_FAULT: case MC_STAT_LAST_UPDATE:
			c->val[t] = counter_value(in, p ? p->val[t] : 0);
			break;
		default:
			c->val[t] = mem_value(in, actual, d->max_kib);
			break;
		}
	}
	d->cur_ns += dt;
	mc_signals_derive(p, d->prev_ns, d->has_last_sig ? &d->last_sig : NULL,
			  c, d->cur_ns, d->max_kib, d->last_actual_kib, s);
	check_signals(d, s, p ? d->cur_ns - d->prev_ns : 0);
	d->samples++;
	FUZZ_ASSERT(s->unabsorbed <= d->samples, "unabsorbed %u after %u samples",
		    s->unabsorbed, d->samples);
	d->last_actual_kib = c->val[MC_STAT_ACTUAL];
	if (s->bad) {
		d->bad_total++;
		if (s->bad & (MC_BAD_COUNTER | MC_BAD_LAST_UPDATE))
			d->has_prev = d->has_last_sig = false;
	} else {
		d->last_sig = *s;
		d->has_last_sig = true;
		if (s->fresh) {
			d->prev = *c;
			d->prev_ns = d->cur_ns;
			d->has_prev = true;
		}
	}
}

/* Parameters that pass mc_config_validate: low < target < high, every
 * time and count positive. */
static void gen_params(struct fuzz_in *in, struct mc_policy_params *pp)
{
	struct mc_balance_params *p = &pp->bal;
	uint8_t mode = fuzz_u8(in);

	*p = (struct mc_balance_params){
		.low_kib = MIB(128), .target_kib = MIB(192), .high_kib = MIB(256),
		.shrink_step_kib = MIB(64), .shrink_pct = 12, .cooldown_ms = 10000,
		.horizon_ms = 3000, .stale_samples = 5, .stuck_ms = 5000,
		.stuck_recheck_ms = 60000, .swap_pressure_kib_s = 1024,
		.fault_pressure_s = 100, .budget_kib = 0, .host_reserve_kib = MIB(512),
	};
	pp->seed.loaded_kib = MIB(100);
	pp->seed.free_kib = MIB(300);
	if (mode & 1) {
		p->low_kib = fuzz_range(in, 0, GIB(64));
		p->target_kib = p->low_kib + fuzz_range(in, 1, GIB(64));
		p->high_kib = p->target_kib + fuzz_range(in, 1, GIB(64));
		p->shrink_step_kib = fuzz_range(in, 1, GIB(64));
		p->shrink_pct = (uint32_t)fuzz_range(in, 0, 100);
		p->cooldown_ms = (int64_t)fuzz_range(in, 1, 86400000);
		p->horizon_ms = (int64_t)fuzz_range(in, 1, 86400000);
		p->stale_samples = (uint32_t)fuzz_range(in, 1, 1000000);
		p->stuck_ms = (int64_t)fuzz_range(in, 1, 86400000);
		p->stuck_recheck_ms = (int64_t)fuzz_range(in, 1, 86400000);
		p->swap_pressure_kib_s = fuzz_range(in, 1, MC_SIG_MAX_KIB);
		p->fault_pressure_s = fuzz_range(in, 1, 1000000000);
		pp->seed.loaded_kib = fuzz_range(in, 1, GIB(64));
		pp->seed.free_kib = pp->seed.loaded_kib + fuzz_range(in, 1, GIB(64));
	}
	p->host_reserve_kib = mode & 2 ? fuzz_range(in, 0, MC_SIG_MAX_KIB) : MIB(512);
	if (mode & 4)
		p->budget_kib = fuzz_range(in, 1, MC_SIG_MAX_KIB);
}

/* The view as the arbiter builds it (arbiter.c, fill_vdom). */
static void fill_vdom(struct mc_vdom *v, const struct dom *d, uint32_t i, struct fuzz_in *in)
{
	const uint64_t *val = d->cur.val;
	uint8_t fl = fuzz_u8(in);

	memset(v, 0, sizeof(*v));
	memcpy(v->uuid, &i, sizeof(i));
	if (fl & 1)
		v->flags |= MC_VDOM_PAUSED;
	if (fl & 2)
		v->flags |= MC_VDOM_EXCLUDED;
	if (fl & 4)
		v->flags |= MC_VDOM_NO_STATS;
	if (d->sig.bad)
		v->flags |= MC_VDOM_UNTRUSTED;
	if (!d->sig.has_rates)
		v->flags |= MC_VDOM_NO_RATES;
	v->present = d->cur.present;
	v->actual_kib = val[MC_STAT_ACTUAL];
	v->max_kib = d->max_kib;
	v->floor_kib = fl & 8 ? fuzz_range(in, 0, d->max_kib + GIB(1)) : MIB(200);
	v->unused_kib = val[MC_STAT_UNUSED];
	v->usable_kib = val[MC_STAT_USABLE];
	v->available_kib = val[MC_STAT_AVAILABLE];
	v->disk_caches_kib = val[MC_STAT_DISK_CACHES];
	v->swap_in_kib = val[MC_STAT_SWAP_IN];
	v->swap_out_kib = val[MC_STAT_SWAP_OUT];
	v->major_fault = val[MC_STAT_MAJOR_FAULT];
	v->last_update = val[MC_STAT_LAST_UPDATE];
	v->seq = d->samples;
	v->taken_ns = NOW - (int64_t)fuzz_range(in, 0, 2 * MC_NS_PER_S);
	v->headroom_kib = d->sig.headroom_kib;
	v->consume_kib_s = d->sig.consume_kib_s;
	v->swap_in_kib_s = d->sig.swap_in_kib_s;
	v->swap_out_kib_s = d->sig.swap_out_kib_s;
	v->major_fault_s = d->sig.major_fault_s;
	v->stale_samples = d->sig.stale_samples;
	v->unabsorbed = d->sig.unabsorbed;
	v->jump_kib = d->sig.jump_kib;
	v->bad_samples = d->bad_total;
	v->weight = (uint32_t)fuzz_range(in, 1, 1000);
	/* The actuator's stamps: a change a while ago, or just now. */
	if (fl & 16) {
		v->last_set_ns = NOW - (int64_t)fuzz_range(in, 0, 200 * MC_NS_PER_S);
		v->last_target_kib = fuzz_range(in, 0, d->max_kib);
		v->set_last_update = fl & 32 ? v->last_update : 0;
		if (fl & 64)
			v->last_grow_ns = v->last_set_ns;
	}
}

static bool eligible(const struct mc_vdom *d)
{
	return !(d->flags & (MC_VDOM_PAUSED | MC_VDOM_NO_STATS | MC_VDOM_EXCLUDED |
			     MC_VDOM_UNTRUSTED));
}

static void check_balance(const struct mc_view *v, const struct mc_balance_params *p,
			  const struct mc_plan *plan)
{
	/* Exact: a rejected sample's balloon may be anything up to 2^64. */
	__int128 sum_actual = 0, sum_after = 0, grants = 0, shrinks = 0;
	bool seen[MAX_DOMS] = {false};

	for (size_t i = 0; i < v->n; i++)
		sum_actual += v->dom[i].actual_kib;
	sum_after = sum_actual;
	FUZZ_ASSERT(plan->n <= plan->cap, "plan %zu > cap %zu", plan->n, plan->cap);
	for (size_t k = 0; k < plan->n; k++) {
		const struct mc_action *a = &plan->act[k];
		const struct mc_vdom *d;
		uint64_t t = a->target_kib, floor;
		char why[MC_REASON_LEN];
		const char *reason = mc_reason_format(a, why, sizeof(why));

		FUZZ_ASSERT(a->dom < v->n, "action for domain %u of %zu", a->dom, v->n);
		FUZZ_ASSERT(!seen[a->dom], "domain %u acted on twice", a->dom);
		seen[a->dom] = true;
		d = &v->dom[a->dom];
		FUZZ_ASSERT(memchr(reason, '\0', MC_REASON_LEN) && reason[0],
			    "domain %u: no reason", a->dom);
		FUZZ_ASSERT(eligible(d), "domain %u (flags 0x%x) acted on: %s", a->dom, d->flags,
			    reason);
		FUZZ_ASSERT(t != d->actual_kib, "domain %u: no-op action: %s", a->dom, reason);
		floor = d->floor_kib < d->max_kib ? d->floor_kib : d->max_kib;
		if (t > d->actual_kib) {
			grants += t - d->actual_kib;
			sum_after += t - d->actual_kib;
			FUZZ_ASSERT(t <= d->max_kib, "domain %u grown to %llu above max %llu: %s",
				    a->dom, (unsigned long long)t, (unsigned long long)d->max_kib,
				    reason);
			FUZZ_ASSERT(d->actual_kib < floor || t >= floor,
				    "domain %u grown to %llu below floor %llu: %s", a->dom,
				    (unsigned long long)t, (unsigned long long)floor, reason);
		} else {
			shrinks += d->actual_kib - t;
			sum_after -= d->actual_kib - t;
			FUZZ_ASSERT(t >= floor, "domain %u shrunk to %llu below floor %llu: %s",
				    a->dom, (unsigned long long)t, (unsigned long long)floor,
				    reason);
			FUZZ_ASSERT(d->actual_kib - t <= d->headroom_kib,
				    "domain %u shrunk by %llu, more than its headroom %llu: %s",
				    a->dom, (unsigned long long)(d->actual_kib - t),
				    (unsigned long long)d->headroom_kib, reason);
		}
	}
	if (p->budget_kib && sum_actual <= p->budget_kib)
		FUZZ_ASSERT(sum_after <= p->budget_kib, "balloons %.0f -> %.0f above budget %llu",
			    (double)sum_actual, (double)sum_after,
			    (unsigned long long)p->budget_kib);
	if (v->host.has_free) {
		uint64_t room = v->host.free_kib > p->host_reserve_kib
			? v->host.free_kib - p->host_reserve_kib : 0;

		FUZZ_ASSERT(grants <= shrinks + room, "grants %.0f > shrinks %.0f + room %llu",
			    (double)grants, (double)shrinks, (unsigned long long)room);
	}
}

static void check_seed(const struct mc_view *v, const struct mc_plan *plan)
{
	bool seen[MAX_DOMS] = {false};

	FUZZ_ASSERT(plan->n <= plan->cap, "plan %zu > cap %zu", plan->n, plan->cap);
	for (size_t k = 0; k < plan->n; k++) {
		const struct mc_action *a = &plan->act[k];

		FUZZ_ASSERT(a->dom < v->n, "seed: action for domain %u of %zu", a->dom, v->n);
		FUZZ_ASSERT(!seen[a->dom], "seed: domain %u acted on twice", a->dom);
		seen[a->dom] = true;
		FUZZ_ASSERT(!(v->dom[a->dom].flags & (MC_VDOM_NO_STATS | MC_VDOM_EXCLUDED |
						       MC_VDOM_UNTRUSTED)),
			    "seed: domain %u (flags 0x%x) acted on", a->dom, v->dom[a->dom].flags);
		{
			char why[MC_REASON_LEN];

			FUZZ_ASSERT(mc_reason_format(a, why, sizeof(why))[0] != '\0', "seed: reason");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	static struct dom doms[MAX_DOMS];
	struct mc_vdom vdom[MAX_DOMS];
	struct mc_action act[2 * MAX_DOMS + 4];
	static unsigned char scratch[1 << 16];
	struct mc_policy_params pp;
	struct mc_view v;
	struct mc_plan plan;
	size_t n = 1 + fuzz_u8(&in) % MAX_DOMS;
	int rc;

	FUZZ_ASSERT(mc_balance_scratch_size(MAX_DOMS) <= sizeof(scratch), "scratch too small");
	gen_params(&in, &pp);
	for (size_t i = 0; i < n; i++) {
		struct dom *d = &doms[i];
		size_t ns = 1 + fuzz_u8(&in) % MAX_SAMPLES;

		memset(d, 0, sizeof(*d));
		d->max_kib = fuzz_u8(&in) % 8 ? fuzz_range(&in, MIB(64), GIB(256))
					      : mem_value(&in, GIB(1), GIB(1));
		d->cur_ns = NOW - (int64_t)ns * MC_NS_PER_S;
		for (size_t k = 0; k < ns; k++)
			sample(d, &in);
	}

	memset(&v, 0, sizeof(v));
	v.now_ns = NOW;
	v.n = n;
	v.dom = vdom;
	for (size_t i = 0; i < n; i++)
		fill_vdom(&vdom[i], &doms[i], (uint32_t)i, &in);
	if (fuzz_u8(&in) % 8) {
		v.host.has_free = true;
		v.host.free_kib = fuzz_range(&in, 0, MC_SIG_MAX_KIB);
		v.host.total_kib = v.host.free_kib + fuzz_range(&in, 0, MC_SIG_MAX_KIB);
		v.host.taken_ns = NOW;
	}

	plan = (struct mc_plan){.n = 0, .cap = mc_plan_cap_for(n), .act = act};
	rc = mc_policy_balance_decide(&v, &pp.bal, scratch, &plan);
	FUZZ_ASSERT(rc == 0, "balance: %d", rc);
	check_balance(&v, &pp.bal, &plan);

	plan = (struct mc_plan){.n = 0, .cap = mc_plan_cap_for(n), .act = act};
	rc = mc_policy_seed_decide(&v, &pp.seed, &plan);
	FUZZ_ASSERT(rc == 0, "seed: %d", rc);
	check_seed(&v, &plan);
	return 0;
}
