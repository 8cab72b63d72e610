/* memcoord — tests of the arbiter's wake-up predicates (wake.h): which
 * samples call for a decision now and which wait for the interval's pass. */
#include <stdio.h>
#include <string.h>

#include "memcoord/config.h"
#include "memcoord/wake.h"

#include "check.h"

#define MIB(x) ((uint64_t)(x) * 1024u)

static struct mc_balance_params params(void)
{
	struct mc_config c;
	struct mc_balance_params p;

	mc_config_defaults(&c);
	p = c.params.bal;
	p.host_reserve_kib = MIB(512);
	mc_config_free(&c);
	return p;
}

/* A running guest with trusted statistics and rates, 1 GiB balloon out of
 * 2 GiB, `head` MiB of headroom, nothing moving. */
static struct mc_sample sample(uint64_t head_mib)
{
	struct mc_sample s;

	memset(&s, 0, sizeof(s));
	s.state = MC_DOM_RUNNING;
	s.max_kib = MIB(2048);
	s.has_stats = true;
	s.stats.val[MC_STAT_ACTUAL] = MIB(1024);
	s.stats.present = 1u << MC_STAT_ACTUAL;
	s.sig.has_rates = true;
	s.sig.fresh = true;
	s.sig.headroom_kib = MIB(head_mib);
	return s;
}

static void report(const char *name, int before)
{
	printf("%s - %s\n", check_failures == before ? "ok" : "FAIL", name);
}

static void test_quiet(void)
{
	int before = check_failures;
	struct mc_balance_params p = params();
	struct mc_wake_mark m = { 0 };
	struct mc_sample s = sample(200);   /* between low 128 and high 256 */

	CHECK(mc_wake_domain(&m, &s, &p));          /* its first sample */
	CHECK(!mc_wake_domain(&m, &s, &p));
	s.sig.consume_kib_s = 1024;                 /* 3 MiB over the horizon: still above low */
	CHECK(!mc_wake_domain(&m, &s, &p));
	s.sig.consume_kib_s = -MIB(50);
	CHECK(!mc_wake_domain(&m, &s, &p));
	/* A lost connection forgets the mark: the next sample is a first. */
	m = (struct mc_wake_mark){ 0 };
	CHECK(mc_wake_domain(&m, &s, &p));
	report("a guest between the watermarks wakes the arbiter only with its first sample", before);
}

static void test_needs_memory(void)
{
	int before = check_failures;
	struct mc_balance_params p = params();
	struct mc_wake_mark m = { 0 };
	struct mc_sample s = sample(200);

	mc_wake_domain(&m, &s, &p);
	s.sig.headroom_kib = MIB(100);              /* below low: every sample */
	CHECK(mc_wake_domain(&m, &s, &p));
	CHECK(mc_wake_domain(&m, &s, &p));
	/* Above low, but below it within the horizon at 30 MiB/s. */
	s.sig.headroom_kib = MIB(200);
	s.sig.consume_kib_s = (int64_t)MIB(30);
	CHECK(mc_wake_domain(&m, &s, &p));
	/* Grants that vanished: the rate is not predicted from. */
	s.sig.unabsorbed = 1;
	CHECK(!mc_wake_domain(&m, &s, &p));
	s.sig.unabsorbed = 0;
	s.sig.has_rates = false;
	CHECK(!mc_wake_domain(&m, &s, &p));
	/* Pressure, with plenty of headroom on paper. */
	s = sample(200);
	s.sig.swap_in_kib_s = p.swap_pressure_kib_s;
	CHECK(mc_wake_domain(&m, &s, &p));
	s.sig.swap_in_kib_s = 0;
	s.sig.major_fault_s = p.fault_pressure_s;
	CHECK(mc_wake_domain(&m, &s, &p));
	s.sig.has_rates = false;                    /* no rates: no pressure */
	CHECK(!mc_wake_domain(&m, &s, &p));
	/* At its maximum: no room to grow into. */
	s = sample(100);
	s.stats.val[MC_STAT_ACTUAL] = s.max_kib;
	CHECK(!mc_wake_domain(&m, &s, &p));
	report("a guest that may need memory wakes it with every sample, unless it cannot grow", before);
}

static void test_surplus(void)
{
	int before = check_failures;
	struct mc_balance_params p = params();
	struct mc_wake_mark m = { 0 };
	struct mc_sample s = sample(200);

	mc_wake_domain(&m, &s, &p);
	s.sig.headroom_kib = MIB(900);              /* surplus appears */
	CHECK(mc_wake_domain(&m, &s, &p));
	CHECK(!mc_wake_domain(&m, &s, &p));         /* left alone: the interval's pass */
	s.sig.moved_kib = -(int64_t)MIB(64);        /* a shrink step landed */
	CHECK(mc_wake_domain(&m, &s, &p));
	s.sig.moved_kib = 512;                      /* noise */
	CHECK(!mc_wake_domain(&m, &s, &p));
	s.sig.moved_kib = 0;
	s.sig.headroom_kib = MIB(200);
	CHECK(!mc_wake_domain(&m, &s, &p));
	s.sig.headroom_kib = MIB(900);
	CHECK(mc_wake_domain(&m, &s, &p));
	report("surplus wakes it when it appears and after each balloon move", before);
}

static void test_changes(void)
{
	int before = check_failures;
	struct mc_balance_params p = params();
	struct mc_wake_mark m = { 0 };
	struct mc_sample s = sample(200);

	mc_wake_domain(&m, &s, &p);
	s.state = MC_DOM_PAUSED;
	CHECK(mc_wake_domain(&m, &s, &p));
	s.sig.headroom_kib = MIB(50);               /* paused: not decided on */
	CHECK(!mc_wake_domain(&m, &s, &p));
	s = sample(200);
	CHECK(mc_wake_domain(&m, &s, &p));          /* resumed */
	s.sig.bad = MC_BAD_UNUSED;
	CHECK(mc_wake_domain(&m, &s, &p));          /* no longer trusted */
	s.sig.headroom_kib = 0;
	CHECK(!mc_wake_domain(&m, &s, &p));
	s = sample(200);
	CHECK(mc_wake_domain(&m, &s, &p));          /* trusted again */
	s.sig.stale_samples = p.stale_samples;
	CHECK(mc_wake_domain(&m, &s, &p));          /* stale */
	s.sig.headroom_kib = MIB(50);
	CHECK(!mc_wake_domain(&m, &s, &p));
	s = sample(200);
	CHECK(mc_wake_domain(&m, &s, &p));          /* fresh again */
	s.has_stats = false;
	CHECK(mc_wake_domain(&m, &s, &p));          /* statistics gone */
	CHECK(!mc_wake_domain(&m, &s, &p));
	report("a change of state, statistics, trust or staleness wakes it once", before);
}

static void test_host(void)
{
	int before = check_failures;
	struct mc_balance_params p = params();
	struct mc_host_mem h = { .total_kib = MIB(65536), .free_kib = MIB(8192), .has_total = true };

	CHECK(mc_wake_host(true, &h, &p));
	CHECK(!mc_wake_host(false, &h, &p));
	h.free_kib = p.host_reserve_kib - 1;
	CHECK(mc_wake_host(false, &h, &p));
	report("the host wakes it with its first sample and below the reserve", before);
}

int main(void)
{
	test_quiet();
	test_needs_memory();
	test_surplus();
	test_changes();
	test_host();
	return check_failures ? 1 : 0;
}
