/* memcoord — which new samples wake the arbiter (see wake.h). */
#include "memcoord/wake.h"

/* A balloon that moved by less than this since the previous sample did
 * not move (no balloon change memcoord makes is smaller). */
#define WAKE_MOVED_KIB 1024

/* The balance policy's grow test (policy_balance.c, classify): headroom
 * below low plus the use predicted over the horizon, or pressure; and room
 * below the domain's maximum to grow into. */
static bool needs_memory(const struct mc_sample *s, const struct mc_balance_params *p)
{
	const struct mc_signals *g = &s->sig;
	uint64_t consume = 0;
	bool press = false;

	if (s->max_kib && s->stats.val[MC_STAT_ACTUAL] >= s->max_kib)
		return false;
	if (g->has_rates) {
		/* A grant the headroom did not follow is not a rate. */
		if (g->consume_kib_s > 0 && !g->unabsorbed)
			consume = (uint64_t)g->consume_kib_s;
		press = g->swap_in_kib_s + g->swap_out_kib_s >= p->swap_pressure_kib_s ||
			g->major_fault_s >= p->fault_pressure_s;
	}
	return press || g->headroom_kib < p->low_kib + consume * (uint64_t)p->horizon_ms / 1000;
}

bool mc_wake_domain(struct mc_wake_mark *mark, const struct mc_sample *s,
		    const struct mc_balance_params *p)
{
	struct mc_wake_mark now = {
		.seen = true,
		.state = (uint8_t)s->state,
		.has_stats = s->has_stats,
		.trusted = s->has_stats && !s->sig.bad,
		.stale = s->sig.stale_samples >= p->stale_samples,
	};
	bool decidable = now.trusted && !now.stale && s->state == MC_DOM_RUNNING;
	bool moved = s->sig.moved_kib >= WAKE_MOVED_KIB || s->sig.moved_kib <= -WAKE_MOVED_KIB;
	bool wake;

	now.surplus = decidable && s->sig.headroom_kib > p->high_kib;
	wake = !mark->seen || mark->state != now.state || mark->has_stats != now.has_stats ||
	       mark->trusted != now.trusted || mark->stale != now.stale ||
	       (decidable && needs_memory(s, p)) ||
	       (now.surplus && (!mark->surplus || moved));
	*mark = now;
	return wake;
}

bool mc_wake_host(bool first, const struct mc_host_mem *m, const struct mc_balance_params *p)
{
	return first || m->free_kib < p->host_reserve_kib;
}
