/* memcoord — the arbiter thread: snapshot -> policy -> actuator.
 *
 * The snapshot is the only place that reads the registry for decisions: one
 * rcu_read_lock() section copies every domain's latest sample and the host
 * sample into flat arrays, then leaves. It walks the registry's dense array
 * of records, prefetching ahead, rather than the hash table. The policy and the actuator work on
 * that copy, so no RCU read section ever spans a hypervisor call. */
#include "memcoord/arbiter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	free(s->names);
	memset(s, 0, sizeof(*s));
}

static int snapshot_reserve(struct mc_snapshot *s, size_t want)
{
	struct mc_vdom *dom;
	struct mc_vmeta *meta;
	char *names;

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
	/* Room for every name at its longest: a pass never runs out. */
	names = realloc(s->names, want * MC_NAME_LEN);
	if (!names)
		return -ENOMEM;
	s->names = names;
	s->cap = want;
	return 0;
}

void mc_dcfg_resolve(struct mc_dcfg *out, const struct mc_config *cfg,
		     const uint8_t uuid[MC_UUID_LEN], const char *name)
{
	const struct mc_dom_cfg *dc = mc_config_find_domain(cfg, uuid, name);

	memset(out, 0, sizeof(*out));
	out->excluded = dc && dc->exclude;
	out->weight = dc && dc->has_weight ? dc->weight : cfg->weight;
	if (out->weight == 0)
		out->weight = 1;
	out->has_floor = dc && dc->has_floor;
	out->floor_kib = out->has_floor ? dc->floor_kib : 0;
	out->has_max = dc && dc->has_max;
	out->max_kib = out->has_max ? dc->max_kib : 0;
}

/* Resolve a record's per-domain configuration once per configuration
 * generation. Caller holds the RCU read lock and is the only snapshot
 * builder, hence the only writer of these record fields. */
static void resolve_dcfg(struct mc_domain *d, const struct mc_config *cfg)
{
	if (d->dcfg_gen == cfg->gen && d->dcfg_gen != 0)
		return;
	mc_dcfg_resolve(&d->dcfg, cfg, d->uuid, d->name);
	d->dcfg_gen = cfg->gen ? cfg->gen : 1;
}

void mc_vdom_fill(struct mc_vdom *v, const struct mc_domain *d,
		  const struct mc_sample *sm, const struct mc_dcfg *dc,
		  uint64_t default_floor_kib)
{
	const uint64_t *val = sm->stats.val;
	uint64_t floor_kib = dc->has_floor ? dc->floor_kib : default_floor_kib;

	memcpy(v->uuid, d->uuid, MC_UUID_LEN);
	v->flags = 0;
	if (sm->state != MC_DOM_RUNNING)
		v->flags |= MC_VDOM_PAUSED;
	if (!sm->has_stats)
		v->flags |= MC_VDOM_NO_STATS;
	if (dc->excluded)
		v->flags |= MC_VDOM_EXCLUDED;
	if (sm->has_stats && sm->sig.bad)
		v->flags |= MC_VDOM_UNTRUSTED;
	if (!sm->sig.has_rates)
		v->flags |= MC_VDOM_NO_RATES;
	v->present = sm->stats.present;
	v->actual_kib = val[MC_STAT_ACTUAL];
	/* A rejected sample's balloon size is the guest driver's claim, and
	 * the policy and the actuator still sum it for the budget: claimed
	 * above the domain's maximum, it would read as balloons far above the
	 * budget — no grants for anyone, every other guest squeezed. No
	 * balloon holds more than its domain's maximum: count it at that. */
	if ((v->flags & MC_VDOM_UNTRUSTED) && sm->max_kib && v->actual_kib > sm->max_kib)
		v->actual_kib = sm->max_kib;
	v->max_kib = sm->max_kib;
	if (dc->has_max && dc->max_kib < v->max_kib)
		v->max_kib = dc->max_kib;
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
	v->headroom_kib = sm->sig.headroom_kib;
	v->consume_kib_s = sm->sig.consume_kib_s;
	v->swap_in_kib_s = sm->sig.swap_in_kib_s;
	v->swap_out_kib_s = sm->sig.swap_out_kib_s;
	v->major_fault_s = sm->sig.major_fault_s;
	v->stale_samples = sm->sig.stale_samples;
	v->unabsorbed = sm->sig.unabsorbed;
	v->moved_kib = sm->sig.moved_kib;
	v->jump_kib = sm->sig.jump_kib;
	v->bad_samples = sm->bad_total;
	v->weight = dc->weight;
	v->last_set_ns = uatomic_read(&d->last_set_ns);
	v->last_target_kib = uatomic_read(&d->last_target_kib);
	v->set_last_update = uatomic_read(&d->set_last_update);
	v->last_grow_ns = uatomic_read(&d->last_grow_ns);
}

