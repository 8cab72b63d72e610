/* memcoord — sanity checks on guest statistics and derived signals.
 *
 * Everything a guest reports is a claim. A claim that cannot be true (more
 * free memory than the balloon holds, a counter running backwards, a figure
 * no machine has) rejects the whole sample: its values are not used, the
 * domain keeps its last trusted sample for rates, and the collector counts
 * and logs the rejection. Rates use KiB and seconds. */
#include "memcoord/signals.h"

#include <math.h>
#include <string.h>

/* The guest reports its own figures a moment after the host reads the
 * balloon; while the balloon deflates, the guest may still count pages the
 * balloon already took back. Allow this much slack before calling a figure
 * impossible. */
#define SLACK_KIB (64 * 1024)

/* Counters are believed up to this rate: 64 GiB/s of swap, 100 M faults/s. */
#define MAX_SWAP_KIB_S (64ULL * 1024 * 1024)
#define MAX_FAULT_S 100000000ULL
/* A balloon change at least this large between two samples is a grow the
 * rates must allow for. */
#define GROW_SPAN_KIB (16 * 1024)
/* Fresh samples after the one showing a rise of the guest's total memory
 * that still keep the previous consumption estimate. Polled at 5 Hz on the
 * end-to-end lab, real guests reporting every second, growing every 4 s and
 * consuming 20 MiB/s: the report that shows MemTotal up by the grant shows
 * used memory up by 44-56 MiB, the next one by exactly 0 (the same
 * figures), the one after by 1-10 and the third after by 19-32; from the
 * last report before the rise to the third after it, 68-91 MiB in 4 s
 * (80 expected), where one interval alone read up to 31 MiB/s. */
#define SETTLE_SAMPLES 2
/* Fresh samples in a row that may keep the previous consumption estimate:
 * a guest grown at every sample, or at every other, is measured again at
 * the next one, from the settled report before its rises, over seven
 * intervals or more (which dilutes the lag). */
#define MAX_CARRIED 6
/* A recent jump of used memory counts half as much every 30 s: a guest
 * whose use moves in steps keeps room for the next one for a minute or two
 * after its last, then gives it back. */
#define JUMP_HALF_LIFE_S 300.0
/* Consumption is clamped to 64 TiB/s either way: beyond any machine, and
 * a guest claiming 64 TiB more (or less) used memory a few microseconds
 * after its last sample would otherwise give a rate beyond int64, and the
 * policy's prediction over its longest horizon (a day) stays within
 * uint64. The sample itself is not rejected: the short interval is the
 * host's doing, not the guest's. */
#define MAX_CONSUME_KIB_S ((double)MC_SIG_MAX_KIB)

const char *mc_signals_bad_name(uint32_t bit)
{
	switch (bit) {
	case MC_BAD_UNUSED: return "unused above the balloon";
	case MC_BAD_USABLE: return "usable above the balloon";
	case MC_BAD_CACHES: return "disk caches above the balloon";
	case MC_BAD_AVAILABLE: return "total memory above the balloon";
	case MC_BAD_COUNTER: return "a counter went backwards or jumped";
	case MC_BAD_MAGNITUDE: return "an impossible magnitude";
	case MC_BAD_LAST_UPDATE: return "stats timestamp went backwards";
	case MC_BAD_ACTUAL: return "balloon above the domain maximum";
	default: return "unknown";
	}
}

static bool has(const struct mc_stats *s, enum mc_stat t)
{
	return mc_stats_has(s, t);
}

