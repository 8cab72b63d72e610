/* memcoord — tests of the seed policy (a pure function: views are struct
 * literals, no hypervisor) and of the policy table. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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

/* An eligible domain: UUID {id, 0...}, sizes in MiB. */
#define DOM(id, actual_mib, unused_mib) {                                   \
	.uuid = { (id) },                                                   \
	.present = 1u << MC_STAT_UNUSED,                                    \
	.actual_kib = MIB(actual_mib),                                      \
	.max_kib = MIB(4096),                                               \
	.floor_kib = MIB(200),                                              \
	.unused_kib = MIB(unused_mib),                                      \
	.taken_ns = 1,                                                      \
}

#define HOST_PLENTY { .has_free = true, .free_kib = MIB(8192), .total_kib = MIB(16384), .taken_ns = 1 }
#define HOST_SHORT  { .has_free = true, .free_kib = MIB(50), .total_kib = MIB(16384), .taken_ns = 1 }

#define NACT 64
static struct mc_action acts[NACT];

static const struct mc_seed_params params = {
	.loaded_kib = MIB(100),
	.free_kib = MIB(300),
};

/* Run the seed on doms[0..n) with the given host and a plan of capacity cap. */
static int run(struct mc_vdom *doms, size_t n, struct mc_vhost host, size_t cap,
	       struct mc_plan *plan)
{
	struct mc_view v = { .now_ns = 2, .host = host, .n = n, .dom = doms };

	memset(acts, 0, sizeof(acts));
	*plan = (struct mc_plan){ .n = 0, .cap = cap, .act = acts };
	return mc_policy_seed_decide(&v, &params, plan);
}

/* The action for view index idx, NULL if none; checks there is at most one. */
static const struct mc_action *act_for(const struct mc_plan *plan, uint32_t idx)
{
	const struct mc_action *found = NULL;
	int count = 0;

	for (size_t i = 0; i < plan->n; i++)
		if (plan->act[i].dom == idx) {
			found = &plan->act[i];
			count++;
		}
	CHECK(count <= 1);
	return found;
}

/* Every action has a non-empty, terminated reason from the seed. */
static void check_reasons(const struct mc_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		const char *r = reason(&plan->act[i]);

		CHECK(memchr(r, '\0', MC_REASON_LEN) != NULL);
		CHECK(strncmp(r, "seed: ", 6) == 0);
		CHECK(strlen(r) > 6);
	}
}

static void report(const char *name, int before)
{
	printf("%s - %s\n", check_failures == before ? "ok" : "FAIL", name);
}

static void test_transfer(void)
{
	int before = check_failures;
	struct mc_vdom d[] = { DOM(1, 1024, 80), DOM(2, 2048, 900), DOM(3, 1024, 200) };
	struct mc_plan plan;
	const struct mc_action *a;

	CHECK(run(d, 3, (struct mc_vhost)HOST_PLENTY, NACT, &plan) == 0);
	CHECK(plan.n == 2);
	a = act_for(&plan, 0);
	CHECK(a && a->target_kib == MIB(1124));
	a = act_for(&plan, 1);
	CHECK(a && a->target_kib == MIB(1948));
	CHECK(!act_for(&plan, 2));
	check_reasons(&plan);
	a = act_for(&plan, 0);
	CHECK(a && strstr(reason(a), "+100 MiB"));
	a = act_for(&plan, 1);
	CHECK(a && strstr(reason(a), "-100 MiB"));
	report("transfer from the freest to the most loaded", before);
}

static void test_host_grant(void)
{
	int before = check_failures;
	struct mc_vdom d[] = { DOM(1, 1024, 250), DOM(2, 1024, 80), DOM(3, 1024, 299) };
	struct mc_plan plan;
	const struct mc_action *a;

	CHECK(run(d, 3, (struct mc_vhost)HOST_PLENTY, NACT, &plan) == 0);
	CHECK(plan.n == 1);
	a = act_for(&plan, 1);
	CHECK(a && a->target_kib == MIB(1324));
	check_reasons(&plan);
	report("grant FREE from the host when nobody has FREE unused", before);
}

