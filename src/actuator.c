/* memcoord — the actuator: the last line of defence between a plan and the
 * hypervisor (rules in actuator.h). Runs on the arbiter thread only, so its
 * state (grant ring, stats) needs no lock.
 *
 * Host reserve accounting, in KiB:
 *   headroom = host free (read now when the plan grows someone, else the
 *              view's host sample)
 *            - pending: the larger of the grants issued after that reading
 *              (the ring) and the growth balloons have yet to take
 *            - grants issued earlier in this plan
 *            - host_reserve_kib
 * A grow may use at most the headroom. Shrinks are applied first but are
 * not credited: their memory reaches the host only as the guest gives it
 * up, and the next decision's reading shows it. The budget caps balloon
 * targets instead, so there shrinks in the same plan do make room. */
#include "memcoord/actuator.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/uatomic.h>

#include "memcoord/log.h"

/* Balloon changes smaller than this are not made: 1 MiB is below what a
 * balloon driver moves in one request and what a log line shows. */
#define ACT_MIN_CHANGE_KIB 1024ULL

#define MC_ACT_NGRANT ((unsigned)(sizeof(((struct mc_actuator *)0)->grant_ns) / \
				   sizeof(((struct mc_actuator *)0)->grant_ns[0])))


enum act_kind {
	ACT_SKIP,     /* not applied: paused, stale, no-op, invalid */
	ACT_SHRINK,   /* target < actual */
	ACT_GROW,     /* target > actual */
};

/* One action after the checks that do not depend on the host. */
struct act_eval {
	enum act_kind kind;
	const struct mc_vdom *d;
	const char *name;      /* meta's name, or uuid_str if there is none */
	char uuid_str[MC_UUID_STR_LEN];
	uint64_t target_kib;   /* clamped to [floor, max] */
	bool clamped;          /* floor/max changed the policy's target */
	const char *why;       /* for ACT_SKIP: a debug message */
};

void mc_actuator_init(struct mc_actuator *a, struct mc_hv *hv,
		      struct mc_registry *reg, const struct mc_actuator_cfg *cfg)
{
	memset(a, 0, sizeof(*a));
	a->hv = hv;
	a->reg = reg;
	if (cfg)
		a->cfg = *cfg;
}


static int64_t act_sat_i64(uint64_t kib)
{
	return kib > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)kib;
}

/* Drop grants the host sample already reflects (issued at or before it was
 * taken). The ring is kept in issue order, oldest first. */
static void act_forget_grants(struct mc_actuator *a, int64_t host_taken_ns)
{
	unsigned k = 0;

	for (unsigned i = 0; i < a->ngrant; i++) {
		if (a->grant_ns[i] <= host_taken_ns)
			continue;
		a->grant_ns[k] = a->grant_ns[i];
		a->grant_kib[k] = a->grant_kib[i];
		k++;
	}
	a->ngrant = k;
}

static int64_t act_pending_grants(const struct mc_actuator *a)
{
	int64_t sum = 0;

	for (unsigned i = 0; i < a->ngrant; i++)
		sum += a->grant_kib[i];
	return sum;
}

static bool act_plan_grows(const struct mc_view *v, const struct mc_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->act[i].dom < v->n && p->act[i].target_kib > v->dom[p->act[i].dom].actual_kib)
			return true;
	return false;
}

/* Memory promised to guests that the host sample may not show: the larger
 * of the grants issued since the sample (the ring) and what balloons have
 * yet to take of their last targets (a balloon grows over time, so a host
 * sample taken mid-way shows only part of a grant). */
static int64_t act_pending(const struct mc_actuator *a, const struct mc_view *v)
{
	int64_t ring = act_pending_grants(a), inflight = 0;

	for (size_t i = 0; i < v->n; i++)
		inflight += act_sat_i64(mc_vdom_inflight_kib(&v->dom[i], v->now_ns));
	return ring > inflight ? ring : inflight;
}

/* Remember a grant until a host sample newer than now_ns arrives. When the
 * ring is full the two oldest entries are merged, keeping the later time:
 * the merged amount is then remembered a little longer than needed, which
 * errs on the side of the reserve (never forgets a grant too early). */