/* How far ahead of the copy the snapshot asks for memory, in slots. Cold,
 * each record and each sample is a cache miss, and the sample's address is
 * in the record: records are prefetched 2 * SNAP_AHEAD slots ahead (their
 * addresses are in the array), samples SNAP_AHEAD slots ahead (their record
 * has arrived by then), so that the misses of many domains overlap instead
 * of coming one after the other. 16 was the best of 4, 8, 16 and 32 at
 * 10,000 domains (bench_pass, cold). */
#define SNAP_AHEAD 16
#define SNAP_LINE 64

/* Prefetch every cache line of [p, p + len). A prefetch never faults. */
static inline void prefetch_range(const void *p, size_t len)
{
	const char *c = p;

	for (size_t off = 0; off < len; off += SNAP_LINE)
		__builtin_prefetch(c + off);
	__builtin_prefetch(c + len - 1);
}

/* The two stages of a slot's prefetch (see SNAP_AHEAD). Caller holds the
 * read lock: the records and samples seen here stay valid. Loads without
 * the dependency barrier are enough for addresses only prefetched. */
static inline void prefetch_record(struct mc_domain *const *rec, size_t i)
{
	struct mc_domain *d = CMM_LOAD_SHARED(rec[i]);

	if (d)
		prefetch_range(d, MC_DOMAIN_HOT_END);
}

static inline void prefetch_sample(struct mc_domain *const *rec, size_t i)
{
	struct mc_domain *d = CMM_LOAD_SHARED(rec[i]);
	struct mc_sample *sm;

	if (!d)
		return;
	sm = CMM_LOAD_SHARED(d->sample);
	if (sm)
		prefetch_range(sm, sizeof(*sm));
	/* A long name's lines past the record's first two. */
	if (offsetof(struct mc_domain, name) + d->name_len >= MC_DOMAIN_HOT_END)
		prefetch_range(d->name, d->name_len + 1u);
}