static void test_reclaim_d2(void)
{
	int before = check_failures;
	struct mc_vdom d[] = { DOM(1, 1024, 150), DOM(2, 2048, 900), DOM(3, 1024, 500) };
	struct mc_plan plan;
	const struct mc_action *a;

	CHECK(run(d, 3, (struct mc_vhost)HOST_PLENTY, NACT, &plan) == 0);
	CHECK(plan.n == 1);
	a = act_for(&plan, 1);
	CHECK(a && a->target_kib == MIB(1948));
	check_reasons(&plan);
	report("reclaim LOADED from D2 only when nobody is loaded", before);
}

static void test_nothing(void)
{
	int before = check_failures;
	struct mc_vdom d[] = { DOM(1, 1024, 101), DOM(2, 2048, 299), DOM(3, 1024, 200) };
	struct mc_plan plan;

	CHECK(run(d, 3, (struct mc_vhost)HOST_SHORT, NACT, &plan) == 0);
	CHECK(plan.n == 0);
	report("nothing to do between the thresholds (even with the host short)", before);
}

static void test_host_short(void)
{
	int before = check_failures;
	/* A loaded, B is D2, C wastes, D exactly FREE, E between. */
	struct mc_vdom d[] = { DOM(1, 1024, 80), DOM(2, 2048, 900), DOM(3, 1536, 500),
			       DOM(4, 1024, 300), DOM(5, 1024, 200) };
	struct mc_vdom e[] = { DOM(1, 1024, 150), DOM(2, 2048, 900), DOM(3, 1536, 500) };
	struct mc_plan plan;
	const struct mc_action *a;

	CHECK(run(d, 5, (struct mc_vhost)HOST_SHORT, NACT, &plan) == 0);
	CHECK(plan.n == 3);
	a = act_for(&plan, 0);
	CHECK(a && a->target_kib == MIB(1124));
	a = act_for(&plan, 1);   /* once, by the transfer */
	CHECK(a && a->target_kib == MIB(1948));
	a = act_for(&plan, 2);
	CHECK(a && a->target_kib == MIB(1436));
	CHECK(a && strstr(reason(a), "host free 50 MiB"));
	CHECK(!act_for(&plan, 3));
	CHECK(!act_for(&plan, 4));
	check_reasons(&plan);

	/* Step 3 reclaimed D2; step 4 must not act on it again. */
	CHECK(run(e, 3, (struct mc_vhost)HOST_SHORT, NACT, &plan) == 0);
	CHECK(plan.n == 2);
	a = act_for(&plan, 1);
	CHECK(a && a->target_kib == MIB(1948));
	a = act_for(&plan, 2);
	CHECK(a && a->target_kib == MIB(1436));
	CHECK(!act_for(&plan, 0));
	check_reasons(&plan);
	report("host short: reclaim from every domain above FREE, once each", before);
}

