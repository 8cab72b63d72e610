/* memcoord — per-domain collector threads and the host collector.
 *
 * Each collector owns one hypervisor handle and one record's sample pointer:
 * it is the only writer of d->sample, so publication is a single
 * rcu_xchg_pointer and the old sample goes to call_rcu. Waiting is always on
 * the collector's condition variable with an absolute CLOCK_MONOTONIC
 * deadline, so a stop request or a balloon change is seen at once.
 *
 * Balloon changes. The arbiter does not call the hypervisor itself: it hands
 * each change to the domain's collector (one request slot, under `lock`) and
 * waits for the answer a bounded time. A hypervisor call that hangs (a guest
 * whose QEMU stopped answering) then holds up that one domain's thread, never
 * the arbiter or another domain. Slot states:
 *   IDLE -> QUEUED (arbiter) -> RUNNING (collector) -> DONE (collector)
 *   -> IDLE (arbiter takes the result);
 *   QUEUED -> IDLE when the arbiter gives up before the collector took it;
 *   RUNNING -> abandoned when it gives up during the call: the collector
 *   logs the late outcome itself and frees the slot.
 *
 * Lifetime. The arbiter finds a collector through its record under the RCU
 * read lock and takes a reference; the thread's owner holds another. The
 * structure is freed after a grace period once both are gone, so a reader
 * that saw the pointer never sees freed memory.
 *
 * Stopping. A collector asked to stop publishes nothing more: everything it
 * touches after a hypervisor call returns, once stopped, is its own (the
 * collector, its record, its handle). So a daemon stopping may leave a
 * thread stuck in a call behind (mc_collector_join_until) and exit. */
#include "memcoord/collector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcoord/log.h"
#include "memcoord/wake.h"

#if defined(__SANITIZE_ADDRESS__)
#define MC_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MC_SANITIZED 1
#endif
#endif

/* AddressSanitizer's redzones multiply stack use; give sanitized builds room. */
#ifdef MC_SANITIZED
#define STACK_BYTES (1024 * 1024)
#else
#define STACK_BYTES (MC_COLLECTOR_STACK_KIB * 1024)
#endif

enum set_state {
	SET_IDLE,
	SET_QUEUED,
	SET_RUNNING,
	SET_DONE,
};

/* The one balloon-change slot of a collector (under its lock). */
struct set_req {
	enum set_state state;
	bool abandoned;            /* RUNNING and nobody waits for it any more */
	uint64_t kib;
	int rc;                    /* DONE: the backend's answer */
	int64_t started_ns;        /* real time the collector took it */
	char err[256];             /* DONE with rc < 0: mc_hv_last_error() */
};

struct mc_collector {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;       /* wakes the collector */
	pthread_cond_t done;       /* wakes the arbiter waiting on `req` */
	bool stop;                 /* under lock */
	struct set_req req;        /* under lock */
	int exited;                /* uatomic: the thread function returned */
	long refs;                 /* uatomic: owner + arbiter while it waits */
	int64_t call_ns;           /* uatomic: real time the current collection
				    * began, 0 when not collecting */
	struct mc_domain *d;
	struct mc_collector_env env;
	struct rcu_head rcu;
};

static unsigned long live_collectors;

unsigned long mc_collector_live_count(void)
{
	return uatomic_read(&live_collectors);
}

/* Absolute CLOCK_MONOTONIC timespec delta_ns of real time from now (not
 * memcoord's clock: a hung call is measured in real seconds even when a
 * simulation speeds the clock up). */
static struct timespec real_deadline_ts(int64_t delta_ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	delta_ns += ts.tv_nsec;
	ts.tv_sec += delta_ns / MC_NS_PER_S;
	ts.tv_nsec = delta_ns % MC_NS_PER_S;
	return ts;
}

/* Wait until the absolute monotonic deadline or a stop request.
 * Returns true when asked to stop. */
static bool wait_until(pthread_mutex_t *lock, pthread_cond_t *cond,
		       const bool *stop, int64_t deadline_ns)
{
	struct timespec ts = mc_ns_to_ts(deadline_ns);
	bool stopping;

	pthread_mutex_lock(lock);
	while (!*stop) {
		if (pthread_cond_timedwait(cond, lock, &ts) == ETIMEDOUT)
			break;
	}
	stopping = *stop;
	pthread_mutex_unlock(lock);
	return stopping;
}

