/* memcoord — the arbiter thread: snapshot -> policy -> actuator.
 *
 * The snapshot is the only place that reads the registry for decisions: one
 * rcu_read_lock() section copies every domain's latest sample and the host
 * sample into flat arrays, then leaves. The policy and the actuator work on
 * that copy, so no RCU read section ever spans a hypervisor call. */
#include "memcoord/arbiter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memcoord/log.h"

/* ---- snapshot ---------------------------------------------------------- */

void mc_snapshot_init(struct mc_snapshot *s)
{
	memset(s, 0, sizeof(*s));
}

void mc_snapshot_fini(struct mc_snapshot *s)
{
	if (!s)
		return;
	free(s->view.dom);
	free(s->meta);
	memset(s, 0, sizeof(*s));
}

static int snapshot_reserve(struct mc_snapshot *s, size_t want)
{
	struct mc_vdom *dom;
	struct mc_vmeta *meta;

	if (want <= s->cap)
		return 0;
	dom = realloc(s->view.dom, want * sizeof(*dom));
	if (!dom)
		return -ENOMEM;
	s->view.dom = dom;
	meta = realloc(s->meta, want * sizeof(*meta));
	if (!meta)
		return -ENOMEM;
	s->meta = meta;
	s->cap = want;
	return 0;
}

static void fill_vdom(struct mc_vdom *v, struct mc_vmeta *m,
		      const struct mc_domain *d, const struct mc_sample *sm,
		      uint64_t floor_kib)
{
	const uint64_t *val = sm->stats.val;

	memcpy(v->uuid, d->uuid, MC_UUID_LEN);
	v->flags = 0;
	if (sm->state != MC_DOM_RUNNING)
		v->flags |= MC_VDOM_PAUSED;
	if (!sm->has_stats)
		v->flags |= MC_VDOM_NO_STATS;
	v->present = sm->stats.present;
	v->actual_kib = val[MC_STAT_ACTUAL];
	v->max_kib = sm->max_kib;
	v->floor_kib = floor_kib > sm->min_guarantee_kib ? floor_kib : sm->min_guarantee_kib;
	v->unused_kib = val[MC_STAT_UNUSED];
	v->usable_kib = val[MC_STAT_USABLE];
	v->available_kib = val[MC_STAT_AVAILABLE];
	v->disk_caches_kib = val[MC_STAT_DISK_CACHES];
	v->swap_in_kib = val[MC_STAT_SWAP_IN];
	v->swap_out_kib = val[MC_STAT_SWAP_OUT];
	v->major_fault = val[MC_STAT_MAJOR_FAULT];
	v->last_update = val[MC_STAT_LAST_UPDATE];
	v->seq = sm->seq;
	v->taken_ns = sm->taken_ns;
	v->last_set_ns = uatomic_read(&d->last_set_ns);
	memcpy(m->name, d->name, sizeof(m->name));
}

int mc_snapshot_build(struct mc_snapshot *s, struct mc_registry *reg,
		      uint64_t floor_kib, int64_t now_ns)
{
	for (;;) {
		struct cds_lfht_iter iter;
		struct mc_domain *d;
		struct mc_host_sample *hs;
		size_t n = 0;
		bool overflow = false;
		/* Headroom for domains added while we copy. */
		size_t want = mc_registry_count(reg) + 16;

		if (snapshot_reserve(s, want) < 0)
			return -ENOMEM;

		rcu_read_lock();
		hs = rcu_dereference(reg->host);
		memset(&s->view.host, 0, sizeof(s->view.host));
		if (hs) {
			s->view.host.has_free = true;
			s->view.host.free_kib = hs->mem.free_kib;
			s->view.host.total_kib = hs->mem.total_kib;
			s->view.host.taken_ns = hs->taken_ns;
		}
		cds_lfht_for_each_entry(reg->ht, &iter, d, node) {
			struct mc_sample *sm = rcu_dereference(d->sample);

			if (!sm)
				continue;
			if (n == s->cap) {
				overflow = true;
				break;
			}
			fill_vdom(&s->view.dom[n], &s->meta[n], d, sm, floor_kib);
			n++;
		}
		rcu_read_unlock();

		if (!overflow) {
			s->view.n = n;
			s->view.now_ns = now_ns;
			return 0;
		}
		/* The table grew under us: make room outside the read section. */
		if (snapshot_reserve(s, s->cap * 2) < 0)
			return -ENOMEM;
	}
}