static void test_boundaries(void)
{
	int before = check_failures;
	struct mc_vdom loaded_eq[] = { DOM(1, 1024, 100), DOM(2, 1024, 299) };
	struct mc_vdom free_eq[] = { DOM(1, 1024, 100), DOM(2, 1024, 300) };
	struct mc_vdom reclaim_gt[] = { DOM(1, 1024, 150), DOM(2, 1024, 301), DOM(3, 1024, 300) };
	struct mc_vdom host_eq[] = { DOM(1, 1024, 150), DOM(2, 1024, 900), DOM(3, 1024, 500) };
	struct mc_vhost h_eq = { .has_free = true, .free_kib = MIB(100), .taken_ns = 1 };
	struct mc_vhost h_lt = { .has_free = true, .free_kib = MIB(100) - 1, .taken_ns = 1 };
	struct mc_plan plan;
	const struct mc_action *a;

	/* unused == LOADED is loaded; 299 < FREE: grant from the host. */
	CHECK(run(loaded_eq, 2, (struct mc_vhost)HOST_PLENTY, NACT, &plan) == 0);
	CHECK(plan.n == 1);
	a = act_for(&plan, 0);
	CHECK(a && a->target_kib == MIB(1324));
	/* unused == FREE counts as free: transfer. */
	CHECK(run(free_eq, 2, (struct mc_vhost)HOST_PLENTY, NACT, &plan) == 0);
	CHECK(plan.n == 2);
	a = act_for(&plan, 0);
	CHECK(a && a->target_kib == MIB(1124));
	a = act_for(&plan, 1);
	CHECK(a && a->target_kib == MIB(924));
	/* Host reclaim needs unused strictly > FREE: 300 is left alone. */
	CHECK(run(reclaim_gt, 3, (struct mc_vhost)HOST_SHORT, NACT, &plan) == 0);
	CHECK(plan.n == 1);
	CHECK(act_for(&plan, 1) != NULL);
	CHECK(!act_for(&plan, 2));
	/* Host free == LOADED is not short; one KiB less is. */
	CHECK(run(host_eq, 3, h_eq, NACT, &plan) == 0);
	CHECK(plan.n == 1);
	CHECK(act_for(&plan, 1) != NULL);
	CHECK(run(host_eq, 3, h_lt, NACT, &plan) == 0);
	CHECK(plan.n == 2);
	CHECK(act_for(&plan, 2) != NULL);
	check_reasons(&plan);
	report("boundaries: == LOADED loaded, == FREE free, host step strict", before);
}

static void test_ties(void)
{
	int before = check_failures;
	/* Two equally loaded (uuid 5 and 3) and two equally free (9 and 7). */
	struct mc_vdom ab[] = { DOM(5, 1024, 80), DOM(3, 1000, 80),
				DOM(9, 2048, 900), DOM(7, 2000, 900) };
	struct mc_vdom ba[] = { DOM(7, 2000, 900), DOM(3, 1000, 80),
				DOM(9, 2048, 900), DOM(5, 1024, 80) };
	struct mc_plan plan;
	const struct mc_action *a;

	CHECK(run(ab, 4, (struct mc_vhost)HOST_PLENTY, NACT, &plan) == 0);
	CHECK(plan.n == 2);
	a = act_for(&plan, 1);   /* uuid 3 */
	CHECK(a && a->target_kib == MIB(1100));
	a = act_for(&plan, 3);   /* uuid 7 */
	CHECK(a && a->target_kib == MIB(1900));

	CHECK(run(ba, 4, (struct mc_vhost)HOST_PLENTY, NACT, &plan) == 0);
	CHECK(plan.n == 2);
	a = act_for(&plan, 1);   /* uuid 3 */
	CHECK(a && a->target_kib == MIB(1100));
	a = act_for(&plan, 0);   /* uuid 7 */
	CHECK(a && a->target_kib == MIB(1900));
	check_reasons(&plan);
	report("ties broken by the smallest UUID, whatever the view order", before);
}

static void test_one_domain(void)
{
	int before = check_failures;
	struct mc_vdom loaded[] = { DOM(1, 1024, 50) };
	struct mc_vdom wasting[] = { DOM(1, 1024, 900) };
	struct mc_vdom middle[] = { DOM(1, 1024, 200) };
	struct mc_plan plan;

	CHECK(run(loaded, 1, (struct mc_vhost)HOST_PLENTY, NACT, &plan) == 0);
	CHECK(plan.n == 1 && acts[0].dom == 0 && acts[0].target_kib == MIB(1324));
	CHECK(run(wasting, 1, (struct mc_vhost)HOST_PLENTY, NACT, &plan) == 0);
	CHECK(plan.n == 1 && acts[0].dom == 0 && acts[0].target_kib == MIB(924));
	/* Host short too: still one action for the one domain. */
	CHECK(run(wasting, 1, (struct mc_vhost)HOST_SHORT, NACT, &plan) == 0);
	CHECK(plan.n == 1 && acts[0].target_kib == MIB(924));
	CHECK(run(middle, 1, (struct mc_vhost)HOST_PLENTY, NACT, &plan) == 0);
	CHECK(plan.n == 0);
	check_reasons(&plan);
	report("one domain: loaded gets a host grant, wasting gives back", before);
}

