/* memcoord — the daemon's wiring and its start/stop order. */
#include "memcoord/daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "memcoord/actuator.h"
#include "memcoord/arbiter.h"
#include "memcoord/collector.h"
#include "memcoord/control.h"
#include "memcoord/log.h"
#include "memcoord/metrics.h"
#include "memcoord/sim.h"
#include "memcoord/trace.h"

/* How long stopping waits for collectors to leave their hypervisor calls. */
#define MC_STOP_JOIN_MS 2000

struct ev {
	struct ev *next;
	enum mc_hv_event kind;
	uint8_t uuid[MC_UUID_LEN];
	char name[MC_NAME_LEN];
};

/* A published configuration and what frees it after a grace period. */
struct live_cfg {
	struct mc_config c;
	struct rcu_head rcu;
};

struct mc_daemon {
	struct mc_config cfg;           /* as started: what a reload cannot change */
	struct live_cfg *live;          /* published in reg.cfg; main thread only */
	uint64_t cfg_gen;
	const char *uri_shown;          /* for messages */
	struct mc_hv *hv;
	struct mc_registry reg;
	bool reg_ready;
	struct mc_actuator act;
	struct mc_arbiter *arb;
	struct mc_hostmon *hostmon;
	struct mc_trace *trace;
	struct mc_arbiter_stats final;  /* the arbiter's figures at stop */
	struct mc_control *control;     /* the status socket; NULL: none */
	struct mc_metrics *metrics;     /* the metrics endpoint; NULL: off */
	int64_t started_ns;

	int evfd;
	pthread_mutex_t qlock;
	struct ev *qhead, *qtail;

	/* Records unlinked whose collectors have not been joined yet;
	 * touched by the processing thread only. */
	struct mc_domain **retiring;
	size_t nretiring, capretiring;
	unsigned int reap_polls;        /* 10 ms polls since one was last joined */

	bool connected;
	bool ever_connected;
	int64_t next_resync_ns;
	bool finished;                  /* uatomic */
	bool stopped;
};

static void wake(struct mc_daemon *d)
{
	uint64_t one = 1;

	/* An eventfd write only fails when the counter would overflow, and
	 * then the reader is already awake. */
	if (write(d->evfd, &one, sizeof(one)) < 0)
		return;
}

/* Backend event thread: queue and return. */
static void on_hv_event(void *opaque, enum mc_hv_event kind,
			const uint8_t uuid[MC_UUID_LEN], const char *name)
{
	struct mc_daemon *d = opaque;
	struct ev *e = calloc(1, sizeof(*e));

	if (!e) {
		/* Nothing lost for good: the next resync repairs the set. */
		return;
	}
	e->kind = kind;
	if (uuid)
		memcpy(e->uuid, uuid, MC_UUID_LEN);
	mc_strlcpy(e->name, name ? name : "", sizeof(e->name));
	pthread_mutex_lock(&d->qlock);
	if (d->qtail)
		d->qtail->next = e;
	else
		d->qhead = e;
	d->qtail = e;
	pthread_mutex_unlock(&d->qlock);
	wake(d);
}

/* Called by collectors and the host collector. The arbiter they kick is
 * freed only once they have all been joined (mc_daemon_stop). */
static void on_published(void *opaque)
{
	struct mc_daemon *d = opaque;
	struct mc_arbiter *a = uatomic_read(&d->arb);

	if (a)
		mc_arbiter_kick(a);
}

static void on_once_done(void *opaque)
{
	struct mc_daemon *d = opaque;

	uatomic_set(&d->finished, true);
	wake(d);
}