static void act_record_grant(struct mc_actuator *a, int64_t now_ns, uint64_t kib)
{
	if (a->ngrant == MC_ACT_NGRANT) {
		a->grant_kib[1] += a->grant_kib[0];
		memmove(&a->grant_ns[0], &a->grant_ns[1],
			(MC_ACT_NGRANT - 1) * sizeof(a->grant_ns[0]));
		memmove(&a->grant_kib[0], &a->grant_kib[1],
			(MC_ACT_NGRANT - 1) * sizeof(a->grant_kib[0]));
		a->ngrant--;
	}
	a->grant_ns[a->ngrant] = now_ns;
	a->grant_kib[a->ngrant] = act_sat_i64(kib);
	a->ngrant++;
}

/* Checks that depend only on the domain: index, state, freshness, floor and
 * maximum. Fills *e (which must not be copied: e->name may point into it).
 * Pure: the caller counts and logs, once per action. */
static void act_evaluate(const struct mc_view *v, const struct mc_vmeta *meta,
			 const struct mc_action *act, struct act_eval *e)
{
	const struct mc_vdom *d;
	uint64_t lo, hi, t;

	memset(e, 0, sizeof(*e));
	e->kind = ACT_SKIP;
	e->name = "?";
	if (act->dom >= v->n) {
		e->why = "no such domain in the view";
		return;
	}
	d = &v->dom[act->dom];
	e->d = d;
	if (meta && meta[act->dom].name[0]) {
		e->name = meta[act->dom].name;
	} else {
		mc_uuid_format(d->uuid, e->uuid_str);
		e->name = e->uuid_str;
	}
	if (d->flags & MC_VDOM_PAUSED) {
		e->why = "paused";
		return;
	}
	if (d->flags & MC_VDOM_NO_STATS) {
		e->why = "no balloon statistics";
		return;
	}
	if (d->flags & MC_VDOM_EXCLUDED) {
		e->why = "excluded by configuration";
		return;
	}
	if (d->flags & MC_VDOM_UNTRUSTED) {
		e->why = "its statistics failed the sanity checks";
		return;
	}
	/* The balloon moves and the guest reacts over a stats period; a sample
	 * taken before our last change says nothing about its effect. */
	if (mc_vdom_settling(d)) {
		e->why = "awaiting a fresh sample since the last change";
		return;
	}
	if (mc_vdom_moving_alone(d)) {
		e->why = "its balloon is moving toward a target memcoord did not set";
		return;
	}

	hi = d->max_kib;
	lo = d->floor_kib > hi ? hi : d->floor_kib;
	t = act->target_kib;
	/* The floor limits shrinks and the maximum limits grows. A grow is
	 * never enlarged to reach the floor (that would grant memory the
	 * policy did not budget for), and no clamp reverses the policy's
	 * direction: a shrink of a domain below its floor does not become a
	 * grow, nor a grow of a domain above its maximum a shrink. */
	if (t < d->actual_kib && t < lo)
		t = lo;
	if (t > hi)
		t = hi;
	e->clamped = t != act->target_kib;
	if ((act->target_kib < d->actual_kib && t > d->actual_kib) ||
	    (act->target_kib > d->actual_kib && t < d->actual_kib))
		t = d->actual_kib;
	e->target_kib = t;
	if (t == d->actual_kib) {
		e->why = e->clamped ? "already at its floor/maximum" : "no change";
		return;
	}
	if ((t > d->actual_kib ? t - d->actual_kib : d->actual_kib - t) < ACT_MIN_CHANGE_KIB) {
		e->why = e->clamped ? "within 1 MiB of its floor/maximum" : "a change below 1 MiB";
		return;
	}
	e->kind = t < d->actual_kib ? ACT_SHRINK : ACT_GROW;
}

/* Remember the change in the record for status reports: a new immutable
 * last action (readers are other threads) and, for a real change, the
 * counters. Caller holds the RCU read lock; rd is the domain's record.
 * Without memory the report keeps the previous action: nothing else
 * depends on it. */