/* The checks that need only the sample itself. */
static uint32_t check_alone(const struct mc_stats *cur, uint64_t max_kib,
			    uint64_t recent_actual_kib)
{
	static const enum mc_stat mem_tags[] = {
		MC_STAT_UNUSED, MC_STAT_USABLE, MC_STAT_AVAILABLE,
		MC_STAT_DISK_CACHES, MC_STAT_ACTUAL, MC_STAT_SWAP_IN, MC_STAT_SWAP_OUT,
	};
	uint64_t actual = cur->val[MC_STAT_ACTUAL];
	/* Without a previous balloon size (a domain's first sample), the
	 * guest's figures may come from before its balloon moved at all: a
	 * guest just booted reports its boot memory while the balloon
	 * already inflates toward <currentMemory>. Its maximum bounds them. */
	uint64_t recent = recent_actual_kib ? recent_actual_kib : max_kib;
	uint64_t limit = (actual > recent ? actual : recent) + SLACK_KIB;
	uint32_t bad = 0;

	for (size_t i = 0; i < sizeof(mem_tags) / sizeof(mem_tags[0]); i++)
		if (has(cur, mem_tags[i]) && cur->val[mem_tags[i]] > MC_SIG_MAX_KIB)
			bad |= MC_BAD_MAGNITUDE;
	if (bad)
		return bad;
	if (!has(cur, MC_STAT_ACTUAL))
		return 0;
	/* A previous balloon from a rejected sample may be absurd: no
	 * wrapping past it. */
	if (limit < SLACK_KIB)
		limit = UINT64_MAX;
	if (has(cur, MC_STAT_UNUSED) && cur->val[MC_STAT_UNUSED] > limit)
		bad |= MC_BAD_UNUSED;
	if (has(cur, MC_STAT_USABLE) && cur->val[MC_STAT_USABLE] > limit)
		bad |= MC_BAD_USABLE;
	if (has(cur, MC_STAT_DISK_CACHES) && cur->val[MC_STAT_DISK_CACHES] > limit)
		bad |= MC_BAD_CACHES;
	if (has(cur, MC_STAT_AVAILABLE) && cur->val[MC_STAT_AVAILABLE] > limit)
		bad |= MC_BAD_AVAILABLE;
	if (max_kib && actual > max_kib + SLACK_KIB)
		bad |= MC_BAD_ACTUAL;
	return bad;
}

/* Per-second rate of a counter that must not decrease. */
static bool counter_rate(const struct mc_stats *prev, const struct mc_stats *cur,
			 enum mc_stat t, int64_t dt_ns, uint64_t max_rate,
			 uint64_t *rate)
{
	uint64_t a, b, d;

	*rate = 0;
	if (!has(prev, t) || !has(cur, t))
		return true;
	a = prev->val[t];
	b = cur->val[t];
	if (b < a)
		return false;
	d = b - a;
	/* d * 1e9 / dt without overflow: d is bounded by the magnitude check
	 * only for memory tags, so divide first when large. */
	if (d > UINT64_MAX / MC_NS_PER_S)
		*rate = d / (uint64_t)dt_ns * MC_NS_PER_S;
	else
		*rate = d * MC_NS_PER_S / (uint64_t)dt_ns;
	return *rate <= max_rate;
}

static uint64_t sub_or_zero(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* The guest's total memory: its MemTotal when both samples have one (it
 * moves with the balloon inside the guest), else the balloon. */
static uint64_t total_kib(const struct mc_stats *s, const struct mc_stats *other)
{
	return has(s, MC_STAT_AVAILABLE) && has(other, MC_STAT_AVAILABLE)
		? s->val[MC_STAT_AVAILABLE] : s->val[MC_STAT_ACTUAL];
}

static uint64_t headroom(const struct mc_stats *s)
{
	uint64_t h, actual = s->val[MC_STAT_ACTUAL];

	if (has(s, MC_STAT_USABLE))
		h = s->val[MC_STAT_USABLE];
	else
		/* Without MemAvailable, page cache is the reclaimable part. */
		h = s->val[MC_STAT_UNUSED] + s->val[MC_STAT_DISK_CACHES];
	/* Within the slack a guest may claim more than the balloon: never
	 * believe more headroom than memory. */
	return has(s, MC_STAT_ACTUAL) && h > actual ? actual : h;
}

/* Used memory by the guest's own figures: MemTotal moves with the balloon
 * inside the guest, so MemTotal - MemAvailable comes from one consistent
 * guest report, while "actual" is read from the host side and can run ahead
 * of a guest that has not reported since the balloon moved. */
static int64_t used_kib(const struct mc_stats *s, uint64_t head)
{
	uint64_t total = has(s, MC_STAT_AVAILABLE) ? s->val[MC_STAT_AVAILABLE]
						    : s->val[MC_STAT_ACTUAL];

	return total > head ? (int64_t)(total - head) : 0;
}