/* A per-thread jitter in [0, range): start times spread over one period. */
static int64_t jitter_ns(const void *seed_ptr, int64_t range)
{
	uint64_t x = (uint64_t)(uintptr_t)seed_ptr ^ (uint64_t)mc_now_ns();

	/* xorshift64*: cheap and good enough to spread start times. */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	x *= 2685821657736338717ULL;
	return range > 0 ? (int64_t)(x % (uint64_t)range) : 0;
}

static void set_thread_name(const char *prefix, const char *name)
{
	char buf[16];
	size_t n = strlen(prefix);

	/* The kernel keeps 15 characters; tests look for "mc/<name>". */
	mc_strlcpy(buf, prefix, sizeof(buf));
	mc_strlcpy(buf + n, name, sizeof(buf) - n);
	pthread_setname_np(pthread_self(), buf);
}

/* Per-thread state a collector keeps between periods. */
struct col_state {
	struct mc_hv_dom *h;
	uint64_t seq;
	bool stats_known;       /* has_stats was decided at least once */
	bool had_stats;
	bool period_set;
	int last_err;           /* last error logged, to log a streak once */
	/* The last fresh trusted sample, the base for rates. */
	bool has_prev;
	struct mc_stats prev;
	int64_t prev_ns;
	/* The signals of the latest trusted sample (fresh or not). */
	bool has_last_sig;
	struct mc_signals last_sig;
	uint32_t bad_total;
	uint32_t bad_logged;    /* MC_BAD_* kinds already logged for this domain */
	unsigned long epoch;    /* registry epoch of the last collection */
	uint64_t last_actual_kib;  /* balloon of the previous sample */
	struct mc_wake_mark wake;  /* for the arbiter's wake-up (wake.h) */
};

/* Check the new sample against the last trusted one and derive its rates.
 * Rejections are counted and each kind is logged once per domain. */
static void derive_signals(struct mc_collector *c, struct col_state *st,
			   struct mc_sample *s)
{
	struct mc_signals *sig = &s->sig;

	mc_signals_derive(st->has_prev ? &st->prev : NULL, st->prev_ns,
			  st->has_last_sig ? &st->last_sig : NULL,
			  &s->stats, s->taken_ns, s->max_kib, st->last_actual_kib, sig);
	st->last_actual_kib = s->stats.val[MC_STAT_ACTUAL];
	if (sig->bad) {
		uint32_t fresh_kinds = sig->bad & ~st->bad_logged;

		st->bad_total++;
		for (uint32_t bit = 1; fresh_kinds && bit < (1u << MC_BAD_NBITS); bit <<= 1)
			if (fresh_kinds & bit)
				mc_warn("%s: rejected guest statistics: %s (not trusted; "
					"further rejections of this kind are only counted)",
					c->d->name, mc_signals_bad_name(bit));
		st->bad_logged |= sig->bad;
		/* A counter or clock that went backwards usually means the
		 * guest rebooted: start the rates over from the next sample. */
		if (sig->bad & (MC_BAD_COUNTER | MC_BAD_LAST_UPDATE)) {
			st->has_prev = false;
			st->has_last_sig = false;
		}
	} else {
		st->last_sig = *sig;
		st->has_last_sig = true;
		if (sig->fresh) {
			st->prev = s->stats;
			st->prev_ns = s->taken_ns;
			st->has_prev = true;
		}
	}
	s->bad_total = st->bad_total;
}

/* Whether a new sample may call for a decision now (wake.h), against the
 * running configuration; the interval's pass sees every other one. */
static bool wants_decision(const struct mc_collector_env *env, struct mc_wake_mark *mark,
			   const struct mc_sample *s)
{
	struct mc_config *cfg;
	bool wake = true;

	rcu_read_lock();
	cfg = rcu_dereference(env->reg->cfg);
	if (cfg)
		wake = mc_wake_domain(mark, s, &cfg->params.bal);
	rcu_read_unlock();
	return wake;
}

/* Read the domain once and publish a sample. Returns 0, or a negative errno
 * when nothing was published. */