static void test_no_domains(void)
{
	int before = check_failures;
	struct mc_plan plan;

	CHECK(run(NULL, 0, (struct mc_vhost)HOST_SHORT, NACT, &plan) == 0);
	CHECK(plan.n == 0);
	CHECK(run(NULL, 0, (struct mc_vhost)HOST_SHORT, 0, &plan) == 0);
	report("no domains: empty plan", before);
}

static void test_missing_stats(void)
{
	int before = check_failures;
	struct mc_vdom d[] = { DOM(1, 1024, 80), DOM(2, 2048, 900), DOM(3, 1024, 0),
			       DOM(4, 4096, 3000), DOM(0, 1024, 10) };
	struct mc_vdom none[] = { DOM(1, 1024, 0), DOM(2, 1024, 3000) };
	struct mc_plan plan;
	const struct mc_action *a;

	d[2].present = 1u << MC_STAT_ACTUAL;        /* no UNUSED: would be D1 */
	d[3].flags = MC_VDOM_NO_STATS;              /* would be D2 and host-reclaimed */
	d[4].present = 0;                           /* least unused, smallest UUID */
	d[4].flags = MC_VDOM_NO_STATS;
	CHECK(run(d, 5, (struct mc_vhost)HOST_SHORT, NACT, &plan) == 0);
	CHECK(plan.n == 2);
	a = act_for(&plan, 0);
	CHECK(a && a->target_kib == MIB(1124));
	a = act_for(&plan, 1);
	CHECK(a && a->target_kib == MIB(1948));
	CHECK(!act_for(&plan, 2));
	CHECK(!act_for(&plan, 3));
	CHECK(!act_for(&plan, 4));
	check_reasons(&plan);

	none[0].present = 0;
	none[1].flags = MC_VDOM_NO_STATS;
	CHECK(run(none, 2, (struct mc_vhost)HOST_SHORT, NACT, &plan) == 0);
	CHECK(plan.n == 0);
	report("domains without UNUSED or with NO_STATS are never chosen", before);
}

static void test_host_unknown(void)
{
	int before = check_failures;
	struct mc_vdom d[] = { DOM(1, 1024, 150), DOM(2, 2048, 900), DOM(3, 1536, 500) };
	struct mc_vhost unknown = { .has_free = false, .free_kib = 0, .taken_ns = 0 };
	struct mc_plan plan;

	CHECK(run(d, 3, unknown, NACT, &plan) == 0);
	CHECK(plan.n == 1);
	CHECK(act_for(&plan, 1) != NULL);
	CHECK(!act_for(&plan, 2));
	report("host free unknown: no host-short reclaim", before);
}

static void test_small_actual(void)
{
	int before = check_failures;
	struct mc_vdom d[] = { DOM(1, 1024, 80), DOM(2, 50, 900) };
	struct mc_vdom h[] = { DOM(1, 1024, 150), DOM(2, 60, 900), DOM(3, 99, 400) };
	struct mc_vdom big[] = { DOM(1, 0, 10) };
	struct mc_plan plan;
	const struct mc_action *a;

	CHECK(run(d, 2, (struct mc_vhost)HOST_PLENTY, NACT, &plan) == 0);
	a = act_for(&plan, 1);
	CHECK(a && a->target_kib == 0);
	CHECK(run(h, 3, (struct mc_vhost)HOST_SHORT, NACT, &plan) == 0);
	CHECK(plan.n == 2);
	a = act_for(&plan, 1);
	CHECK(a && a->target_kib == 0);
	a = act_for(&plan, 2);
	CHECK(a && a->target_kib == 0);
	/* And a grow never wraps around. */
	big[0].actual_kib = UINT64_MAX - 10;
	CHECK(run(big, 1, (struct mc_vhost)HOST_PLENTY, NACT, &plan) == 0);
	CHECK(plan.n == 1 && acts[0].target_kib == UINT64_MAX);
	report("small balloons: targets floor at 0, grows saturate", before);
}