int mc_daemon_create(struct mc_daemon **out, const struct mc_config *cfg)
{
	struct mc_daemon *d = calloc(1, sizeof(*d));
	struct mc_hv_callbacks cb;
	int rc;

	if (!d)
		return -ENOMEM;
	if (mc_config_copy(&d->cfg, cfg) < 0) {
		free(d);
		return -ENOMEM;
	}
	d->uri_shown = d->cfg.uri ? d->cfg.uri
		     : getenv("LIBVIRT_DEFAULT_URI") ? getenv("LIBVIRT_DEFAULT_URI")
		     : "qemu:///system";
	d->evfd = -1;
	pthread_mutex_init(&d->qlock, NULL);
	d->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->evfd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = mc_registry_init(&d->reg);
	if (rc < 0)
		goto fail;
	d->reg_ready = true;
	cb.event = on_hv_event;
	cb.opaque = d;
	if (d->cfg.sim_path) {
		char err[2048];

		rc = mc_hv_sim_create(d->cfg.sim_path, d->cfg.params.bal.low_kib, &cb,
				      &d->hv, err, sizeof(err));
		if (rc < 0) {
			mc_err("%s", err);
			goto fail;
		}
		d->uri_shown = d->cfg.sim_path;
		/* The whole process runs on the scenario's clock: set before
		 * any thread exists. */
		mc_clock_set_speed(mc_hv_sim_speed(d->hv));
		if (!d->cfg.params.bal.budget_kib)
			d->cfg.params.bal.budget_kib = mc_hv_sim_budget_kib(d->hv);
	} else {
		rc = mc_hv_libvirt_create(d->cfg.uri, &cb, &d->hv);
		if (rc == 0)
			rc = mc_hv_libvirt_set_connections(d->hv, d->cfg.connections);
		if (rc < 0)
			goto fail;
	}
	if (d->cfg.trace_path) {
		rc = mc_trace_open(&d->trace, d->cfg.trace_path);
		if (rc < 0) {
			mc_err("cannot write the trace %s: %s", d->cfg.trace_path, strerror(-rc));
			goto fail;
		}
	}
	*out = d;
	return 0;
fail:
	mc_daemon_destroy(d);
	return rc;
}

int mc_daemon_fd(struct mc_daemon *d)
{
	return d->evfd;
}

struct mc_registry *mc_daemon_registry(struct mc_daemon *d)
{
	return &d->reg;
}

unsigned long mc_daemon_passes(struct mc_daemon *d)
{
	struct mc_arbiter_stats st;

	mc_daemon_arbiter_stats(d, &st);
	return st.passes;
}

void mc_daemon_arbiter_stats(struct mc_daemon *d, struct mc_arbiter_stats *out)
{
	if (d->arb)
		mc_arbiter_get_stats(d->arb, out);
	else
		*out = d->final;
}

struct mc_hv *mc_daemon_hv(struct mc_daemon *d)
{
	return d->hv;
}

bool mc_daemon_connected(struct mc_daemon *d)
{
	return d->connected;
}

const char *mc_daemon_uri(struct mc_daemon *d)
{
	return d->uri_shown;
}

unsigned long mc_daemon_heartbeat(struct mc_daemon *d)
{
	struct mc_arbiter_stats st;

	mc_daemon_arbiter_stats(d, &st);
	return st.heartbeats;
}

bool mc_daemon_finished(struct mc_daemon *d)
{
	return uatomic_read(&d->finished);
}

/* ---- domain set: add, remove, reap, resync ------------------------------ */

static void add_domain(struct mc_daemon *d, const uint8_t uuid[MC_UUID_LEN],
		       const char *name, bool jitter)
{
	struct mc_collector_env env = {
		.hv = d->hv,
		.reg = &d->reg,
		.period_ms = d->cfg.stats_period_s * 1000,
		.jitter_ms = jitter ? d->cfg.stats_period_s * 1000 : 0,
		.published = on_published,
		.opaque = d,
	};
	struct mc_domain *rec = mc_domain_new(uuid, name);
	int rc;

	if (!rec) {
		mc_err("%s: out of memory adding the domain", name);
		return;
	}
	rc = mc_registry_add(&d->reg, rec);
	if (rc < 0) {
		if (rc != -EEXIST)
			mc_err("%s: out of memory adding the domain", name);
		mc_domain_free(rec);
		return;
	}
	rc = mc_collector_start(rec, &env);
	if (rc < 0) {
		mc_err("%s: cannot start its collector thread: %s", name, strerror(-rc));
		mc_registry_del(&d->reg, rec);
		/* Readers may have seen the record: free after a grace period. */
		mc_domain_free_rcu(rec);
		return;
	}
	mc_info("%s: domain is running; collecting its statistics", rec->name);
}

static void retire(struct mc_daemon *d, struct mc_domain *rec)
{
	if (d->nretiring == d->capretiring) {
		size_t cap = d->capretiring ? d->capretiring * 2 : 16;
		struct mc_domain **r = realloc(d->retiring, cap * sizeof(*r));

		if (!r) {
			/* Cannot defer: wait for the collector here. */
			mc_collector_join(rec->collector);
			mc_domain_free_rcu(rec);
			return;
		}
		d->retiring = r;
		d->capretiring = cap;
	}
	d->retiring[d->nretiring++] = rec;
	d->reap_polls = 0;
}