static int collect_once(struct mc_collector *c, struct col_state *st)
{
	struct mc_hv *hv = c->env.hv;
	struct mc_dom_info info;
	struct mc_sample *s;
	unsigned long epoch = uatomic_read(&c->env.reg->epoch);
	bool wake;
	int rc;

	if (epoch != st->epoch) {
		/* The connection was lost since the last sample: set the
		 * stats period again (a restarted guest forgot it) and start
		 * rates over rather than span the outage. */
		st->epoch = epoch;
		st->period_set = false;
		st->has_prev = false;
		st->has_last_sig = false;
		st->wake = (struct mc_wake_mark){ 0 };
	}
	if (!st->h) {
		rc = hv->ops->dom_open(hv, c->d->uuid, &st->h);
		if (rc < 0)
			return rc;
	}
	rc = hv->ops->dom_info(st->h, &info);
	if (rc < 0)
		return rc;
	if (info.has_balloon && !st->period_set) {
		int period_s = c->env.period_ms >= 1000 ? c->env.period_ms / 1000 : 1;

		rc = hv->ops->dom_set_period(st->h, period_s);
		if (rc < 0 && rc != -ENOTSUP)
			mc_info("%s: cannot set balloon stats period to %d s: %s",
				c->d->name, period_s, mc_hv_last_error());
		st->period_set = true;
	}

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (info.has_balloon) {
		rc = hv->ops->dom_stats(st->h, &s->stats);
		if (rc < 0) {
			free(s);
			return rc;
		}
	}
	s->seq = ++st->seq;
	s->taken_ns = mc_now_ns();
	s->epoch = epoch;
	s->state = info.state;
	s->max_kib = info.max_kib;
	s->cur_kib = info.cur_kib;
	s->min_guarantee_kib = info.min_guarantee_kib;
	/* A guest without a balloon driver reports at most "actual" (the
	 * hypervisor's own figure): without unused/usable there is nothing
	 * to decide on. */
	s->has_stats = mc_stats_has(&s->stats, MC_STAT_UNUSED) ||
		       mc_stats_has(&s->stats, MC_STAT_USABLE);
	if (!mc_stats_has(&s->stats, MC_STAT_ACTUAL)) {
		s->stats.val[MC_STAT_ACTUAL] = info.cur_kib;
		s->stats.present |= 1u << MC_STAT_ACTUAL;
	}

	if (s->has_stats)
		derive_signals(c, st, s);
	else
		/* A guest booting has no statistics until its balloon driver
		 * loads, and by then the balloon is inflating toward
		 * <currentMemory>: remember where it was. */
		st->last_actual_kib = s->stats.val[MC_STAT_ACTUAL];

	if (!st->stats_known || st->had_stats != s->has_stats) {
		if (!s->has_stats)
			mc_info("%s: guest reports no balloon statistics (%s); left out of decisions",
				c->d->name, info.has_balloon ? "no balloon driver?" : "no balloon device");
		else if (st->stats_known)
			mc_info("%s: guest reports balloon statistics again", c->d->name);
		st->stats_known = true;
		st->had_stats = s->has_stats;
	}

	wake = wants_decision(&c->env, &st->wake, s);
	/* Under the lock, so that once a stop is requested nothing more
	 * reaches the registry or the daemon (see "Stopping" above). */
	pthread_mutex_lock(&c->lock);
	if (c->stop) {
		pthread_mutex_unlock(&c->lock);
		free(s);
		return -ECANCELED;
	}
	mc_domain_publish(c->d, s);
	if (wake && c->env.published)
		c->env.published(c->env.opaque);
	pthread_mutex_unlock(&c->lock);
	/* Which domains' samples keep coming (tests/test_hung_call.sh). */
	mc_debug("%s: sample %llu", c->d->name, (unsigned long long)st->seq);
	return 0;
}

static void log_error_streak(struct mc_collector *c, struct col_state *st, int rc)
{
	if (rc == st->last_err)
		return;
	st->last_err = rc;
	switch (rc) {
	case -ENOENT:
		/* The lifecycle event removing it is on its way. */
		mc_debug("%s: domain vanished; waiting for its removal", c->d->name);
		break;
	case -ENOTCONN:
		mc_debug("%s: no hypervisor connection; keeping the last sample", c->d->name);
		break;
	default:
		mc_warn("%s: cannot read statistics: %s", c->d->name,
			rc == -ENOMEM ? "out of memory" : mc_hv_last_error());
	}
}

enum wake {
	WAKE_STOP,
	WAKE_SET,       /* a balloon change was queued: it is now RUNNING */
	WAKE_COLLECT,   /* the deadline passed */
};