static void test_enospc(void)
{
	int before = check_failures;
	struct mc_vdom t[] = { DOM(1, 1024, 80), DOM(2, 2048, 900) };
	struct mc_vdom g[] = { DOM(1, 1024, 80) };
	struct mc_vdom h[] = { DOM(1, 1024, 150), DOM(2, 2048, 900), DOM(3, 1536, 500),
			       DOM(4, 1536, 400) };
	struct mc_plan plan;

	CHECK(run(t, 2, (struct mc_vhost)HOST_PLENTY, 1, &plan) == -ENOSPC);
	CHECK(plan.n <= plan.cap);
	CHECK(run(g, 1, (struct mc_vhost)HOST_PLENTY, 0, &plan) == -ENOSPC);
	CHECK(run(h, 4, (struct mc_vhost)HOST_SHORT, 2, &plan) == -ENOSPC);
	CHECK(plan.n <= plan.cap);
	CHECK(run(h, 4, (struct mc_vhost)HOST_SHORT, 3, &plan) == 0);
	CHECK(plan.n == 3);
	/* The documented capacity always suffices. */
	CHECK(run(h, 4, (struct mc_vhost)HOST_SHORT, mc_plan_cap_for(4), &plan) == 0);
	report("-ENOSPC when the plan is too small", before);
}

static void test_reason_units(void)
{
	int before = check_failures;
	struct mc_vdom d[] = { DOM(1, 1024, 0), DOM(2, 1024, 900) };
	struct mc_seed_params odd = { .loaded_kib = MIB(100) + 512, .free_kib = MIB(300) };
	struct mc_view v = { .host = HOST_PLENTY, .n = 2, .dom = d };
	struct mc_plan plan = { .n = 0, .cap = NACT, .act = acts };

	d[0].unused_kib = MIB(80);
	CHECK(mc_policy_seed_decide(&v, &odd, &plan) == 0);
	CHECK(plan.n == 2);
	CHECK(strstr(reason(&acts[0]), "loaded 100.5 MiB") != NULL);
	CHECK(acts[0].target_kib == MIB(1124) + 512);
	check_reasons(&plan);
	report("reasons show MiB with one decimal when not whole", before);
}

static void test_find(void)
{
	int before = check_failures;
	const struct mc_policy *p = mc_policy_find("seed");
	struct mc_vdom d[] = { DOM(1, 1024, 80), DOM(2, 2048, 900) };
	struct mc_view v = { .host = HOST_PLENTY, .n = 2, .dom = d };
	struct mc_policy_params pp = { .seed = params };
	struct mc_plan plan = { .n = 0, .cap = NACT, .act = acts };

	CHECK(p == &mc_policy_seed);
	CHECK(p && strcmp(p->name, "seed") == 0);
	CHECK(p && !p->reactive && p->scratch_size == NULL);
	CHECK(mc_policy_find("nope") == NULL);
	CHECK(mc_policy_find("") == NULL);
	CHECK(mc_policy_find(NULL) == NULL);
	CHECK(p && p->decide(&v, &pp, NULL, &plan) == 0 && plan.n == 2);
	report("mc_policy_find and the policy table entry", before);
}

int main(void)
{
	test_transfer();
	test_host_grant();
	test_reclaim_d2();
	test_nothing();
	test_host_short();
	test_boundaries();
	test_ties();
	test_one_domain();
	test_no_domains();
	test_missing_stats();
	test_host_unknown();
	test_small_actual();
	test_enospc();
	test_reason_units();
	test_find();
	if (check_failures)
		fprintf(stderr, "%d check(s) failed\n", check_failures);
	return check_failures ? 1 : 0;
}