static void act_note(struct mc_domain *rd, const struct act_eval *e,
		     const struct mc_action *act, int64_t now_ns, bool dry_run)
{
	struct mc_last_action *la = malloc(sizeof(*la));

	if (la) {
		la->at_ns = now_ns;
		la->old_kib = e->d->actual_kib;
		la->new_kib = e->target_kib;
		la->dry_run = dry_run;
		mc_reason_format(act, la->reason, sizeof(la->reason));
		mc_domain_publish_action(rd, la);
	}
	if (dry_run)
		return;
	uatomic_inc(&rd->changes);
	if (e->target_kib > e->d->actual_kib)
		uatomic_add(&rd->grown_kib, e->target_kib - e->d->actual_kib);
	else
		uatomic_add(&rd->shrunk_kib, e->d->actual_kib - e->target_kib);
}

/* The text of an action's reason for a line logged at `level`: made only
 * when that line is written (a pass plans thousands of actions). */
static const char *act_reason(const struct mc_action *act, enum mc_log_level level,
			      char buf[MC_REASON_LEN])
{
	if (level > mc_log_get_level())
		return "";
	return mc_reason_format(act, buf, MC_REASON_LEN);
}

/* Record a change made at now_ns: a grow's grant, and the domain's record
 * (its last target, for the settling and stuck rules; with `note`, the
 * last action for status reports). */
static void act_stamp(struct mc_actuator *a, const struct act_eval *e,
		      const struct mc_action *act, int64_t now_ns, bool note)
{
	struct mc_domain *rd;

	if (e->kind == ACT_GROW)
		act_record_grant(a, now_ns, e->target_kib - e->d->actual_kib);
	if (!a->reg)
		return;
	rcu_read_lock();
	rd = mc_registry_lookup(a->reg, e->d->uuid);
	if (rd) {
		uatomic_set(&rd->last_target_kib, e->target_kib);
		uatomic_set(&rd->set_last_update, e->d->last_update);
		if (e->kind == ACT_GROW)
			uatomic_set(&rd->last_grow_ns, now_ns);
		uatomic_set(&rd->last_set_ns, now_ns);
		if (note)
			act_note(rd, e, act, now_ns, false);
	}
	rcu_read_unlock();
}

/* Issue one balloon change (or log it in dry-run). Returns 0 if applied,
 * -ENOENT if the domain vanished, -EBUSY if a call for it is stuck (not
 * tried), -EINPROGRESS if the change did not answer in time (it may still
 * land), another negative errno on failure. */
static int act_set(struct mc_actuator *a, const struct act_eval *e,
		   const struct mc_action *act, int64_t now_ns)
{
	char from[MC_MIB_STR_LEN], to[MC_MIB_STR_LEN], why[MC_REASON_LEN];
	int r;

	mc_fmt_mib(from, e->d->actual_kib);
	mc_fmt_mib(to, e->target_kib);
	if (a->cfg.dry_run) {
		/* Nothing changes in a dry run, so each decision repeats the
		 * last one: log a change at info once, its repeats at debug. */
		uint64_t note = e->d->actual_kib * 31 + e->target_kib + 1;
		bool repeat = false;

		if (a->reg) {
			struct mc_domain *rd;

			rcu_read_lock();
			rd = mc_registry_lookup(a->reg, e->d->uuid);
			if (rd) {
				repeat = rd->dry_note == note;
				rd->dry_note = note;
				if (!repeat)
					act_note(rd, e, act, now_ns, true);
			}
			rcu_read_unlock();
		}
		mc_log(repeat ? MC_LOG_DEBUG : MC_LOG_INFO, "would set %s: %s -> %s MiB (%s)",
		       e->name, from, to,
		       act_reason(act, repeat ? MC_LOG_DEBUG : MC_LOG_INFO, why));
		a->stats.applied++;
		return 0;
	}

	if (a->set_memory)
		r = a->set_memory(a->set_opaque, e->d->uuid, e->target_kib);
	else
		r = a->hv->ops->set_memory(a->hv, e->d->uuid, e->target_kib);
	if (r == -ENOENT) {
		mc_info("%s vanished before its balloon could be set", e->name);
		a->stats.skipped++;
		return r;
	}
	if (r == -EBUSY) {
		/* Stuck in a call already reported: quietly left alone. */
		mc_debug("not setting %s: %s", e->name, mc_hv_last_error());
		a->stats.skipped++;
		return r;
	}
	if (r == -EINPROGRESS) {
		/* The change may yet land: account for it as made, so that
		 * the domain waits for a fresh sample and a grow keeps its
		 * memory out of the host's headroom. */
		mc_warn("setting %s: %s -> %s MiB: %s", e->name, from, to, mc_hv_last_error());
		a->stats.failed++;
		act_stamp(a, e, act, now_ns, false);
		return r;
	}
	if (r < 0) {
		mc_warn("setting %s: %s -> %s MiB failed: %s", e->name, from, to,
			mc_hv_last_error());
		a->stats.failed++;
		return r;
	}
	mc_info("set %s: %s -> %s MiB (%s)", e->name, from, to,
		act_reason(act, MC_LOG_INFO, why));
	a->stats.applied++;
	mc_hist_add(&a->stats.react_ns, now_ns - e->d->taken_ns);

	act_stamp(a, e, act, now_ns, true);
	return 0;
}