void mc_signals_derive(const struct mc_stats *prev, int64_t prev_ns,
		       const struct mc_signals *prev_sig,
		       const struct mc_stats *cur, int64_t cur_ns,
		       uint64_t max_kib, uint64_t recent_actual_kib,
		       struct mc_signals *out)
{
	int64_t dt_ns = cur_ns - prev_ns;

	memset(out, 0, sizeof(*out));
	out->bad = check_alone(cur, max_kib, recent_actual_kib);
	if (out->bad)
		return;
	out->headroom_kib = headroom(cur);
	out->fresh = true;
	out->trusted = prev_sig && prev_sig->trusted < UINT32_MAX ? prev_sig->trusted + 1 : 1;
	/* The previous balloon may come from a rejected sample, absurd:
	 * movement is then unknown. */
	if (recent_actual_kib && recent_actual_kib <= MC_SIG_MAX_KIB)
		out->moved_kib = (int64_t)cur->val[MC_STAT_ACTUAL] - (int64_t)recent_actual_kib;
	if (!prev || dt_ns <= 0)
		return;

	if (has(prev, MC_STAT_LAST_UPDATE) && has(cur, MC_STAT_LAST_UPDATE)) {
		uint64_t a = prev->val[MC_STAT_LAST_UPDATE], b = cur->val[MC_STAT_LAST_UPDATE];

		if (b < a) {
			out->bad = MC_BAD_LAST_UPDATE;
			out->headroom_kib = 0;
			out->trusted = 0;
			out->fresh = false;
			return;
		}
		if (b == a) {
			/* The guest has not refreshed its figures: nothing new
			 * to derive; carry the last rates on. */
			out->fresh = false;
			if (prev_sig) {
				out->stale_samples = prev_sig->stale_samples + 1;
				out->unabsorbed = prev_sig->unabsorbed;
				out->has_rates = prev_sig->has_rates;
				out->consume_kib_s = prev_sig->consume_kib_s;
				out->carried = prev_sig->carried;
				out->win = prev_sig->win;
				out->jump_kib = prev_sig->jump_kib;
				out->swap_in_kib_s = prev_sig->swap_in_kib_s;
				out->swap_out_kib_s = prev_sig->swap_out_kib_s;
				out->major_fault_s = prev_sig->major_fault_s;
			} else {
				out->stale_samples = 1;
			}
			return;
		}
	}
	if (!counter_rate(prev, cur, MC_STAT_SWAP_IN, dt_ns, MAX_SWAP_KIB_S, &out->swap_in_kib_s) ||
	    !counter_rate(prev, cur, MC_STAT_SWAP_OUT, dt_ns, MAX_SWAP_KIB_S, &out->swap_out_kib_s) ||
	    !counter_rate(prev, cur, MC_STAT_MAJOR_FAULT, dt_ns, MAX_FAULT_S, &out->major_fault_s)) {
		memset(out, 0, sizeof(*out));
		out->bad = MC_BAD_COUNTER;
		return;
	}

	/* How far the guest's total memory rose since the last fresh sample:
	 * a grow as the guest sees it (below). */
	uint64_t total_rise = sub_or_zero(total_kib(cur, prev), total_kib(prev, cur));

