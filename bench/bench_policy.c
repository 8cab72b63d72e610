/* memcoord — benchmark of one policy decision.
 *
 * For 10, 100, 1,000 and 10,000 domains: the median, p99 and max time of one
 * call of mc_policy_balance_decide and of mc_policy_seed_decide, timed with
 * CLOCK_MONOTONIC around the call alone (views, plan and scratch are
 * allocated beforehand, as the arbiter does).
 *
 * Views are realistic mixes, regenerated in 16 variants per size and used in
 * turn (so one view's branch history does not flatter the figures):
 *   steady    - the usual state: ~5% growing (some consuming fast, some
 *               under swap/fault pressure), ~10% surplus donors, ~5% not
 *               eligible (paused, no stats, excluded, stale, settling,
 *               cooling), the rest idle between the watermarks; the host
 *               has plenty above its reserve.
 *   contended - the same guests, but the host has only a quarter of the
 *               growers' need above its reserve: the contention path
 *               (reclaim from surplus, weighted fair shares, its sort).
 *   storm     - worst case: half the guests growing, a third donating,
 *               the host short (every guest acted on, every reason
 *               formatted).
 * The target (issue 3): p99 under 1 ms at 10,000 domains, steady and
 * contended. Exit status 0 either way (timings depend on the machine);
 * `bench_policy --strict` exits 1 if the target is missed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memcoord/config.h"
#include "memcoord/hv.h"
#include "memcoord/policy.h"

#define MIB(x) ((uint64_t)(x) * 1024u)
#define GIB(x) (MIB(x) * 1024u)
#define NOW ((int64_t)100000 * MC_NS_PER_S)
#define VARIANTS 16

enum scenario { STEADY, CONTENDED, STORM, NSCEN };
static const char *const scen_name[NSCEN] = { "steady", "contended", "storm" };

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t range(uint64_t lo, uint64_t hi)
{
	return hi <= lo ? lo : lo + rnd() % (hi - lo + 1);
}

static bool pct(unsigned p) { return rnd() % 100 < p; }

static struct mc_policy_params defparams(void)
{
	struct mc_policy_params pp = {
		.seed = { .loaded_kib = MIB(MC_DEF_LOADED_MIB), .free_kib = MIB(MC_DEF_FREE_MIB) },
		.bal = {
			.low_kib = MIB(MC_DEF_LOW_MIB),
			.target_kib = MIB(MC_DEF_TARGET_MIB),
			.high_kib = MIB(MC_DEF_HIGH_MIB),
			.shrink_step_kib = MIB(MC_DEF_SHRINK_STEP_MIB),
			.cooldown_ms = MC_DEF_COOLDOWN_MS,
			.horizon_ms = MC_DEF_HORIZON_MS,
			.stale_samples = MC_DEF_STALE_SAMPLES,
			.stuck_ms = MC_DEF_STUCK_MS,
			.stuck_recheck_ms = MC_DEF_STUCK_RECHECK_MS,
			.swap_pressure_kib_s = MC_DEF_SWAP_PRESSURE_KIB_S,
			.fault_pressure_s = MC_DEF_FAULT_PRESSURE_S,
			.budget_kib = 0,
			.host_reserve_kib = MIB(MC_DEF_RESERVE_MIN_MIB),
		},
	};

	return pp;
}

/* One guest: 1..16 GiB, headroom by role. */
static void gen_dom(struct mc_vdom *d, uint32_t i, enum scenario sc)
{
	uint64_t a = GIB(range(1, 16)) + MIB(range(0, 1023));
	unsigned grow = sc == STORM ? 50 : 5, give = sc == STORM ? 35 : 10;
	unsigned r = (unsigned)(rnd() % 100);

	memset(d, 0, sizeof(*d));
	memcpy(d->uuid, &i, sizeof(i));
	d->present = (1u << MC_STAT_USABLE) | (1u << MC_STAT_UNUSED) | (1u << MC_STAT_ACTUAL);
	d->actual_kib = a;
	d->max_kib = a + GIB(range(0, 8));
	d->floor_kib = MIB(512);
	d->weight = pct(80) ? 1 : (uint32_t)range(2, 8);
	d->taken_ns = NOW - (int64_t)range(0, MC_NS_PER_S);
	if (pct(70)) {
		d->last_set_ns = NOW - (int64_t)range(20, 600) * MC_NS_PER_S;
		d->last_target_kib = a;
	}
	if (r < grow) {
		d->headroom_kib = MIB(range(0, 127));
		if (pct(30))
			d->consume_kib_s = (int64_t)MIB(range(1, 40));
		if (pct(20)) {
			d->headroom_kib = MIB(range(128, 300));
			d->swap_in_kib_s = range(1024, 8192);
			d->major_fault_s = range(0, 500);
		}
	} else if (r < grow + give) {
		d->headroom_kib = MIB(range(385, 4096));
	} else {
		d->headroom_kib = MIB(range(128, 384));
		d->consume_kib_s = (int64_t)range(0, 512) - 256;
	}
	if (d->headroom_kib > a)
		d->headroom_kib = a;
	d->usable_kib = d->headroom_kib;
	d->unused_kib = d->headroom_kib / 3;
	d->available_kib = a - a / 32;
	if (pct(5)) {
		switch (rnd() % 6) {
		case 0: d->flags |= MC_VDOM_PAUSED; break;
		case 1: d->flags |= MC_VDOM_NO_STATS; d->present = 1u << MC_STAT_ACTUAL; break;
		case 2: d->flags |= MC_VDOM_EXCLUDED; break;
		case 3: d->stale_samples = MC_DEF_STALE_SAMPLES; break;
		case 4: d->last_set_ns = d->taken_ns + 1; d->last_target_kib = a + GIB(1); break;
		default: d->last_set_ns = d->last_grow_ns = NOW - 2 * MC_NS_PER_S; break;
		}
	}
	if (pct(3))
		d->flags |= MC_VDOM_NO_RATES;
}