/* Clip a grow to the host headroom. Returns false if nothing can be granted
 * (logged); on true e->target_kib may have been lowered. */
static bool act_fit_reserve(struct mc_actuator *a, const struct mc_view *v,
			    const struct mc_vhost *host, struct act_eval *e,
			    int64_t plan_delta_kib)
{
	char m1[MC_MIB_STR_LEN], m2[MC_MIB_STR_LEN];
	uint64_t want = e->target_kib - e->d->actual_kib;
	int64_t headroom;

	if (!host->has_free) {
		if (a->cfg.host_reserve_kib == 0)
			return true;
		mc_info("not growing %s: host free memory unknown and a reserve of %s MiB is configured",
			e->name, mc_fmt_mib(m1, a->cfg.host_reserve_kib));
		return false;
	}

	headroom = act_sat_i64(host->free_kib) - act_pending(a, v) +
		   plan_delta_kib - act_sat_i64(a->cfg.host_reserve_kib);
	if (headroom >= 0 && (uint64_t)headroom >= want)
		return true;
	if (headroom <= 0) {
		/* What the host has left once pending grants land. */
		int64_t left = headroom + act_sat_i64(a->cfg.host_reserve_kib);

		mc_info("not growing %s: host free %s MiB would fall below reserve %s MiB",
			e->name, mc_fmt_mib(m1, left > 0 ? (uint64_t)left : 0),
			mc_fmt_mib(m2, a->cfg.host_reserve_kib));
		return false;
	}
	mc_debug("%s: grow clipped from %s to %s MiB by the host reserve",
		 e->name, mc_fmt_mib(m1, want), mc_fmt_mib(m2, (uint64_t)headroom));
	e->target_kib = e->d->actual_kib + (uint64_t)headroom;
	return true;
}

/* Clip a grow to the budget: the balloons held (with growth in flight) plus
 * this plan's changes so far stay within it. */
static bool act_fit_budget(struct mc_actuator *a, int64_t held_kib, struct act_eval *e,
			   int64_t plan_delta_kib)
{
	char m1[MC_MIB_STR_LEN], m2[MC_MIB_STR_LEN];
	uint64_t want = e->target_kib - e->d->actual_kib;
	int64_t room;

	if (!a->cfg.budget_kib)
		return true;
	room = act_sat_i64(a->cfg.budget_kib) - held_kib + plan_delta_kib;
	if (room >= 0 && (uint64_t)room >= want)
		return true;
	if (room <= 0) {
		mc_info("not growing %s: the balloons would exceed the budget of %s MiB",
			e->name, mc_fmt_mib(m1, a->cfg.budget_kib));
		return false;
	}
	mc_debug("%s: grow clipped from %s to %s MiB by the budget",
		 e->name, mc_fmt_mib(m1, want), mc_fmt_mib(m2, (uint64_t)room));
	e->target_kib = e->d->actual_kib + (uint64_t)room;
	return true;
}

