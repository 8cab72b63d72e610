/* memcoord — summaries and comparisons of simulated runs. */
#include "memcoord/summary.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int mc_run_capture(struct mc_run *r, const char *policy, const struct mc_sim_result *sim,
		   const struct mc_arbiter_stats *arb)
{
	memset(r, 0, sizeof(*r));
	mc_strlcpy(r->policy, policy, sizeof(r->policy));
	r->arb = *arb;
	r->sim = *sim;
	r->sim.guests = NULL;
	if (sim->nguests) {
		r->sim.guests = calloc(sim->nguests, sizeof(*r->sim.guests));
		if (!r->sim.guests)
			return -ENOMEM;
		memcpy(r->sim.guests, sim->guests, sim->nguests * sizeof(*r->sim.guests));
	}
	return 0;
}

void mc_run_free(struct mc_run *r)
{
	if (!r)
		return;
	free(r->sim.guests);
	r->sim.guests = NULL;
}

void mc_run_totals(const struct mc_run *r, struct mc_run_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < r->sim.nguests; i++) {
		const struct mc_sim_guest_result *g = &r->sim.guests[i];

		t->oom_kills += g->oom_kills;
		t->swapped_kib += g->swapped_kib;
		t->below_low_ms += g->below_low_ms;
		t->moved_kib += g->moved_kib;
		t->final_actual_kib += g->final_actual_kib;
		t->held_kib_s += g->held_kib_s;
		t->done += g->workload_done;
		t->guests++;
	}
}

static double mib(uint64_t kib)
{
	return (double)kib / 1024.0;
}

static double us(int64_t ns)
{
	return (double)ns / 1000.0;
}

void mc_summary_print(FILE *out, const struct mc_run *r)
{
	const struct mc_sim_result *s = &r->sim;
	/* Long runs with many guests: the table shows the first rows only. */
	const size_t max_rows = 40;

	fprintf(out, "\n== summary: policy %s, %.0f s simulated, %zu guests (%u started, %u stopped) ==\n",
		r->policy, (double)s->duration_ms / 1000.0, s->nguests, s->starts, s->stops);
	fprintf(out, "%-20s %5s %10s %10s %10s %10s %10s %5s\n", "guest", "oom", "swap MiB",
		"<low s", "moved MiB", "peak MiB", "final MiB", "done");
	for (size_t i = 0; i < s->nguests && i < max_rows; i++) {
		const struct mc_sim_guest_result *g = &s->guests[i];

		fprintf(out, "%-20.20s %5u %10.0f %10.1f %10.0f %10.0f %10.0f %5s\n", g->name,
			g->oom_kills, mib(g->swapped_kib), (double)g->below_low_ms / 1000.0,
			mib(g->moved_kib), mib(g->peak_actual_kib), mib(g->final_actual_kib),
			g->workload_done ? "yes" : "no");
	}
	if (s->nguests > max_rows)
		fprintf(out, "... %zu more guests\n", s->nguests - max_rows);
	fprintf(out, "host: %.0f MiB total, minimum free %.0f MiB%s",
		mib(s->host_total_kib), mib(s->host_min_free_kib),
		s->budget_kib ? "" : "\n");
	if (s->budget_kib)
		fprintf(out, ", budget %.0f MiB\n", mib(s->budget_kib));
	fprintf(out, "decisions: %lu, actions %lu (applied %lu); decision time median %.1f us, p99 %.1f us, max %.1f us\n",
		r->arb.passes, r->arb.actions, r->arb.applied,
		us(mc_hist_quantile(&r->arb.pass_ns, 0.5)),
		us(mc_hist_quantile(&r->arb.pass_ns, 0.99)), us(r->arb.pass_ns.max_ns));
	if (r->arb.react_ns.count)
		fprintf(out, "reaction (sample collected -> balloon call, simulated time): median %.1f ms, p99 %.1f ms\n",
			us(mc_hist_quantile(&r->arb.react_ns, 0.5)) / 1000.0,
			us(mc_hist_quantile(&r->arb.react_ns, 0.99)) / 1000.0);
}

/* Mean memory held by the guests over the run (KiB). */
static uint64_t held_mean(const struct mc_run *r, const struct mc_run_totals *t)
{
	double s = (double)r->sim.duration_ms / 1000.0;

	return s > 0 ? (uint64_t)((double)t->held_kib_s / s) : 0;
}

void mc_summary_compare(FILE *out, const struct mc_run *a, const struct mc_run *b)
{
	struct mc_run_totals ta, tb;

	mc_run_totals(a, &ta);
	mc_run_totals(b, &tb);
	fprintf(out, "\n== comparison ==\n");
	fprintf(out, "%-28s %14s %14s\n", "", a->policy, b->policy);
	fprintf(out, "%-28s %14u %14u\n", "OOM kills", ta.oom_kills, tb.oom_kills);
	fprintf(out, "%-28s %14.1f %14.1f\n", "time below low (guest-s)",
		(double)ta.below_low_ms / 1000.0, (double)tb.below_low_ms / 1000.0);
	fprintf(out, "%-28s %14.0f %14.0f\n", "swapped out (MiB)", mib(ta.swapped_kib), mib(tb.swapped_kib));
	fprintf(out, "%-28s %11u/%-2u %11u/%-2u\n", "workloads completed", ta.done, ta.guests,
		tb.done, tb.guests);
	fprintf(out, "%-28s %14.0f %14.0f\n", "memory held, mean (MiB)",
		mib(held_mean(a, &ta)), mib(held_mean(b, &tb)));
	fprintf(out, "%-28s %14.0f %14.0f\n", "memory held at end (MiB)",
		mib(ta.final_actual_kib), mib(tb.final_actual_kib));
	fprintf(out, "%-28s %14.0f %14.0f\n", "memory moved (MiB)", mib(ta.moved_kib), mib(tb.moved_kib));
	fprintf(out, "%-28s %14.0f %14.0f\n", "host minimum free (MiB)",
		mib(a->sim.host_min_free_kib), mib(b->sim.host_min_free_kib));
	fprintf(out, "%-28s %14lu %14lu\n", "decisions", a->arb.passes, b->arb.passes);
	fprintf(out, "%-28s %14.1f %14.1f\n", "decision p99 (us)",
		us(mc_hist_quantile(&a->arb.pass_ns, 0.99)), us(mc_hist_quantile(&b->arb.pass_ns, 0.99)));
}