/* Complete the queued or running change with rc (and the error text). */
static void finish_set(struct mc_collector *c, int rc)
{
	c->req.rc = rc;
	if (rc < 0)
		mc_strlcpy(c->req.err, mc_hv_last_error(), sizeof(c->req.err));
	c->req.state = SET_DONE;
	pthread_cond_broadcast(&c->done);
}

/* Sleep until the deadline, a stop request or a queued balloon change.
 * *kib receives the change's target for WAKE_SET. */
static enum wake collector_wait(struct mc_collector *c, int64_t deadline_ns, uint64_t *kib)
{
	struct timespec ts = mc_ns_to_ts(deadline_ns);
	enum wake w;

	pthread_mutex_lock(&c->lock);
	while (!c->stop && c->req.state != SET_QUEUED) {
		if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
			break;
	}
	if (c->stop) {
		if (c->req.state == SET_QUEUED) {
			mc_hv_set_error("the domain is being removed");
			finish_set(c, -ENOENT);
		}
		w = WAKE_STOP;
	} else if (c->req.state == SET_QUEUED) {
		c->req.state = SET_RUNNING;
		c->req.started_ns = mc_real_now_ns();
		*kib = c->req.kib;
		w = WAKE_SET;
	} else {
		w = WAKE_COLLECT;
	}
	pthread_mutex_unlock(&c->lock);
	return w;
}

/* Make the balloon change the arbiter queued, and answer it - or, when the
 * arbiter stopped waiting during the call, say how it ended. */
static void run_set(struct mc_collector *c, uint64_t kib)
{
	char mib[MC_MIB_STR_LEN];
	int64_t late_ms;
	int rc;

	rc = c->env.hv->ops->set_memory(c->env.hv, c->d->uuid, kib);
	pthread_mutex_lock(&c->lock);
	if (!c->req.abandoned) {
		finish_set(c, rc);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	late_ms = (mc_real_now_ns() - c->req.started_ns) / MC_NS_PER_MS;
	c->req.abandoned = false;
	c->req.state = SET_IDLE;
	pthread_mutex_unlock(&c->lock);
	mc_fmt_mib(mib, kib);
	if (rc == 0)
		mc_info("%s: balloon change to %s MiB took effect after %lld ms", c->d->name,
			mib, (long long)late_ms);
	else if (rc == -ENOENT)
		mc_info("%s: vanished during a balloon change that took %lld ms", c->d->name,
			(long long)late_ms);
	else
		mc_warn("%s: balloon change to %s MiB failed after %lld ms: %s", c->d->name,
			mib, (long long)late_ms, mc_hv_last_error());
}

static void *collector_main(void *arg)
{
	struct mc_collector *c = arg;
	struct col_state st = {0};
	int64_t period_ns = (int64_t)c->env.period_ms * MC_NS_PER_MS;
	int64_t next;
	uint64_t kib = 0;
	enum wake w;

	rcu_register_thread();
	set_thread_name("mc/", c->d->name);

	next = mc_now_ns() + jitter_ns(c, (int64_t)c->env.jitter_ms * MC_NS_PER_MS);
	while ((w = collector_wait(c, next, &kib)) != WAKE_STOP) {
		int rc;

		if (w == WAKE_SET) {
			run_set(c, kib);
			continue;
		}
		uatomic_set(&c->call_ns, mc_real_now_ns());
		rc = collect_once(c, &st);
		uatomic_set(&c->call_ns, 0);
		if (rc < 0 && rc != -ECANCELED) {
			log_error_streak(c, &st, rc);
			/* A handle from a vanished domain is useless; reopen. */
			if (rc == -ENOENT && st.h) {
				c->env.hv->ops->dom_close(st.h);
				st.h = NULL;
			}
		} else if (rc == 0) {
			st.last_err = 0;
		}
		next += period_ns;
		int64_t now = mc_now_ns();
		if (next <= now)   /* fell behind: do not burst to catch up */
			next = now + period_ns;
	}

	if (st.h)
		c->env.hv->ops->dom_close(st.h);
	rcu_unregister_thread();
	uatomic_dec(&live_collectors);
	uatomic_set(&c->exited, 1);
	return NULL;
}

int mc_collector_start(struct mc_domain *d, const struct mc_collector_env *env)
{
	struct mc_collector *c;
	pthread_attr_t attr;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->d = d;
	c->env = *env;
	c->refs = 1;
	pthread_mutex_init(&c->lock, NULL);
	rc = mc_cond_init_monotonic(&c->cond);
	if (rc < 0)
		goto fail;
	rc = mc_cond_init_monotonic(&c->done);
	if (rc < 0) {
		pthread_cond_destroy(&c->cond);
		goto fail;
	}

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_BYTES);
	uatomic_inc(&live_collectors);
	rc = -pthread_create(&c->thread, &attr, collector_main, c);
	pthread_attr_destroy(&attr);
	if (rc < 0) {
		uatomic_dec(&live_collectors);
		pthread_cond_destroy(&c->done);
		pthread_cond_destroy(&c->cond);
		goto fail;
	}
	/* The arbiter finds it through the record (mc_collector_set_memory). */
	rcu_assign_pointer(d->collector, c);
	return 0;
fail:
	pthread_mutex_destroy(&c->lock);
	free(c);
	return rc;
}