int mc_actuator_apply(struct mc_actuator *a, const struct mc_view *v,
		      const struct mc_vmeta *meta, const struct mc_plan *p,
		      int64_t now_ns, struct mc_applied *out)
{
	int64_t held_kib = 0;
	/* Grown by this plan so far. Shrinks are credited neither to the host
	 * nor to the budget: the memory comes back only as the guest's balloon
	 * inflates, which takes a second or more (or never, if it is stuck),
	 * while a grow lands at once. The budget caps the sum of the balloons
	 * at every moment, so a grow funded by a shrink waits for a decision
	 * that sees the shrunken balloon; the host's free memory shows it
	 * then too. */
	int64_t plan_grown_kib = 0;
	int applied = 0;
	struct mc_vhost host = v->host;

	if (a->cfg.budget_kib)
		for (size_t i = 0; i < v->n; i++)
			held_kib += act_sat_i64(v->dom[i].actual_kib +
						mc_vdom_inflight_kib(&v->dom[i], v->now_ns));

	/* Grows are checked against the host's free memory read now, not the
	 * host sample (up to a period old, while balloons moved meanwhile):
	 * one cheap call, only when the plan grows someone. */
	if (!a->cfg.dry_run && act_plan_grows(v, p) && a->hv && a->hv->ops->host_mem) {
		struct mc_host_mem hm;

		if (a->hv->ops->host_mem(a->hv, &hm) == 0) {
			host.has_free = true;
			host.free_kib = hm.free_kib;
			host.taken_ns = now_ns;
		}
	}
	act_forget_grants(a, host.taken_ns);

	/* Pass 0: skips and shrinks. Pass 1: grows.
	 * Each action is counted in exactly one pass.
	 * The plan must hold at most one action per domain: the view is not
	 * updated between actions, so a second one would act on stale data. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < p->n; i++) {
			const struct mc_action *act = &p->act[i];
			struct act_eval e;

			act_evaluate(v, meta, act, &e);

			if (e.kind == ACT_SKIP) {
				if (pass == 1)
					continue;
				if (e.clamped)
					a->stats.clamped++;
				a->stats.skipped++;
				char why[MC_REASON_LEN];

				mc_debug("not setting %s: %s (%s)", e.name, e.why,
					 act_reason(act, MC_LOG_DEBUG, why));
				if (out)
					out[i] = (struct mc_applied){MC_APPLIED_SKIPPED, 0, e.why};
				continue;
			}
			if ((pass == 0) != (e.kind == ACT_SHRINK))
				continue;

			if (e.kind == ACT_GROW) {
				uint64_t asked = e.target_kib;

				if (!act_fit_reserve(a, v, &host, &e, -plan_grown_kib) ||
				    !act_fit_budget(a, held_kib, &e, -plan_grown_kib)) {
					if (e.clamped)
						a->stats.clamped++;
					a->stats.skipped++;
					if (out)
						out[i] = (struct mc_applied){MC_APPLIED_SKIPPED, 0,
							"host reserve or budget"};
					continue;
				}
				if (e.target_kib != asked)
					e.clamped = true;
				if (e.target_kib - e.d->actual_kib < ACT_MIN_CHANGE_KIB) {
					/* Clipped to a crumb: not worth a balloon
					 * operation (nor a "+0 MiB" log line). */
					a->stats.clamped++;
					a->stats.skipped++;
					if (out)
						out[i] = (struct mc_applied){MC_APPLIED_SKIPPED, 0,
							"host reserve or budget"};
					continue;
				}
			}
			if (e.clamped)
				a->stats.clamped++;

			{
				int r = act_set(a, &e, act, now_ns);

				if (out)
					out[i] = r == 0 ? (struct mc_applied){MC_APPLIED, e.target_kib, NULL}
						 : r == -ENOENT ? (struct mc_applied){MC_APPLIED_SKIPPED, 0, "vanished"}
						 : r == -EBUSY ? (struct mc_applied){MC_APPLIED_SKIPPED, 0,
							"a hypervisor call for it is stuck"}
						 : r == -EINPROGRESS ? (struct mc_applied){MC_APPLIED_FAILED, 0,
							"no answer from the hypervisor in time"}
						 : (struct mc_applied){MC_APPLIED_FAILED, 0, "hypervisor error"};
				if (r < 0)
					continue;
			}
			applied++;
			if (e.kind == ACT_GROW)
				plan_grown_kib += act_sat_i64(e.target_kib - e.d->actual_kib);
		}
	}
	return applied;
}