int mc_snapshot_build(struct mc_snapshot *s, struct mc_registry *reg, int64_t now_ns)
{
	for (;;) {
		struct mc_domain *const *rec;
		struct mc_host_sample *hs;
		struct mc_config *cfg;
		unsigned long epoch;
		size_t n = 0, slots;
		char *name;
		bool overflow = false;

		/* Room for the records linked now and a few more (not for
		 * every slot of the dense array: slots of removed records
		 * would make the buffers grow with churn). */
		if (snapshot_reserve(s, mc_registry_count(reg) + 16) < 0)
			return -ENOMEM;
		name = s->names;
		rcu_read_lock();
		cfg = rcu_dereference(reg->cfg);
		if (!cfg) {
			rcu_read_unlock();
			return -EINVAL;
		}
		rec = mc_registry_records(reg, &slots);
		s->cfg.policy = mc_policy_find(cfg->policy);
		s->cfg.params = cfg->params;
		s->cfg.interval_ms = cfg->interval_ms;
		s->cfg.dry_run = cfg->dry_run;

		hs = rcu_dereference(reg->host);
		memset(&s->view.host, 0, sizeof(s->view.host));
		if (hs) {
			s->view.host.has_free = true;
			s->view.host.free_kib = hs->mem.free_kib;
			s->view.host.total_kib = hs->mem.total_kib;
			s->view.host.taken_ns = hs->taken_ns;
		}
		epoch = uatomic_read(&reg->epoch);
		/* The first slots' records and samples, which the loop's
		 * look-ahead starts past. */
		for (size_t i = 0; i < slots && i < 2 * SNAP_AHEAD; i++)
			prefetch_record(rec, i);
		for (size_t i = 0; i < slots && i < SNAP_AHEAD; i++)
			prefetch_sample(rec, i);
		for (size_t i = 0; i < slots; i++) {
			struct mc_domain *d;
			struct mc_sample *sm;

			if (i + 2 * SNAP_AHEAD < slots)
				prefetch_record(rec, i + 2 * SNAP_AHEAD);
			if (i + SNAP_AHEAD < slots)
				prefetch_sample(rec, i + SNAP_AHEAD);
			d = rcu_dereference(rec[i]);
			if (!d)
				continue;   /* removed */
			sm = rcu_dereference(d->sample);
			/* No sample yet, or one from before a lost connection:
			 * nothing to decide on. */
			if (!sm || sm->epoch != epoch)
				continue;
			if (n == s->cap) {
				overflow = true;
				break;
			}
			resolve_dcfg(d, cfg);
			mc_vdom_fill(&s->view.dom[n], d, sm, &d->dcfg, cfg->floor_kib);
			{
				/* The name's bytes only (names are short; a
				 * whole MC_NAME_LEN each was a third of the
				 * snapshot's writes), 8 at a time: memcpy of
				 * a length below 256 became `rep movsq`,
				 * whose start-up cost more than the copy.
				 * The last word may read past the NUL, within
				 * d->name (MC_NAME_LEN, a multiple of 8), and
				 * write up to 7 bytes past it, within the
				 * space reserved for this name. */
				size_t len = d->name_len;

				for (size_t k = 0; k <= len; k += 8)
					memcpy(name + k, d->name + k, 8);
				name[len] = '\0';
				s->meta[n].name = name;
				name += len + 1;
			}
			n++;
		}
		rcu_read_unlock();

		if (!overflow) {
			s->view.n = n;
			s->view.now_ns = now_ns;
			return 0;
		}
		/* The table grew under us: make room outside the read section
		 * and start again. */
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
	bool joined;                /* the thread has been joined (halted) */
	int kicked;                 /* uatomic: samples arrived since last wake */
	bool done;                  /* under lock: --once decision made */
	int result;

	struct mc_registry *reg;
	struct mc_actuator *act;
	struct mc_arbiter_cfg cfg;
	struct mc_snapshot snap;
	struct mc_plan plan;
	struct mc_applied *applied;      /* outcome per plan action */
	size_t applied_cap;
	void *scratch;
	size_t scratch_cap;
	int64_t next_reactive_ns;        /* earliest next sample-driven pass */
	struct mc_arbiter_stats stats;   /* under lock for readers */
};

void mc_arbiter_kick(struct mc_arbiter *a)
{
	/* Only the first kick after a wake-up takes the lock: a burst of
	 * publishes costs one atomic each and produces one wake-up. */
	if (uatomic_xchg(&a->kicked, 1) == 0) {
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

static int scratch_reserve(struct mc_arbiter *a, size_t want)
{
	void *p;

	if (want <= a->scratch_cap)
		return 0;
	p = realloc(a->scratch, want);
	if (!p)
		return -ENOMEM;
	a->scratch = p;
	a->scratch_cap = want;
	return 0;
}

/* CPU time of the calling thread, ns. */
static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * MC_NS_PER_S + ts.tv_nsec;
}

/* One decision. Returns 0, or a negative errno when no decision was made. */
static int run_pass(struct mc_arbiter *a)
{
	const struct mc_policy *pol;
	int64_t t0 = mc_now_ns();
	int64_t r0 = mc_real_now_ns(), r1;   /* costs in real time */
	int64_t c0 = thread_cpu_ns(), c1;
	int rc, napplied = 0;

	rc = mc_snapshot_build(&a->snap, a->reg, t0);
	if (rc == -EINVAL) {
		mc_err("arbiter: no configuration published");
		return rc;
	}
	pol = a->snap.cfg.policy;
	if (rc == 0 && !pol) {
		mc_err("arbiter: unknown policy in the configuration");
		return -EINVAL;
	}
	if (rc == 0)
		rc = plan_reserve(&a->plan, mc_plan_cap_for(a->snap.view.n));
	if (rc == 0 && pol->scratch_size)
		rc = scratch_reserve(a, pol->scratch_size(a->snap.view.n));
	if (rc < 0) {
		mc_err("arbiter: out of memory building the view");
		return rc;
	}
	a->plan.n = 0;
	rc = pol->decide(&a->snap.view, &a->snap.cfg.params, a->scratch, &a->plan);
	r1 = mc_real_now_ns();
	c1 = thread_cpu_ns();
	if (rc < 0) {
		mc_warn("arbiter: policy %s failed (%d); no action this pass", pol->name, rc);
		a->plan.n = 0;
	}
	mc_debug("decision: %zu domains, %zu actions, %lld us",
		 a->snap.view.n, a->plan.n, (long long)((r1 - r0) / 1000));
	if (a->plan.n > a->applied_cap) {
		struct mc_applied *r = realloc(a->applied, a->plan.cap * sizeof(*r));

		if (r) {
			a->applied = r;
			a->applied_cap = a->plan.cap;
		}
	}
	if (a->plan.n) {
		a->act->cfg.dry_run = a->snap.cfg.dry_run;
		a->act->cfg.host_reserve_kib = a->snap.cfg.params.bal.host_reserve_kib;
		a->act->cfg.budget_kib = a->snap.cfg.params.bal.budget_kib;
		napplied = mc_actuator_apply(a->act, &a->snap.view, a->snap.meta, &a->plan,
					     mc_now_ns(),
					     a->plan.n <= a->applied_cap ? a->applied : NULL);
	}
	if (a->cfg.trace)
		mc_trace_pass(a->cfg.trace, t0, &a->snap.view, a->snap.meta, &a->plan,
			      a->plan.n && a->plan.n <= a->applied_cap ? a->applied : NULL);

	/* Sample-driven passes are spaced by ten times this one's cost, so
	 * the arbiter stays under a tenth of a core however fast samples
	 * arrive; 1 ms at least. */
	{
		/* The pass's CPU time, converted to the (possibly faster)
		 * clock: a pass stretched by preemption on a busy host took
		 * no more of the CPU, and must not hold the next decision
		 * back (a preempted 18 ms pass did, for 20 ms). At most 20 ms. */
		int64_t gap = (int64_t)((double)(c1 - c0) * 10 * mc_clock_speed());

		if (gap < MC_NS_PER_MS)
			gap = MC_NS_PER_MS;
		if (gap > 20 * MC_NS_PER_MS)
			gap = 20 * MC_NS_PER_MS;
		a->next_reactive_ns = mc_now_ns() + gap;
	}
	pthread_mutex_lock(&a->lock);
	a->stats.passes++;
	a->stats.last_pass_ns = r1 - r0;
	mc_hist_add(&a->stats.pass_ns, r1 - r0);
	a->stats.actions += a->plan.n;
	a->stats.applied += (unsigned long)napplied;
	if (napplied)
		a->stats.react_ns = a->act->stats.react_ns;
	pthread_mutex_unlock(&a->lock);
	return 0;
}

/* --once: are there samples for every registered domain and the host?
 * Not before the first listing: the host collector's first sample can come
 * while the listing is still on its way, and an empty table would then
 * pass for a host without domains. */
static bool all_sampled(struct mc_arbiter *a)
{
	struct cds_lfht_iter iter;
	struct mc_domain *d;
	bool all = true;

	if (!uatomic_read(&a->reg->listings))
		return false;
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

/* The running policy and interval, read in a short read section. */
static void live_settings(struct mc_arbiter *a, bool *reactive, int64_t *interval_ns)
{
	struct mc_config *cfg;
	const struct mc_policy *pol = NULL;

	*reactive = false;
	*interval_ns = MC_DEF_INTERVAL_MS * MC_NS_PER_MS;
	rcu_read_lock();
	cfg = rcu_dereference(a->reg->cfg);
	if (cfg) {
		pol = mc_policy_find(cfg->policy);
		*interval_ns = (int64_t)cfg->interval_ms * MC_NS_PER_MS;
	}
	rcu_read_unlock();
	*reactive = pol && pol->reactive;
}

static void *arbiter_main(void *arg)
{
	struct mc_arbiter *a = arg;
	int64_t start = mc_now_ns(), interval_ns;
	int64_t next_tick;
	bool reactive;

	rcu_register_thread();
	pthread_setname_np(pthread_self(), "mc-arbiter");
	live_settings(a, &reactive, &interval_ns);
	next_tick = start + interval_ns;

	for (;;) {
		struct timespec ts;
		bool by_kick, tick;
		int64_t deadline, now;

		/* A reactive policy is woken by samples, but no sooner than
		 * next_reactive_ns; others sleep to the tick. */
		if (a->cfg.once) {
			deadline = start + (int64_t)a->cfg.once_wait_ms * MC_NS_PER_MS;
		} else {
			/* Up to the tick, but at least once a second: the
			 * heartbeat feeds the service manager's watchdog
			 * even with a long interval. */
			deadline = mc_now_ns() + MC_ARBITER_BEAT_NS;
			if (next_tick < deadline)
				deadline = next_tick;
		}
		ts = mc_ns_to_ts(deadline);
		pthread_mutex_lock(&a->lock);
		while (!a->stop) {
			if ((reactive || a->cfg.once) && uatomic_read(&a->kicked) &&
			    mc_now_ns() >= a->next_reactive_ns)
				break;
			if (reactive && uatomic_read(&a->kicked)) {
				/* Kicked too soon after the last pass: wait
				 * out the gap (or the tick, if earlier). */
				struct timespec gap = mc_ns_to_ts(a->next_reactive_ns < deadline
								  ? a->next_reactive_ns : deadline);

				if (pthread_cond_timedwait(&a->cond, &a->lock, &gap) == ETIMEDOUT &&
				    a->next_reactive_ns >= deadline)
					break;
				continue;
			}
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
		a->stats.heartbeats++;
		pthread_mutex_unlock(&a->lock);

		now = mc_now_ns();
		if (a->cfg.once) {
			bool timed_out = now >= deadline;

			if (!all_sampled(a) && !timed_out)
				continue;
			if (mc_registry_count(a->reg) == 0 && timed_out)
				mc_warn("--once: no domain reported a sample in %d ms",
					a->cfg.once_wait_ms);
			int r = run_pass(a);

			pthread_mutex_lock(&a->lock);
			a->result = r;
			a->done = true;
			pthread_mutex_unlock(&a->lock);
			if (a->cfg.done)
				a->cfg.done(a->cfg.done_opaque);
			break;
		}

		tick = now >= next_tick;
		if (tick || (by_kick && reactive))
			run_pass(a);
		/* A reload may change the policy or the interval. */
		live_settings(a, &reactive, &interval_ns);
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

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->reg = reg;
	a->act = act;
	a->cfg = *cfg;
	mc_snapshot_init(&a->snap);
	pthread_mutex_init(&a->lock, NULL);
	rc = mc_cond_init_monotonic(&a->cond);
	if (rc < 0)
		goto fail;
	rc = -pthread_create(&a->thread, NULL, arbiter_main, a);
	if (rc < 0)
		goto fail_cond;
	*out = a;
	return 0;
fail_cond:
	pthread_cond_destroy(&a->cond);
fail:
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

void mc_arbiter_halt(struct mc_arbiter *a)
{
	if (!a || a->joined)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	a->joined = true;
}

void mc_arbiter_stop(struct mc_arbiter *a)
{
	if (!a)
		return;
	mc_arbiter_halt(a);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	mc_snapshot_fini(&a->snap);
	free(a->plan.act);
	free(a->applied);
	free(a->scratch);
	free(a);
}