/* ---- the arbiter thread ------------------------------------------------ */

struct mc_arbiter {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;                  /* under lock */
	int kicked;                 /* uatomic: samples arrived since last wake */
	bool wake_on_kick;          /* reactive policy, or --once waiting */
	bool done;                  /* under lock: --once decision made */
	int result;

	struct mc_registry *reg;
	struct mc_actuator *act;
	struct mc_arbiter_cfg cfg;
	struct mc_snapshot snap;
	struct mc_plan plan;
	void *policy_state;
	struct mc_arbiter_stats stats;   /* under lock for readers */
};

void mc_arbiter_kick(struct mc_arbiter *a)
{
	/* Only the first kick after a wake-up takes the lock: a burst of
	 * publishes costs one atomic each and produces one wake-up. */
	if (uatomic_xchg(&a->kicked, 1) == 0 && a->wake_on_kick) {
		pthread_mutex_lock(&a->lock);
		pthread_cond_signal(&a->cond);
		pthread_mutex_unlock(&a->lock);
	}
}

static int plan_reserve(struct mc_plan *p, size_t want)
{
	struct mc_action *act;

	if (want <= p->cap)
		return 0;
	act = realloc(p->act, want * sizeof(*act));
	if (!act)
		return -ENOMEM;
	p->act = act;
	p->cap = want;
	return 0;
}

static int run_pass(struct mc_arbiter *a)
{
	int64_t t0 = mc_now_ns(), t1;
	int rc;

	rc = mc_snapshot_build(&a->snap, a->reg, a->cfg.floor_kib, t0);
	if (rc == 0)
		rc = plan_reserve(&a->plan, mc_plan_cap_for(a->snap.view.n));
	if (rc < 0) {
		mc_err("arbiter: out of memory building the view");
		return rc;
	}
	a->plan.n = 0;
	rc = a->cfg.policy->decide(&a->snap.view, &a->cfg.params,
				   a->policy_state, &a->plan);
	t1 = mc_now_ns();
	if (rc < 0) {
		mc_warn("arbiter: policy %s failed (%d); no action this pass",
			a->cfg.policy->name, rc);
		a->plan.n = 0;
	}
	mc_debug("decision: %zu domains, %zu actions, %lld us",
		 a->snap.view.n, a->plan.n, (long long)((t1 - t0) / 1000));
	if (a->plan.n)
		mc_actuator_apply(a->act, &a->snap.view, a->snap.meta, &a->plan,
				  mc_now_ns());

	pthread_mutex_lock(&a->lock);
	a->stats.passes++;
	a->stats.last_pass_ns = t1 - t0;
	pthread_mutex_unlock(&a->lock);
	return 0;
}

/* --once: are there samples for every registered domain and the host? */
static bool all_sampled(struct mc_arbiter *a)
{
	struct cds_lfht_iter iter;
	struct mc_domain *d;
	bool all = true;

	rcu_read_lock();
	if (!rcu_dereference(a->reg->host))
		all = false;
	cds_lfht_for_each_entry(a->reg->ht, &iter, d, node) {
		if (!rcu_dereference(d->sample)) {
			all = false;
			break;
		}
	}
	rcu_read_unlock();
	return all;
}

