/* Guest statistics sanity checks and derived signals. */
#include <string.h>

#include "check.h"
#include "memcoord/signals.h"

#define MIB 1024ULL
#define S 1000000000LL

static struct mc_stats mk(uint64_t actual, uint64_t usable, uint64_t unused,
			  uint64_t caches, uint64_t total, uint64_t last_update)
{
	struct mc_stats s;

	memset(&s, 0, sizeof(s));
#define SET(t, v) do { s.val[t] = (v); s.present |= 1u << (t); } while (0)
	SET(MC_STAT_ACTUAL, actual);
	SET(MC_STAT_USABLE, usable);
	SET(MC_STAT_UNUSED, unused);
	SET(MC_STAT_DISK_CACHES, caches);
	SET(MC_STAT_AVAILABLE, total);
	SET(MC_STAT_LAST_UPDATE, last_update);
	SET(MC_STAT_SWAP_IN, 0);
	SET(MC_STAT_SWAP_OUT, 0);
	SET(MC_STAT_MAJOR_FAULT, 0);
	return s;
}

int main(void)
{
	struct mc_signals sig, sig2;
	struct mc_stats a, b;

	/* First sample: headroom only, no rates. */
	a = mk(1024 * MIB, 600 * MIB, 400 * MIB, 150 * MIB, 1000 * MIB, 100);
	mc_signals_derive(NULL, 0, NULL, &a, 1 * S, 2048 * MIB, 0, &sig);
	CHECK(sig.bad == 0 && !sig.has_rates && sig.fresh);
	CHECK(sig.headroom_kib == 600 * MIB);
	printf("first sample: headroom from usable, no rates\n");

	/* Without usable: unused + disk caches. */
	b = a;
	b.present &= ~(1u << MC_STAT_USABLE);
	mc_signals_derive(NULL, 0, NULL, &b, 1 * S, 2048 * MIB, 0, &sig);
	CHECK(sig.headroom_kib == 550 * MIB);
	printf("no usable: unused + disk caches\n");

	/* Consumption: used (total - usable) grows 200 MiB in 2 s. */
	b = mk(1024 * MIB, 400 * MIB, 200 * MIB, 150 * MIB, 1000 * MIB, 102);
	mc_signals_derive(&a, 1 * S, &sig, &b, 3 * S, 2048 * MIB, 0, &sig2);
	CHECK(sig2.bad == 0 && sig2.has_rates && sig2.fresh);
	CHECK(sig2.consume_kib_s == 100 * 1024);
	printf("consumption: %lld KiB/s\n", (long long)sig2.consume_kib_s);

	/* A balloon change seen by the host before the guest reports: actual
	 * moves, the guest's own figures do not: no phantom consumption. */
	b = a;
	b.val[MC_STAT_ACTUAL] = 1324 * MIB;
	b.val[MC_STAT_LAST_UPDATE] = 101;
	mc_signals_derive(&a, 1 * S, &sig, &b, 2 * S, 2048 * MIB, 0, &sig2);
	CHECK(sig2.consume_kib_s == 0);
	printf("balloon moved, guest unchanged: no consumption\n");

	/* Swap and fault rates. */
	b = a;
	b.val[MC_STAT_LAST_UPDATE] = 101;
	b.val[MC_STAT_SWAP_IN] = 10 * MIB;
	b.val[MC_STAT_SWAP_OUT] = 30 * MIB;
	b.val[MC_STAT_MAJOR_FAULT] = 500;
	mc_signals_derive(&a, 1 * S, &sig, &b, 2 * S, 2048 * MIB, 0, &sig2);
	CHECK(sig2.swap_in_kib_s == 10 * MIB && sig2.swap_out_kib_s == 30 * MIB);
	CHECK(sig2.major_fault_s == 500);
	printf("swap and fault rates\n");

	/* Stale: last_update unchanged; rates carried on, count grows. */
	sig.stale_samples = 2;
	sig.has_rates = true;
	sig.consume_kib_s = 777;
	b = a;
	mc_signals_derive(&a, 1 * S, &sig, &b, 2 * S, 2048 * MIB, 0, &sig2);
	CHECK(sig2.bad == 0 && !sig2.fresh && sig2.stale_samples == 3);
	CHECK(sig2.consume_kib_s == 777);
	printf("stale sample counted, rates carried\n");

	/* Impossible values are rejected (the previous sample's balloon was
	 * the same 1024 MiB). */
	b = a;
	b.val[MC_STAT_UNUSED] = 4096 * MIB;
	mc_signals_derive(NULL, 0, NULL, &b, 1 * S, 2048 * MIB, 1024 * MIB, &sig);
	CHECK(sig.bad & MC_BAD_UNUSED);
	CHECK(sig.headroom_kib == 0);
	b = a;
	b.val[MC_STAT_USABLE] = 2000 * MIB;
	mc_signals_derive(NULL, 0, NULL, &b, 1 * S, 2048 * MIB, 1024 * MIB, &sig);
	CHECK(sig.bad & MC_BAD_USABLE);
	b = a;
	b.val[MC_STAT_DISK_CACHES] = 3000 * MIB;
	mc_signals_derive(NULL, 0, NULL, &b, 1 * S, 2048 * MIB, 1024 * MIB, &sig);
	CHECK(sig.bad & MC_BAD_CACHES);
	b = a;
	b.val[MC_STAT_AVAILABLE] = 3000 * MIB;
	mc_signals_derive(NULL, 0, NULL, &b, 1 * S, 2048 * MIB, 1024 * MIB, &sig);
	CHECK(sig.bad & MC_BAD_AVAILABLE);
	b = a;
	b.val[MC_STAT_SWAP_IN] = UINT64_MAX;
	mc_signals_derive(NULL, 0, NULL, &b, 1 * S, 2048 * MIB, 0, &sig);
	CHECK(sig.bad & MC_BAD_MAGNITUDE);
	b = a;
	b.val[MC_STAT_ACTUAL] = 8192 * MIB;
	b.val[MC_STAT_AVAILABLE] = 8000 * MIB;
	mc_signals_derive(NULL, 0, NULL, &b, 1 * S, 2048 * MIB, 0, &sig);
	CHECK(sig.bad & MC_BAD_ACTUAL);
	printf("impossible values rejected\n");

	/* Within the slack (the guest lags the balloon) is accepted, and
	 * headroom never exceeds the balloon. */
	b = a;
	b.val[MC_STAT_USABLE] = 1050 * MIB;
	mc_signals_derive(NULL, 0, NULL, &b, 1 * S, 2048 * MIB, 0, &sig);
	CHECK(sig.bad == 0 && sig.headroom_kib == 1024 * MIB);
	printf("slack accepted, headroom capped at the balloon\n");

	/* Just after a 300 MiB shrink the guest still reports the old
	 * figures: checked against the previous balloon, not rejected. */
	b = a;
	b.val[MC_STAT_ACTUAL] = 724 * MIB;
	mc_signals_derive(NULL, 0, NULL, &b, 1 * S, 2048 * MIB, 1024 * MIB, &sig);
	CHECK(sig.bad == 0);
	CHECK(sig.headroom_kib == 600 * MIB);
	mc_signals_derive(NULL, 0, NULL, &b, 1 * S, 2048 * MIB, 1024 * MIB - 300 * MIB, &sig);
	CHECK(sig.bad & MC_BAD_AVAILABLE);
	printf("figures from before a shrink checked against the previous balloon\n");

	/* A domain's first sample: its guest may still report its boot
	 * memory while the balloon inflates toward <currentMemory>: bounded
	 * by the maximum, not by the balloon. */
	b = a;
	b.val[MC_STAT_ACTUAL] = 700 * MIB;
	b.val[MC_STAT_AVAILABLE] = 2000 * MIB;
	b.val[MC_STAT_USABLE] = 1900 * MIB;
	mc_signals_derive(NULL, 0, NULL, &b, 1 * S, 2048 * MIB, 0, &sig);
	CHECK(sig.bad == 0 && sig.headroom_kib == 700 * MIB);
	b.val[MC_STAT_AVAILABLE] = 2200 * MIB;
	mc_signals_derive(NULL, 0, NULL, &b, 1 * S, 2048 * MIB, 0, &sig);
	CHECK(sig.bad & MC_BAD_AVAILABLE);
	printf("a first sample's figures are bounded by the maximum\n");

	/* Found by fuzzing: the previous sample's balloon, from a rejected
	 * sample, was 2^63 KiB: the movement overflowed. Unknown instead. */
	b = a;
	mc_signals_derive(NULL, 0, NULL, &b, 1 * S, 2048 * MIB, 1ULL << 63, &sig);
	CHECK(sig.bad == 0 && sig.moved_kib == 0);
	printf("an absurd previous balloon: movement unknown\n");

	/* Counters and the stats clock going backwards. */
	a.val[MC_STAT_MAJOR_FAULT] = 1000;
	b = a;
	b.val[MC_STAT_LAST_UPDATE] = 101;
	b.val[MC_STAT_MAJOR_FAULT] = 10;
	mc_signals_derive(&a, 1 * S, NULL, &b, 2 * S, 2048 * MIB, 0, &sig);
	CHECK(sig.bad & MC_BAD_COUNTER);
	CHECK(!sig.has_rates && sig.consume_kib_s == 0);
	b = a;
	b.val[MC_STAT_LAST_UPDATE] = 50;
	mc_signals_derive(&a, 1 * S, NULL, &b, 2 * S, 2048 * MIB, 0, &sig);
	CHECK(sig.bad & MC_BAD_LAST_UPDATE);
	/* An absurd jump is rejected too: 10^12 faults in a second. */
	b = a;
	b.val[MC_STAT_LAST_UPDATE] = 101;
	b.val[MC_STAT_MAJOR_FAULT] = 1000000000000ULL;
	mc_signals_derive(&a, 1 * S, NULL, &b, 2 * S, 2048 * MIB, 0, &sig);
	CHECK(sig.bad & MC_BAD_COUNTER);
	printf("backwards counters and clock rejected\n");

	/* Grants the headroom does not follow are counted; a rise resets. */
	a = mk(1024 * MIB, 10 * MIB, 10 * MIB, 0, 1000 * MIB, 100);
	mc_signals_derive(NULL, 0, NULL, &a, 1 * S, 4096 * MIB, 0, &sig);
	b = mk(1224 * MIB, 10 * MIB, 10 * MIB, 0, 1200 * MIB, 101);
	mc_signals_derive(&a, 1 * S, &sig, &b, 2 * S, 4096 * MIB, 1024 * MIB, &sig2);
	CHECK(sig2.unabsorbed == 1);
	sig = sig2;
	a = b;
	b = mk(1424 * MIB, 10 * MIB, 10 * MIB, 0, 1400 * MIB, 102);
	mc_signals_derive(&a, 2 * S, &sig, &b, 3 * S, 4096 * MIB, 1224 * MIB, &sig2);
	CHECK(sig2.unabsorbed == 2);
	/* A consumer whose headroom takes most of the grant: not counted. */
	sig = sig2;
	a = b;
	b = mk(1624 * MIB, 160 * MIB, 160 * MIB, 0, 1600 * MIB, 103);
	mc_signals_derive(&a, 3 * S, &sig, &b, 4 * S, 4096 * MIB, 1424 * MIB, &sig2);
	CHECK(sig2.unabsorbed == 0);
	/* Measured on the e2e lab: a guest consuming 18 MiB/s granted 72 MiB
	 * shows MemTotal +72 and its headroom +17 (consumption and the lag of
	 * MemAvailable): not counted (it was, against a quarter). In the
	 * next report libvirt shows the balloon grown while the guest's
	 * figures repeat (headroom +0): not a grant seen by the guest, not
	 * counted either way. */
	{
		struct mc_signals s0, s1, s2;
		struct mc_stats c0 = mk(600 * MIB, 120 * MIB, 120 * MIB, 0, 530 * MIB, 300);
		struct mc_stats c1 = mk(672 * MIB, 137 * MIB, 137 * MIB, 0, 602 * MIB, 301);
		struct mc_stats c2;

		mc_signals_derive(NULL, 0, NULL, &c0, 1 * S, 4096 * MIB, 0, &s0);
		s0.unabsorbed = 2;
		mc_signals_derive(&c0, 1 * S, &s0, &c1, 2 * S, 4096 * MIB, 600 * MIB, &s1);
		CHECK(s1.unabsorbed == 0);
		/* The guest shows the grant before libvirt shows the balloon. */
		c1.val[MC_STAT_ACTUAL] = 600 * MIB;
		c2 = c1;
		c2.val[MC_STAT_ACTUAL] = 672 * MIB;
		c2.val[MC_STAT_LAST_UPDATE] = 302;
		s1.unabsorbed = 2;
		mc_signals_derive(&c1, 2 * S, &s1, &c2, 3 * S, 4096 * MIB, 600 * MIB, &s2);
		CHECK(s2.unabsorbed == 2);
	}
	printf("grants the headroom does not follow are counted\n");

	/* Across a grow, the guest shows MemTotal up by all of it but
	 * MemAvailable up by less (real guests: 20-30 MiB less for a few
	 * seconds). The previous estimate is kept. Guest consuming
	 * 20 MiB/s: */
	a = mk(1000 * MIB, 300 * MIB, 300 * MIB, 0, 980 * MIB, 100);
	b = mk(1000 * MIB, 280 * MIB, 280 * MIB, 0, 980 * MIB, 101);
	mc_signals_derive(NULL, 0, NULL, &a, 1 * S, 4096 * MIB, 0, &sig);
	mc_signals_derive(&a, 1 * S, &sig, &b, 2 * S, 4096 * MIB, 1000 * MIB, &sig2);
	CHECK(sig2.consume_kib_s == 20 * 1024);
	/* Grown by 100 MiB: MemAvailable shows 53 of them (100 - 20 used -
	 * 27 lagging), which reads as 47 MiB/s. */
	sig = sig2;
	a = b;
	b = mk(1100 * MIB, 333 * MIB, 333 * MIB, 0, 1080 * MIB, 102);
	mc_signals_derive(&a, 2 * S, &sig, &b, 3 * S, 4096 * MIB, 1000 * MIB, &sig2);
	CHECK(sig2.consume_kib_s == 20 * 1024);
	CHECK(sig2.moved_kib == 100 * (int64_t)MIB);
	printf("consumption across a grow: %lld KiB/s (measured 47 MiB/s kept at 20)\n",
	       (long long)sig2.consume_kib_s);
	/* Nor lower: reported mid-deflate, MemTotal and MemAvailable both
	 * part of the way up, it reads as 5 MiB/s. */
	b = mk(1100 * MIB, 375 * MIB, 375 * MIB, 0, 1080 * MIB, 102);
	mc_signals_derive(&a, 2 * S, &sig, &b, 3 * S, 4096 * MIB, 1000 * MIB, &sig2);
	CHECK(sig2.consume_kib_s == 20 * 1024 && sig2.carried == 1);
	/* Measured over the last two intervals between settled reports.
	 * The figures settle over the report showing a rise of MemTotal and
	 * the next two, which keep the estimate and never start a
	 * measurement. From a real guest consuming 20 MiB/s and reporting
	 * every second (MemTotal, used = MemTotal - MemAvailable, MiB):
	 * 955.5/775.7 before; 1030.1/830.6 (+54.9: the rise); 830.6 (+0);
	 * 834.8 (+4.2); 855.7 (+20.9). One interval at a time that reads
	 * 55, 0, 4, 21 MiB/s. */
	{
		struct mc_signals s[9];
		struct mc_stats c[9];
		/* used (MiB) at each report, one a second; c[3] the rise */
		static const double used[9] = { 755, 775, 795, 850, 850, 854.2, 875.1, 895.1, 927.1 };
		int64_t want;

		for (int i = 0; i < 9; i++) {
			uint64_t total = (i < 3 ? 955 : 1050) * MIB;

			c[i] = mk(1024 * MIB, 0, 0, 0, total, 200 + (uint64_t)i);
			c[i].val[MC_STAT_USABLE] = c[i].val[MC_STAT_UNUSED] =
				total - (uint64_t)(used[i] * MIB);
		}
		mc_signals_derive(NULL, 0, NULL, &c[0], 1 * S, 4096 * MIB, 0, &s[0]);
		for (int i = 1; i < 9; i++)
			mc_signals_derive(&c[i - 1], i * S, &s[i - 1], &c[i], (i + 1) * S,
					  4096 * MIB, 1024 * MIB, &s[i]);
		/* One interval, then two. */
		CHECK(s[1].consume_kib_s == 20 * 1024 && s[2].consume_kib_s == 20 * 1024);
		/* The rise and the next two: kept. */
		CHECK(s[3].consume_kib_s == 20 * 1024 && s[3].carried == 1 && s[3].win.settling == 2);
		CHECK(s[4].consume_kib_s == 20 * 1024 && s[4].carried == 2 && s[4].win.settling == 1);
		CHECK(s[5].consume_kib_s == 20 * 1024 && s[5].carried == 3 && s[5].win.settling == 0);
		/* Then from the settled report before the last one: c[1]
		 * (775; c[2] is the last), over the settling reports. */
		want = (int64_t)((875.1 - 775) * 1024 / 5);
		CHECK(s[6].consume_kib_s >= want - 1 && s[6].consume_kib_s <= want + 1 && s[6].carried == 0);
		want = (int64_t)((895.1 - 795) * 1024 / 5);
		CHECK(s[7].consume_kib_s >= want - 1 && s[7].consume_kib_s <= want + 1);
		/* Settled reports only: two intervals again. A 32 MiB rise in
		 * one of them (a single noisy second) after a 20 MiB one reads
		 * as 26 MiB/s, not 32. */
		want = (int64_t)((927.1 - 875.1) * 1024 / 2);
		CHECK(s[8].consume_kib_s >= want - 1 && s[8].consume_kib_s <= want + 1);
		/* No jump counted while settling: the 55 MiB "rise" is the
		 * lag, not a step. */
		CHECK(s[3].jump_kib == 0 && s[5].jump_kib == 0);
		printf("consumption around a rise: 55, 0, 4, 21 MiB/s one interval at a time; kept 3 times, then %lld KiB/s; +32 after +20 reads %lld\n",
		       (long long)s[6].consume_kib_s, (long long)s[8].consume_kib_s);
	}
	/* A guest grown at every sample keeps the estimate MAX_CARRIED (6)
	 * times in a row and is then measured from the last settled report:
	 * 50 MiB/s over seven intervals, its lag diluted. */
	{
		struct mc_signals sg[9];
		struct mc_stats c[9];

		for (int i = 0; i < 9; i++)
			c[i] = mk((uint64_t)(1000 + 100 * i) * MIB, 300 * MIB, 300 * MIB, 0,
				  (uint64_t)(980 + 100 * i) * MIB, 300 + (uint64_t)i);
		/* used = total - usable: usable rises by 100 - 50 each time. */
		for (int i = 0; i < 9; i++)
			c[i].val[MC_STAT_USABLE] = c[i].val[MC_STAT_UNUSED] = (uint64_t)(300 + 50 * i) * MIB;
		mc_signals_derive(NULL, 0, NULL, &c[0], 1 * S, 4096 * MIB, 0, &sg[0]);
		sg[0].has_rates = true;        /* a previous estimate to keep */
		sg[0].consume_kib_s = 10 * 1024;
		for (int i = 1; i < 8; i++)
			mc_signals_derive(&c[i - 1], i * S, &sg[i - 1], &c[i], (i + 1) * S, 4096 * MIB,
					  c[i - 1].val[MC_STAT_ACTUAL], &sg[i]);
		CHECK(sg[6].consume_kib_s == 10 * 1024 && sg[6].carried == 6);
		CHECK(sg[7].consume_kib_s == 50 * 1024 && sg[7].carried == 0 && sg[7].win.settling == 2);
		CHECK(sg[7].win.bases == 1 && sg[7].win.base_ns == 1 * S);
		printf("grown at every sample: kept 6 times, then %lld KiB/s from the last settled report\n",
		       (long long)sg[7].consume_kib_s);
	}
	/* Without MemTotal, the balloon tells the rise. */
	{
		struct mc_signals s0, s1, s2;
		struct mc_stats c0 = mk(1000 * MIB, 300 * MIB, 300 * MIB, 0, 0, 400);
		struct mc_stats c1 = mk(1000 * MIB, 280 * MIB, 280 * MIB, 0, 0, 401);
		struct mc_stats c2 = mk(1100 * MIB, 333 * MIB, 333 * MIB, 0, 0, 402);

		c0.present &= ~(1u << MC_STAT_AVAILABLE);
		c1.present &= ~(1u << MC_STAT_AVAILABLE);
		c2.present &= ~(1u << MC_STAT_AVAILABLE);
		mc_signals_derive(NULL, 0, NULL, &c0, 1 * S, 4096 * MIB, 0, &s0);
		mc_signals_derive(&c0, 1 * S, &s0, &c1, 2 * S, 4096 * MIB, 1000 * MIB, &s1);
		mc_signals_derive(&c1, 2 * S, &s1, &c2, 3 * S, 4096 * MIB, 1000 * MIB, &s2);
		CHECK(s1.consume_kib_s == 20 * 1024);
		CHECK(s2.consume_kib_s == 20 * 1024 && s2.carried == 1 && s2.win.settling == 2);
		printf("without MemTotal a rise of the balloon is the rise\n");
	}
	/* Without a grow the measurement stands, higher or not: over the
	 * last two intervals, 20 then 50 MiB. */
	b = mk(1000 * MIB, 230 * MIB, 230 * MIB, 0, 980 * MIB, 102);
	mc_signals_derive(&a, 2 * S, &sig, &b, 3 * S, 4096 * MIB, 1000 * MIB, &sig2);
	CHECK(sig2.consume_kib_s == 35 * 1024);
	CHECK(sig2.moved_kib == 0);
	/* Balloon movement is reported against the previous sample, stale
	 * or not (a booting guest inflating to its <currentMemory>). */
	b = mk(1800 * MIB, 300 * MIB, 300 * MIB, 0, 1780 * MIB, 102);
	mc_signals_derive(&a, 2 * S, &sig, &b, 3 * S, 4096 * MIB, 2000 * MIB, &sig2);
	CHECK(sig2.moved_kib == -200 * (int64_t)MIB);
	b.val[MC_STAT_LAST_UPDATE] = 101;
	mc_signals_derive(&a, 2 * S, &sig, &b, 3 * S, 4096 * MIB, 2000 * MIB, &sig2);
	CHECK(!sig2.fresh && sig2.moved_kib == -200 * (int64_t)MIB);
	printf("balloon movement between samples reported\n");
	/* Found by fuzzing: 64 TiB of used memory appearing 2 ns after the
	 * last sample gave a rate beyond int64 (undefined behaviour; on x86
	 * INT64_MIN, a guest "freeing" at full speed). Clamped both ways. */
	a = mk(MC_SIG_MAX_KIB, MC_SIG_MAX_KIB, 0, 0, MC_SIG_MAX_KIB, 100);
	b = mk(MC_SIG_MAX_KIB, 0, 0, 0, MC_SIG_MAX_KIB, 101);
	mc_signals_derive(&a, 1 * S, NULL, &b, 1 * S + 2, 0, 0, &sig);
	CHECK(sig.bad == 0 && sig.has_rates && sig.consume_kib_s == (int64_t)MC_SIG_MAX_KIB);
	a.val[MC_STAT_LAST_UPDATE] = 102;
	mc_signals_derive(&b, 1 * S, NULL, &a, 1 * S + 2, 0, 0, &sig);
	CHECK(sig.bad == 0 && sig.has_rates && sig.consume_kib_s == -(int64_t)MC_SIG_MAX_KIB);
	printf("consumption over a few nanoseconds is clamped to 64 TiB/s\n");

	/* The jump: a guest whose use rises 100 MiB between two samples
	 * (a step, not a rate) is remembered for its next step, halving
	 * every 300 s; a shrink across the interval does not hide it (the
	 * guest's MemTotal and MemAvailable fall together), a grow does
	 * (its figures lag the balloon), and a stale sample carries it. */
	a = mk(1000 * MIB, 400 * MIB, 400 * MIB, 0, 980 * MIB, 100);
	mc_signals_derive(NULL, 0, NULL, &a, 1 * S, 4096 * MIB, 0, &sig);
	CHECK(sig.jump_kib == 0 && sig.trusted == 1);
	b = mk(936 * MIB, 236 * MIB, 236 * MIB, 0, 916 * MIB, 101);  /* -64 shrink, +100 used */
	/* Not in a domain's first samples (its boot, its workload's start). */
	mc_signals_derive(&a, 1 * S, &sig, &b, 2 * S, 4096 * MIB, 1000 * MIB, &sig2);
	CHECK(sig2.jump_kib == 0 && sig2.trusted == 2);
	sig.trusted = MC_SIG_JUMP_AFTER;
	mc_signals_derive(&a, 1 * S, &sig, &b, 2 * S, 4096 * MIB, 1000 * MIB, &sig2);
	CHECK(sig2.jump_kib == 100 * MIB && sig2.trusted == MC_SIG_JUMP_AFTER + 1);
	{
		struct mc_signals s1, s2;
		struct mc_stats c2 = mk(936 * MIB, 226 * MIB, 226 * MIB, 0, 916 * MIB, 102);
		struct mc_stats c3 = mk(1136 * MIB, 226 * MIB, 226 * MIB, 0, 1116 * MIB, 103);

		/* 300 s later a 10 MiB rise: the jump has halved, and stays
		 * above the rise. */
		mc_signals_derive(&b, 2 * S, &sig2, &c2, 302 * S, 4096 * MIB, 936 * MIB, &s1);
		CHECK(s1.jump_kib >= 50 * MIB - 1 && s1.jump_kib <= 50 * MIB);
		/* Across a 200 MiB grow, a 200 MiB "rise" (MemAvailable
		 * lagging) is not a jump: the old one only decays. */
		mc_signals_derive(&c2, 302 * S, &s1, &c3, 303 * S, 4096 * MIB, 936 * MIB, &s2);
		CHECK(s2.jump_kib <= s1.jump_kib && s2.jump_kib > 49 * MIB);
		/* A stale sample carries it as it is. */
		c3.val[MC_STAT_LAST_UPDATE] = 102;
		mc_signals_derive(&c2, 302 * S, &s1, &c3, 400 * S, 4096 * MIB, 936 * MIB, &s2);
		CHECK(!s2.fresh && s2.jump_kib == s1.jump_kib);
		printf("jump: 100 MiB step seen, %llu KiB after 300 s, not taken across a grow\n",
		       (unsigned long long)s1.jump_kib);
	}
	/* A steady allocator is no step: at 40 MiB/s, 80 MiB over a 2 s
	 * interval is what its rate predicted; 130 MiB is 50 beyond it. */
	{
		struct mc_signals p1, p2;
		struct mc_stats c1 = mk(2000 * MIB, 800 * MIB, 800 * MIB, 0, 1980 * MIB, 200);
		struct mc_stats c2 = mk(2000 * MIB, 760 * MIB, 760 * MIB, 0, 1980 * MIB, 201);
		struct mc_stats c3 = mk(2000 * MIB, 680 * MIB, 680 * MIB, 0, 1980 * MIB, 202);

		mc_signals_derive(NULL, 0, NULL, &c1, 1 * S, 4096 * MIB, 0, &p1);
		p1.trusted = MC_SIG_JUMP_AFTER;
		mc_signals_derive(&c1, 1 * S, &p1, &c2, 2 * S, 4096 * MIB, 2000 * MIB, &p2);
		CHECK(p2.consume_kib_s == 40 * 1024 && p2.jump_kib == 40 * MIB); /* the first: a step */
		p2.jump_kib = 0;
		mc_signals_derive(&c2, 2 * S, &p2, &c3, 4 * S, 4096 * MIB, 2000 * MIB, &p1);
		CHECK(p1.jump_kib == 0);
		c3.val[MC_STAT_USABLE] = c3.val[MC_STAT_UNUSED] = 630 * MIB;
		mc_signals_derive(&c2, 2 * S, &p2, &c3, 4 * S, 4096 * MIB, 2000 * MIB, &p1);
		CHECK(p1.jump_kib == 50 * MIB);
		printf("jump: a steady 40 MiB/s is no step; 50 MiB beyond its rate is\n");
	}

	for (uint32_t bit = 1; bit < (1u << MC_BAD_NBITS); bit <<= 1)
		CHECK(strcmp(mc_signals_bad_name(bit), "unknown") != 0);

	printf("%s\n", check_failures ? "FAILED" : "all signal checks passed");
	return check_failures ? 1 : 0;
}