/* Caller is the processing thread, the only one that unlinks records, so
 * rec stays valid after the read section that found it. */
static void remove_domain(struct mc_daemon *d, struct mc_domain *rec, const char *why)
{
	if (mc_registry_del(&d->reg, rec) < 0)
		return;
	mc_collector_request_stop(rec->collector);
	retire(d, rec);
	mc_info("%s: domain %s; dropped", rec->name, why);
}

static void reap(struct mc_daemon *d)
{
	size_t i = 0, n = d->nretiring;

	while (i < d->nretiring) {
		struct mc_domain *rec = d->retiring[i];

		if (mc_collector_try_join(rec->collector) == 0) {
			rec->collector = NULL;
			mc_domain_free_rcu(rec);
			d->retiring[i] = d->retiring[--d->nretiring];
		} else {
			i++;
		}
	}
	if (d->nretiring < n)
		d->reap_polls = 0;
}

static int cmp_uuid(const void *a, const void *b)
{
	return memcmp(a, b, MC_UUID_LEN);
}

/* Make the registry match a full listing. */
static void resync(struct mc_daemon *d)
{
	struct mc_dom_info *list = NULL;
	uint8_t (*uuids)[MC_UUID_LEN] = NULL;
	struct mc_domain **gone = NULL;
	size_t n = 0, ngone = 0, cap;
	struct cds_lfht_iter iter;
	struct mc_domain *rec;
	int rc;

	rc = d->hv->ops->list(d->hv, &list, &n);
	if (rc < 0) {
		if (rc != -ENOTCONN)
			mc_warn("cannot list domains: %s", mc_hv_last_error());
		return;
	}
	uuids = calloc(n ? n : 1, sizeof(*uuids));
	if (!uuids)
		goto out;
	for (size_t i = 0; i < n; i++)
		memcpy(uuids[i], list[i].uuid, MC_UUID_LEN);
	qsort(uuids, n, sizeof(*uuids), cmp_uuid);

	/* Records no longer listed. The count may change under us only by
	 * this thread, so it bounds the array. */
	cap = mc_registry_count(&d->reg);
	gone = calloc(cap ? cap : 1, sizeof(*gone));
	if (!gone)
		goto out;
	rcu_read_lock();
	cds_lfht_for_each_entry(d->reg.ht, &iter, rec, node) {
		if (ngone < cap && !bsearch(rec->uuid, uuids, n, sizeof(*uuids), cmp_uuid))
			gone[ngone++] = rec;
	}
	rcu_read_unlock();
	for (size_t i = 0; i < ngone; i++)
		remove_domain(d, gone[i], "is no longer running (resync)");

	for (size_t i = 0; i < n; i++)
		add_domain(d, list[i].uuid, list[i].name, true);
	uatomic_inc(&d->reg.listings);
	mc_debug("resync: %zu domains running, %zu dropped", n, ngone);
out:
	free(gone);
	free(uuids);
	free(list);
}

static void handle_event(struct mc_daemon *d, const struct ev *e)
{
	struct mc_domain *rec;

	switch (e->kind) {
	case MC_HV_EV_STARTED:
		add_domain(d, e->uuid, e->name, false);
		break;
	case MC_HV_EV_STOPPED:
		rcu_read_lock();
		rec = mc_registry_lookup(&d->reg, e->uuid);
		rcu_read_unlock();
		if (rec)
			remove_domain(d, rec, "stopped");
		break;
	case MC_HV_EV_CONNECTED:
		if (d->ever_connected)
			mc_notice("reconnected to %s; resynchronising", d->uri_shown);
		else
			mc_info("connected to %s", d->uri_shown);
		d->connected = true;
		d->ever_connected = true;
		resync(d);
		d->next_resync_ns = mc_now_ns() + (int64_t)d->cfg.resync_s * MC_NS_PER_S;
		break;
	case MC_HV_EV_DISCONNECTED:
		d->connected = false;
		/* Every sample so far describes a world we can no longer act
		 * on: decisions wait for samples from the new connection. */
		uatomic_inc(&d->reg.epoch);
		mc_warn("lost the connection to %s; reconnecting", d->uri_shown);
		break;
	case MC_HV_EV_END:
		mc_info("scenario %s is over", d->uri_shown);
		uatomic_set(&d->finished, true);
		break;
	}
}