static void *arbiter_main(void *arg)
{
	struct mc_arbiter *a = arg;
	int64_t interval_ns = (int64_t)a->cfg.interval_ms * MC_NS_PER_MS;
	int64_t start = mc_now_ns();
	int64_t next_tick = start + interval_ns;

	rcu_register_thread();
	pthread_setname_np(pthread_self(), "mc-arbiter");

	for (;;) {
		struct timespec ts;
		bool by_kick, tick;
		int64_t deadline = next_tick, now;

		if (a->cfg.once) {
			/* Poll for completeness at short steps too, in case
			 * the host sample never comes. */
			int64_t limit = start + (int64_t)a->cfg.once_wait_ms * MC_NS_PER_MS;
			deadline = limit;
		}
		ts = mc_ns_to_ts(deadline);
		pthread_mutex_lock(&a->lock);
		while (!a->stop && !uatomic_read(&a->kicked)) {
			if (pthread_cond_timedwait(&a->cond, &a->lock, &ts) == ETIMEDOUT)
				break;
		}
		if (a->stop) {
			pthread_mutex_unlock(&a->lock);
			break;
		}
		by_kick = uatomic_xchg(&a->kicked, 0) != 0;
		if (by_kick)
			a->stats.wakeups++;
		pthread_mutex_unlock(&a->lock);

		now = mc_now_ns();
		if (a->cfg.once) {
			bool timed_out = now >= deadline;

			if (!all_sampled(a) && !timed_out)
				continue;
			if (mc_registry_count(a->reg) == 0 && timed_out)
				mc_warn("--once: no domain reported a sample in %d ms",
					a->cfg.once_wait_ms);
			run_pass(a);
			pthread_mutex_lock(&a->lock);
			a->done = true;
			a->result = 0;
			pthread_mutex_unlock(&a->lock);
			if (a->cfg.done)
				a->cfg.done(a->cfg.done_opaque);
			break;
		}

		tick = now >= next_tick;
		if (tick || (by_kick && a->cfg.policy->reactive))
			run_pass(a);
		if (tick) {
			next_tick += interval_ns;
			if (next_tick <= now)   /* a slow pass: skip, don't burst */
				next_tick = now + interval_ns;
		}
	}

	rcu_unregister_thread();
	return NULL;
}

int mc_arbiter_start(struct mc_arbiter **out, struct mc_registry *reg,
		     struct mc_actuator *act, const struct mc_arbiter_cfg *cfg)
{
	struct mc_arbiter *a;
	int rc;

	if (!cfg->policy || cfg->interval_ms <= 0)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->reg = reg;
	a->act = act;
	a->cfg = *cfg;
	a->wake_on_kick = cfg->policy->reactive || cfg->once;
	mc_snapshot_init(&a->snap);
	pthread_mutex_init(&a->lock, NULL);
	rc = mc_cond_init_monotonic(&a->cond);
	if (rc < 0)
		goto fail;
	if (cfg->policy->state_size) {
		a->policy_state = calloc(1, cfg->policy->state_size);
		if (!a->policy_state) {
			rc = -ENOMEM;
			goto fail_cond;
		}
	}
	rc = -pthread_create(&a->thread, NULL, arbiter_main, a);
	if (rc < 0)
		goto fail_cond;
	*out = a;
	return 0;
fail_cond:
	pthread_cond_destroy(&a->cond);
fail:
	free(a->policy_state);
	pthread_mutex_destroy(&a->lock);
	free(a);
	return rc;
}

bool mc_arbiter_done(struct mc_arbiter *a)
{
	bool done;

	pthread_mutex_lock(&a->lock);
	done = a->done;
	pthread_mutex_unlock(&a->lock);
	return done;
}

int mc_arbiter_result(struct mc_arbiter *a)
{
	int r;

	pthread_mutex_lock(&a->lock);
	r = a->done ? a->result : -ETIMEDOUT;
	pthread_mutex_unlock(&a->lock);
	return r;
}

void mc_arbiter_get_stats(struct mc_arbiter *a, struct mc_arbiter_stats *out)
{
	pthread_mutex_lock(&a->lock);
	*out = a->stats;
	pthread_mutex_unlock(&a->lock);
}

void mc_arbiter_stop(struct mc_arbiter *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	mc_snapshot_fini(&a->snap);
	free(a->plan.act);
	free(a->policy_state);
	free(a);
}