static void gen_view(struct mc_view *v, struct mc_vdom *dom, size_t n, enum scenario sc,
		     const struct mc_policy_params *pp)
{
	uint64_t sum = 0, need = 0;

	for (size_t i = 0; i < n; i++) {
		gen_dom(&dom[i], (uint32_t)i, sc);
		sum += dom[i].actual_kib;
		if (dom[i].headroom_kib < pp->bal.low_kib)
			need += pp->bal.target_kib - dom[i].headroom_kib;
	}
	*v = (struct mc_view){ .now_ns = NOW, .n = n, .dom = dom };
	v->host.has_free = true;
	v->host.total_kib = sum + GIB(64);
	v->host.taken_ns = NOW - MC_NS_PER_S / 2;
	if (sc == STEADY)
		v->host.free_kib = pp->bal.host_reserve_kib + need * 2 + GIB(8);
	else
		v->host.free_kib = pp->bal.host_reserve_kib + need / 4;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * MC_NS_PER_S + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

struct result {
	double median_us, p99_us, max_us, mean_actions;
};

static struct result summarize(int64_t *t, size_t iters, uint64_t actions)
{
	struct result r;

	qsort(t, iters, sizeof(*t), cmp_i64);
	r.median_us = (double)t[iters / 2] / 1000.0;
	r.p99_us = (double)t[(iters * 99 + 99) / 100 - 1] / 1000.0;
	r.max_us = (double)t[iters - 1] / 1000.0;
	r.mean_actions = (double)actions / (double)iters;
	return r;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 10, 100, 1000, 10000 };
	const struct mc_policy_params pp = defparams();
	bool strict = argc > 1 && strcmp(argv[1], "--strict") == 0;
	bool missed = false;

	printf("one policy decision, CLOCK_MONOTONIC, microseconds (%d view variants per row)\n",
	       VARIANTS);
	printf("%-8s %-10s %-9s %6s %10s %10s %10s %9s\n", "domains", "scenario", "policy",
	       "iters", "median", "p99", "max", "actions");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];
		size_t iters = n >= 10000 ? 500 : 2000;
		struct mc_vdom *dom = malloc(VARIANTS * n * sizeof(*dom));
		struct mc_view *views = malloc(VARIANTS * sizeof(*views));
		struct mc_plan plan = { .cap = mc_plan_cap_for(n) };
		void *scratch = malloc(mc_balance_scratch_size(n));
		int64_t *t = malloc(iters * sizeof(*t));

		plan.act = malloc(plan.cap * sizeof(*plan.act));
		if (!dom || !views || !scratch || !t || !plan.act) {
			fprintf(stderr, "out of memory\n");
			return 2;
		}
		for (int sc = 0; sc < NSCEN; sc++) {
			for (int k = 0; k < VARIANTS; k++)
				gen_view(&views[k], dom + (size_t)k * n, n, (enum scenario)sc, &pp);
			for (int pol = 0; pol < 2; pol++) {
				uint64_t actions = 0;
				struct result r;

				if (pol == 1 && sc != STEADY)
					continue;   /* the seed ignores the host figures that differ */
				/* Warm up: caches, page faults on the plan. */
				for (size_t i = 0; i < 20; i++) {
					plan.n = 0;
					if (pol == 0)
						mc_policy_balance_decide(&views[i % VARIANTS], &pp.bal,
									 scratch, &plan);
					else
						mc_policy_seed_decide(&views[i % VARIANTS], &pp.seed, &plan);
				}
				for (size_t i = 0; i < iters; i++) {
					const struct mc_view *v = &views[i % VARIANTS];
					int64_t t0, t1;
					int rc;

					plan.n = 0;
					t0 = now_ns();
					if (pol == 0)
						rc = mc_policy_balance_decide(v, &pp.bal, scratch, &plan);
					else
						rc = mc_policy_seed_decide(v, &pp.seed, &plan);
					t1 = now_ns();
					if (rc != 0) {
						fprintf(stderr, "decide failed: %d\n", rc);
						return 1;
					}
					t[i] = t1 - t0;
					actions += plan.n;
				}
				r = summarize(t, iters, actions);
				printf("%-8zu %-10s %-9s %6zu %10.1f %10.1f %10.1f %9.0f\n", n,
				       scen_name[sc], pol == 0 ? "balance" : "seed", iters,
				       r.median_us, r.p99_us, r.max_us, r.mean_actions);
				if (n == 10000 && pol == 0 && sc != STORM && r.p99_us >= 1000.0)
					missed = true;
			}
		}
		fflush(stdout);
		free(dom);
		free(views);
		free(scratch);
		free(t);
		free(plan.act);
	}
	printf("target: balance p99 < 1 ms at 10,000 domains (steady, contended): %s\n",
	       missed ? "MISSED" : "met");
	return strict && missed ? 1 : 0;
}