int mc_daemon_process(struct mc_daemon *d)
{
	uint64_t cnt;
	struct ev *e;
	int64_t now, wait_ms;

	if (read(d->evfd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		mc_debug("eventfd read: %s", strerror(errno));

	for (;;) {
		pthread_mutex_lock(&d->qlock);
		e = d->qhead;
		if (e) {
			d->qhead = e->next;
			if (!d->qhead)
				d->qtail = NULL;
		}
		pthread_mutex_unlock(&d->qlock);
		if (!e)
			break;
		handle_event(d, e);
		free(e);
	}

	reap(d);

	now = mc_now_ns();
	if (d->connected && now >= d->next_resync_ns) {
		resync(d);
		d->next_resync_ns = now + (int64_t)d->cfg.resync_s * MC_NS_PER_S;
	}
	/* Collectors exit within microseconds of a stop request; poll again
	 * soon while some are retiring - for a second: one that takes longer
	 * is stuck in a hypervisor call, and is then looked at every second. */
	if (d->nretiring)
		return d->reap_polls++ < 100 ? 10 : 1000;
	d->reap_polls = 0;
	wait_ms = d->connected ? (d->next_resync_ns - now) / MC_NS_PER_MS + 1 : 1000;
	return wait_ms > 60000 ? 60000 : (int)wait_ms;
}

/* ---- the running configuration ------------------------------------------ */

static uint64_t host_reserve_default(struct mc_daemon *d);

static void free_live_rcu(struct rcu_head *head)
{
	struct live_cfg *l = caa_container_of(head, struct live_cfg, rcu);

	mc_config_free(&l->c);
	free(l);
}

/* Publish a copy of c as the running configuration (main thread only).
 * reserve_kib is the host reserve to use when c configures none. */
static int publish_config(struct mc_daemon *d, const struct mc_config *c,
			  uint64_t reserve_kib)
{
	struct live_cfg *l = calloc(1, sizeof(*l)), *old;

	if (!l || mc_config_copy(&l->c, c) < 0) {
		free(l);
		return -ENOMEM;
	}
	if (!l->c.host_reserve_set)
		l->c.host_reserve_kib = reserve_kib;
	l->c.params.bal.host_reserve_kib = l->c.host_reserve_kib;
	l->c.gen = ++d->cfg_gen;
	old = d->live;
	rcu_assign_pointer(d->reg.cfg, &l->c);
	d->live = l;
	if (old)
		call_rcu(&old->rcu, free_live_rcu);
	return 0;
}

int mc_daemon_reload(struct mc_daemon *d, const struct mc_config *c)
{
	uint64_t reserve = d->live ? d->live->c.host_reserve_kib : 0;
	int rc;

	/* What is fixed at start: say so rather than half-apply it. */
	if ((c->uri || d->cfg.uri) && (!c->uri || !d->cfg.uri || strcmp(c->uri, d->cfg.uri)))
		mc_warn("reload: the URI cannot change while running; restart memcoord to use it");
	if (c->stats_period_s != d->cfg.stats_period_s)
		mc_warn("reload: stats_period applies to domains started from now on");
	if (d->live && !c->host_reserve_set && d->live->c.host_reserve_set)
		reserve = host_reserve_default(d);
	rc = publish_config(d, c, reserve);
	if (rc < 0)
		return rc;
	d->cfg.stats_period_s = c->stats_period_s;
	d->cfg.resync_s = c->resync_s;
	mc_info("configuration reloaded: policy %s, interval %d ms, floor %llu MiB, host reserve %llu MiB%s",
		d->live->c.policy, d->live->c.interval_ms,
		(unsigned long long)mc_kib_to_mib(d->live->c.floor_kib),
		(unsigned long long)mc_kib_to_mib(d->live->c.host_reserve_kib),
		d->live->c.dry_run ? ", dry run" : "");
	return 0;
}

/* ---- start and stop ----------------------------------------------------- */

static uint64_t host_reserve_default(struct mc_daemon *d)
{
	struct mc_host_mem hm = {0};
	uint64_t total_kib = 0;

	if (d->hv->ops->host_mem(d->hv, &hm) == 0 && hm.has_total)
		total_kib = hm.total_kib;
	else {
		/* Not connected yet: size the reserve from this machine's RAM,
		 * the usual case of a local hypervisor. */
		long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

		if (pages > 0 && psz > 0)
			total_kib = (uint64_t)pages * (uint64_t)psz / 1024;
	}
	return mc_config_default_reserve_kib(total_kib);
}

/* The status socket, once the arbiter runs (it reads its figures). An
 * explicit path that fails stops the daemon; the default one is only a
 * convenience. */
static int start_control(struct mc_daemon *d)
{
	const char *path = d->cfg.control_socket;
	int rc;

	if (!path || strcmp(path, "none") == 0)
		return 0;
	rc = mc_control_start(&d->control, path, d, d->started_ns,
			      d->cfg.control_socket_implicit);
	if (rc < 0 && d->cfg.control_socket_implicit) {
		mc_warn("running without a control socket (memcoord status will not answer)");
		return 0;
	}
	return rc;
}

int mc_daemon_start(struct mc_daemon *d)
{
	struct mc_actuator_cfg acfg;
	struct mc_arbiter_cfg arbcfg;
	struct mc_collector_env env;
	int rc;

	d->started_ns = mc_now_ns();
	rc = mc_hv_start(d->hv, !d->cfg.once);
	if (rc < 0) {
		mc_err("%s%s", mc_hv_last_error(),
		       d->cfg.once ? "" : "; retrying in the background");
		if (d->cfg.once)
			return rc;
	}

	rc = publish_config(d, &d->cfg, d->cfg.host_reserve_set ? d->cfg.host_reserve_kib
							       : host_reserve_default(d));
	if (rc < 0)
		return rc;
	acfg.dry_run = d->live->c.dry_run;
	acfg.host_reserve_kib = d->live->c.host_reserve_kib;
	mc_actuator_init(&d->act, d->hv, &d->reg, &acfg);
	/* Balloon changes run on the domains' collector threads: a call that
	 * hangs holds up its own domain, not every decision. The simulated
	 * host answers from memory and never blocks, while its sped-up clock
	 * would turn each hand-off's two thread wake-ups into up to a
	 * simulated second on a loaded machine: it is called directly. */
	if (!d->cfg.sim_path) {
		d->act.set_memory = mc_collector_set_memory;
		d->act.set_opaque = &d->reg;
	}
	mc_info("policy %s, interval %d ms, stats period %d s, floor %llu MiB, host reserve %llu MiB%s",
		d->cfg.policy, d->cfg.interval_ms, d->cfg.stats_period_s,
		(unsigned long long)mc_kib_to_mib(d->cfg.floor_kib),
		(unsigned long long)mc_kib_to_mib(acfg.host_reserve_kib),
		d->cfg.dry_run ? ", dry run" : "");

	memset(&arbcfg, 0, sizeof(arbcfg));
	arbcfg.once = d->cfg.once;
	arbcfg.once_wait_ms = MC_DEF_ONCE_WAIT_MS;
	arbcfg.done = on_once_done;
	arbcfg.done_opaque = d;
	arbcfg.trace = d->trace;
	rc = mc_arbiter_start(&d->arb, &d->reg, &d->act, &arbcfg);
	if (rc < 0) {
		mc_err("cannot start the arbiter: %s", strerror(-rc));
		return rc;
	}

	memset(&env, 0, sizeof(env));
	env.hv = d->hv;
	env.reg = &d->reg;
	env.period_ms = d->cfg.stats_period_s * 1000;
	env.published = on_published;
	env.opaque = d;
	rc = mc_hostmon_start(&d->hostmon, &env);
	if (rc < 0) {
		mc_err("cannot start the host collector: %s", strerror(-rc));
		return rc;
	}
	rc = start_control(d);
	if (rc < 0)
		return rc;
	if (d->cfg.metrics_listen) {
		rc = mc_metrics_start(&d->metrics, d->cfg.metrics_listen,
				      d->cfg.metrics_allow_remote, d, d->started_ns);
		if (rc < 0)
			return rc;
	}
	/* The CONNECTED event queued by the backend triggers the first
	 * listing; process it now so --once sees every domain. */
	mc_daemon_process(d);
	return 0;
}

/* Join every retiring collector, waiting MC_STOP_JOIN_MS in all. One still
 * in a hypervisor call by then (a guest whose QEMU stopped answering) is
 * left behind with its record: stopping must not hang on it. */
static void join_collectors(struct mc_daemon *d)
{
	int64_t deadline = mc_real_now_ns() + MC_STOP_JOIN_MS * MC_NS_PER_MS;
	size_t left = 0;

	for (size_t i = 0; i < d->nretiring; i++) {
		struct mc_domain *rec = d->retiring[i];

		if (mc_collector_join_until(rec->collector, deadline) < 0) {
			mc_warn("%s: a hypervisor call has not returned; stopping without it",
				rec->name);
			left++;
			continue;
		}
		rec->collector = NULL;
		mc_domain_free_rcu(rec);
	}
	if (left)
		mc_warn("%zu collector threads left behind in hypervisor calls", left);
	d->nretiring = 0;
}

void mc_daemon_stop(struct mc_daemon *d)
{
	struct cds_lfht_iter iter;
	struct mc_domain *rec;

	int64_t t[6];

	if (!d || d->stopped)
		return;
	d->stopped = true;

	/* Each step's time is logged: stopping must stay prompt even with a
	 * hypervisor call hung (docs/faults.md). */
	t[0] = mc_real_now_ns();
	/* 0. No more status readers (they read the arbiter's figures). */
	mc_control_stop(d->control);
	d->control = NULL;
	mc_metrics_stop(d->metrics);
	d->metrics = NULL;
	/* 1. No more decisions. The arbiter is freed at the end: collectors
	 *    and the host collector kick it until they are joined. */
	mc_arbiter_halt(d->arb);
	if (d->arb)
		mc_arbiter_get_stats(d->arb, &d->final);
	mc_trace_close(d->trace);
	d->trace = NULL;
	t[1] = mc_real_now_ns();
	/* 2. No more host samples. */
	mc_hostmon_stop(d->hostmon);
	d->hostmon = NULL;
	t[2] = mc_real_now_ns();
	/* 3. Unlink every record and stop every collector, then join them:
	 *    all stop requests first so they exit in parallel. */
	if (d->reg_ready) {
		rcu_read_lock();
		cds_lfht_for_each_entry(d->reg.ht, &iter, rec, node) {
			if (mc_registry_del(&d->reg, rec) == 0) {
				mc_collector_request_stop(rec->collector);
				retire(d, rec);
			}
		}
		rcu_read_unlock();
	}
	join_collectors(d);
	t[3] = mc_real_now_ns();
	/* Nobody kicks the arbiter any more (a collector left behind in a
	 * hung call never touches shared state again). */
	mc_arbiter_stop(d->arb);
	uatomic_set(&d->arb, NULL);
	/* 4. The backend: no more events. */
	mc_hv_stop(d->hv);
	t[4] = mc_real_now_ns();
	/* 5. Every deferred free done before the table goes. */
	rcu_barrier();
	t[5] = mc_real_now_ns();
	mc_debug("stopped in %lld ms: arbiter %lld, host collector %lld, collectors %lld, "
		 "backend %lld, RCU %lld",
		 (long long)((t[5] - t[0]) / MC_NS_PER_MS), (long long)((t[1] - t[0]) / MC_NS_PER_MS),
		 (long long)((t[2] - t[1]) / MC_NS_PER_MS), (long long)((t[3] - t[2]) / MC_NS_PER_MS),
		 (long long)((t[4] - t[3]) / MC_NS_PER_MS), (long long)((t[5] - t[4]) / MC_NS_PER_MS));
}

void mc_daemon_destroy(struct mc_daemon *d)
{
	struct ev *e;

	if (!d)
		return;
	mc_daemon_stop(d);
	mc_hv_destroy(d->hv);
	if (d->live) {
		/* rcu_barrier ran in stop: no reader is left. */
		mc_config_free(&d->live->c);
		free(d->live);
		d->reg.cfg = NULL;
	}
	if (d->reg_ready)
		mc_registry_destroy(&d->reg);
	while ((e = d->qhead)) {
		d->qhead = e->next;
		free(e);
	}
	free(d->retiring);
	if (d->evfd >= 0)
		close(d->evfd);
	pthread_mutex_destroy(&d->qlock);
	mc_config_free(&d->cfg);
	free(d);
}