void mc_collector_request_stop(struct mc_collector *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void collector_free_rcu(struct rcu_head *head)
{
	struct mc_collector *c = caa_container_of(head, struct mc_collector, rcu);

	pthread_cond_destroy(&c->done);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* A reference for a reader that found c under the RCU read lock; fails
 * once the last reference is gone (c is then only waiting for its grace
 * period). */
static bool collector_get(struct mc_collector *c)
{
	long r = uatomic_read(&c->refs);

	while (r > 0) {
		long seen = uatomic_cmpxchg(&c->refs, r, r + 1);

		if (seen == r)
			return true;
		r = seen;
	}
	return false;
}

static void collector_put(struct mc_collector *c)
{
	if (uatomic_sub_return(&c->refs, 1) == 0)
		call_rcu(&c->rcu, collector_free_rcu);
}

int mc_collector_try_join(struct mc_collector *c)
{
	if (!uatomic_read(&c->exited))
		return -EBUSY;
	pthread_join(c->thread, NULL);
	collector_put(c);
	return 0;
}

void mc_collector_join(struct mc_collector *c)
{
	if (!c)
		return;
	mc_collector_request_stop(c);
	pthread_join(c->thread, NULL);
	collector_put(c);
}

int mc_collector_join_until(struct mc_collector *c, int64_t deadline_ns)
{
	struct timespec ts;
	int64_t left = deadline_ns - mc_real_now_ns();

	mc_collector_request_stop(c);
	/* pthread_timedjoin_np measures CLOCK_REALTIME. */
	clock_gettime(CLOCK_REALTIME, &ts);
	left = (left > 0 ? left : 0) + ts.tv_nsec;
	ts.tv_sec += left / MC_NS_PER_S;
	ts.tv_nsec = left % MC_NS_PER_S;
	if (pthread_timedjoin_np(c->thread, NULL, &ts) != 0) {
		/* Stuck in a hypervisor call: it finishes (or not) on its own,
		 * touching only what is left to it. */
		pthread_detach(c->thread);
		return -ETIMEDOUT;
	}
	collector_put(c);
	return 0;
}

const char *mc_collector_name(const struct mc_collector *c)
{
	return c->d->name;
}

/* Queue a balloon change on c and wait for its answer, at most wait_ns. */
static int collector_set(struct mc_collector *c, uint64_t kib, int64_t wait_ns)
{
	struct timespec ts;
	int64_t call = uatomic_read(&c->call_ns), now = mc_real_now_ns();
	int rc;

	/* A collection that has run this long is stuck: do not wait for it
	 * again on every decision. */
	if (call && now - call > wait_ns) {
		mc_hv_set_error("a hypervisor call for the domain has not returned for %lld ms",
				(long long)((now - call) / MC_NS_PER_MS));
		return -EBUSY;
	}
	pthread_mutex_lock(&c->lock);
	if (c->stop) {
		pthread_mutex_unlock(&c->lock);
		mc_hv_set_error("the domain is being removed");
		return -ENOENT;
	}
	if (c->req.state != SET_IDLE) {
		/* Only an abandoned change can be here: the arbiter is the
		 * only requester and waits for the others. */
		mc_hv_set_error("a balloon change started %lld ms ago has not returned",
				(long long)((now - c->req.started_ns) / MC_NS_PER_MS));
		pthread_mutex_unlock(&c->lock);
		return -EBUSY;
	}
	memset(&c->req, 0, sizeof(c->req));
	c->req.state = SET_QUEUED;
	c->req.kib = kib;
	pthread_cond_signal(&c->cond);
	ts = real_deadline_ts(wait_ns);
	while (c->req.state == SET_QUEUED || c->req.state == SET_RUNNING) {
		if (pthread_cond_timedwait(&c->done, &c->lock, &ts) == ETIMEDOUT)
			break;
	}
	switch (c->req.state) {
	case SET_DONE:
		rc = c->req.rc;
		if (rc < 0)
			mc_hv_set_error("%s", c->req.err);
		c->req.state = SET_IDLE;
		break;
	case SET_QUEUED:
		/* Never started: withdrawn, nothing changed. */
		c->req.state = SET_IDLE;
		mc_hv_set_error("the domain's collector is in a hypervisor call that has not "
				"returned within %lld ms", (long long)(wait_ns / MC_NS_PER_MS));
		rc = -ETIMEDOUT;
		break;
	default:
		c->req.abandoned = true;
		mc_hv_set_error("no answer from the hypervisor within %lld ms; the change may "
				"still take effect", (long long)(wait_ns / MC_NS_PER_MS));
		rc = -EINPROGRESS;
		break;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int mc_collector_set_memory(void *reg_opaque, const uint8_t uuid[MC_UUID_LEN], uint64_t kib)
{
	struct mc_registry *reg = reg_opaque;
	struct mc_collector *c = NULL;
	struct mc_domain *d;
	int rc;

	rcu_read_lock();
	d = mc_registry_lookup(reg, uuid);
	if (d)
		c = rcu_dereference(d->collector);
	if (c && !collector_get(c))
		c = NULL;
	rcu_read_unlock();
	if (!c) {
		mc_hv_set_error("the domain is not being collected");
		return -ENOENT;
	}
	rc = collector_set(c, kib, (int64_t)MC_COLLECTOR_SET_WAIT_MS * MC_NS_PER_MS);
	collector_put(c);
	return rc;
}

/* ---- the host collector ------------------------------------------------ */

struct mc_hostmon {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct mc_collector_env env;
};

static void *hostmon_main(void *arg)
{
	struct mc_hostmon *h = arg;
	int64_t period_ns = (int64_t)h->env.period_ms * MC_NS_PER_MS;
	int64_t next = mc_now_ns();
	uint64_t seq = 0;
	int last_err = 0;

	rcu_register_thread();
	pthread_setname_np(pthread_self(), "mc-host");
	while (!wait_until(&h->lock, &h->cond, &h->stop, next)) {
		struct mc_host_sample *s = calloc(1, sizeof(*s));
		int rc = s ? h->env.hv->ops->host_mem(h->env.hv, &s->mem) : -ENOMEM;

		if (rc == 0) {
			struct mc_config *cfg;
			bool wake;

			s->seq = ++seq;
			s->taken_ns = mc_now_ns();
			rcu_read_lock();
			cfg = rcu_dereference(h->env.reg->cfg);
			wake = !cfg || mc_wake_host(seq == 1, &s->mem, &cfg->params.bal);
			rcu_read_unlock();
			mc_registry_publish_host(h->env.reg, s);
			if (wake && h->env.published)
				h->env.published(h->env.opaque);
			last_err = 0;
		} else {
			free(s);
			if (rc != last_err && rc != -ENOTCONN)
				mc_warn("cannot read host memory: %s", mc_hv_last_error());
			last_err = rc;
		}
		next += period_ns;
		if (next <= mc_now_ns())
			next = mc_now_ns() + period_ns;
	}
	rcu_unregister_thread();
	return NULL;
}

int mc_hostmon_start(struct mc_hostmon **out, const struct mc_collector_env *env)
{
	struct mc_hostmon *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return -ENOMEM;
	h->env = *env;
	pthread_mutex_init(&h->lock, NULL);
	rc = mc_cond_init_monotonic(&h->cond);
	if (rc == 0)
		rc = -pthread_create(&h->thread, NULL, hostmon_main, h);
	if (rc < 0) {
		pthread_mutex_destroy(&h->lock);
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void mc_hostmon_stop(struct mc_hostmon *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