	{
		int64_t used_cur = used_kib(cur, out->headroom_kib);
		int64_t used_prev = used_kib(prev, headroom(prev));
		int64_t d = used_cur - used_prev;
		bool prev_rates = prev_sig && prev_sig->has_rates;
		bool rose = total_rise >= GROW_SPAN_KIB;
		bool unsettled = rose || (prev_rates && prev_sig->win.settling > 0);
		bool carry = false;
		struct mc_sig_window *w = &out->win;

		/* The rate is measured over the last two intervals between
		 * settled reports: one interval alone is noisy (the guest's
		 * MemAvailable moves by 10-12 MiB more or less than its
		 * use within a second, read as 32 MiB/s for 20), two halve
		 * that. The guest's MemTotal and MemAvailable are out of
		 * step after a grow (see SETTLE_SAMPLES): the previous
		 * estimate is kept from the report showing the rise through
		 * the next two, and those reports never start a
		 * measurement. */
		if (prev_rates)
			*w = prev_sig->win;
		if (!w->bases || w->base_ns > prev_ns || (w->bases > 1 && w->mid_ns > prev_ns)) {
			w->bases = 1;
			w->base_used_kib = used_prev;
			w->base_ns = prev_ns;
		}
		if (rose)
			w->settling = SETTLE_SAMPLES;
		else if (w->settling > 0)
			w->settling--;
		if (unsettled)
			carry = prev_rates && prev_sig->carried < MAX_CARRIED;
		if (carry) {
			out->consume_kib_s = prev_sig->consume_kib_s;
			out->carried = prev_sig->carried + 1;
		} else {
			double rate = (double)(used_cur - w->base_used_kib) * (double)MC_NS_PER_S /
				      (double)(cur_ns - w->base_ns);

			/* A settled report: the next measurement starts at
			 * the one before it. */
			if (!unsettled) {
				if (w->bases > 1) {
					w->base_used_kib = w->mid_used_kib;
					w->base_ns = w->mid_ns;
				}
				w->mid_used_kib = used_cur;
				w->mid_ns = cur_ns;
				w->bases = 2;
			}
			if (rate > MAX_CONSUME_KIB_S)
				rate = MAX_CONSUME_KIB_S;
			else if (rate < -MAX_CONSUME_KIB_S)
				rate = -MAX_CONSUME_KIB_S;
			out->consume_kib_s = (int64_t)rate;
		}
		/* The jump: how far this interval's rise of used memory went
		 * beyond what the previous rate predicted (a steady allocator
		 * is the prediction's to cover: counted whole, 40 MiB/s over
		 * a 2 s interval read as an 80 MiB step and made such guests
		 * keep 160 MiB more than they need), unless the balloon grew
		 * across it or the guest's figures are settling after a rise
		 * of its total (they are then out of step, as above; a shrink
		 * moves MemTotal and MemAvailable together and leaves used
		 * memory as it was); or the last one, decayed. */
		{
			double kept = prev_sig ? (double)prev_sig->jump_kib *
				      exp2(-(double)dt_ns / ((double)MC_NS_PER_S * JUMP_HALF_LIFE_S))
					       : 0.0;
			double expected = prev_sig && prev_sig->has_rates && prev_sig->consume_kib_s > 0
				? (double)prev_sig->consume_kib_s * (double)dt_ns / (double)MC_NS_PER_S
				: 0.0;
			double beyond = (double)d - expected;
			uint64_t grew = sub_or_zero(cur->val[MC_STAT_ACTUAL], prev->val[MC_STAT_ACTUAL]);

			out->jump_kib = (uint64_t)kept;
			if (beyond > (double)out->jump_kib && grew < GROW_SPAN_KIB && !unsettled &&
			    out->trusted > MC_SIG_JUMP_AFTER)
				out->jump_kib = beyond >= (double)MC_SIG_MAX_KIB ? MC_SIG_MAX_KIB
									  : (uint64_t)beyond;
			if (out->jump_kib > MC_SIG_MAX_KIB)
				out->jump_kib = MC_SIG_MAX_KIB;
		}
	}
	out->has_rates = true;

	/* The guest's total memory (its MemTotal; the balloon without one)
	 * rose by at least 16 MiB since the last fresh sample, yet the
	 * headroom rose by less than an eighth of it. Judged at the report
	 * that shows the rise in the guest's own figures: libvirt may show
	 * the balloon grown a report later, in a report that repeats the
	 * previous figures (headroom +0). An honest guest's headroom follows
	 * the rise less its consumption and a lag of 20-50 MiB (measured on
	 * the e2e lab at 20 MiB/s: +20..+80 MiB at the reports showing rises
	 * of 74-124 MiB; judged by the balloon against a quarter, three
	 * honest grants of 72 MiB in a row, followed by +16..+17 MiB, were
	 * counted and the guest was starved for 20 s in a CI run);
	 * a guest whose figures do not answer to the balloon shows none of
	 * it, and a run of them is counted. */
	{
		uint64_t rose = sub_or_zero(out->headroom_kib, headroom(prev));

		if (total_rise >= GROW_SPAN_KIB)
			out->unabsorbed = rose < total_rise / 8
				? (prev_sig ? prev_sig->unabsorbed : 0) + 1 : 0;
		else
			out->unabsorbed = rose > 0 ? 0 : (prev_sig ? prev_sig->unabsorbed : 0);
	}
}
