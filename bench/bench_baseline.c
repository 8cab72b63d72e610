/* memcoord — benchmark 5: the sequential baseline (the original design)
 * side by side with memcoord, on the same libvirt backend.
 *
 *   bench_baseline URI N [--server-pid PID] [--rounds R] [--stimuli S]
 *                        [--no-react] [--label NAME]
 *
 * URI is libvirt's test driver: test:///default in this process, or
 * test+unix:///default?socket=... served by a private session libvirtd
 * (bench/run.sh starts one with tests/lib/libvirtd-session.sh and passes
 * its pid for the daemon's CPU time). The program creates N transient
 * domains (2 GiB maximum, 512 MiB balloon, a virtio balloon; the test
 * driver reports unused = usable = half the balloon), after destroying the
 * driver's own "test" domain, and holds its connection to the end.
 *
 * Refresh: the time to read every domain's statistics once.
 *   baseline   the original's loop body: virDomainMemoryStats of each
 *              domain in turn on one connection (the original lists the
 *              domains once, at start; the list's own time is shown apart).
 *   memcoord   memcoord's own backend (hv_libvirt.c) with its handles over
 *              K = 1, 2, 4 (the default), 8 connections, called as its
 *              collectors call it: one thread per domain (128 KiB stacks),
 *              each with its handle, doing dom_info + dom_stats; all
 *              released at once, timed until the last one is done. The
 *              warm-up round is a first collection (virDomainGetInfo, the
 *              XML, the stats period, virDomainMemoryStats); later rounds
 *              are one virDomainMemoryStats each (dom_info's cache). The CPU
 *              of the backend's event-loop thread is shown apart.
 *   pool K     the same calls with the raw API from one thread per domain,
 *              the domains spread over K connections (K = 1, 2, 4, 8): what a
 *              pool of connections for the collectors would give; "stats
 *              only" drops the virDomainGetInfo.
 *   Each is run R rounds (default 5) after one warm-up round; the median,
 *   min and max are printed, and the CPU time of this process and of
 *   libvirtd per domain refreshed.
 *
 * Reaction (unless --no-react): S stimuli (default 8), each a
 *   virDomainSetMemory from the holding connection that leaves a fresh
 *   domain with 512 MiB unused (above both designs' "too much" threshold).
 *   baseline   the original program in a thread with its own connection:
 *              list once, set every stats period to 1 s, then loop: stats of
 *              each domain in turn, the seed decision (two thresholds, 100
 *              and 300 MiB, new sizes from "available", host free memory from
 *              virNodeGetFreeMemory), virDomainSetMemory, sleep 1 s.
 *   memcoord   the real daemon in-process (mc_daemon_create/start, this
 *              thread runs the main loop), balance policy, interval and stats
 *              period 1 s; host reserve 0 and stale_samples very large,
 *              because the test driver reports 6 MiB of free host memory
 *              and a last_update that never advances.
 *   Figures: stimulus -> balloon call (the baseline's call on that domain;
 *   memcoord's record's last_set_ns, which the actuator stamps just before
 *   the call), and sample -> call for every call (the baseline: from the read
 *   of that domain's statistics in the same iteration; memcoord: the
 *   arbiter's react_ns histogram). Also memcoord's start-up (until every
 *   domain has a sample), its sample rate and oldest sample in steady state,
 *   and the CPU use of both designs and of libvirtd while they run. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "memcoord/config.h"
#include "memcoord/daemon.h"
#include "memcoord/hv.h"
#include "memcoord/log.h"
#include "memcoord/registry.h"

#include "bench_util.h"

#define KIB_PER_MIB 1024ULL
#define LOADED_KIB (100 * KIB_PER_MIB)   /* the original's thresholds */
#define FREE_KIB (300 * KIB_PER_MIB)
#define STACK_BYTES (128 * 1024)         /* as memcoord's collectors */

static struct {
	const char *uri;
	long n;
	long server_pid;
	int rounds;
	int stimuli;
	bool react;
	const char *label;
} opt = { .rounds = 5, .stimuli = 8, .react = true, .label = NULL };

static virConnectPtr holder;
static virDomainPtr *hdom;              /* the N domains, on holder */
static uint8_t (*uuid)[VIR_UUID_BUFLEN];

static void quiet(void *u, virErrorPtr e)
{
	(void)u;
	(void)e;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_baseline: %s: %s\n", what, virGetLastErrorMessage());
	exit(2);
}

/* ---- domains ------------------------------------------------------------- */

static void setup_domains(void)
{
	virDomainPtr t = virDomainLookupByName(holder, "test");
	int64_t t0;

	virResetLastError();
	if (t) {
		if (virDomainIsActive(t) == 1 && virDomainDestroy(t) < 0)
			die("destroying the test driver's own domain");
		virDomainFree(t);
	}
	hdom = calloc((size_t)opt.n, sizeof(*hdom));
	uuid = calloc((size_t)opt.n, sizeof(*uuid));
	if (!hdom || !uuid)
		exit(2);
	t0 = bu_now_ns();
	for (long i = 0; i < opt.n; i++) {
		char xml[1024];

		snprintf(xml, sizeof(xml),
			 "<domain type='test'><name>bl%d-%05ld</name>"
			 "<memory unit='MiB'>2048</memory>"
			 "<currentMemory unit='MiB'>512</currentMemory>"
			 "<os><type>hvm</type></os>"
			 "<devices><memballoon model='virtio'/></devices></domain>",
			 (int)getpid(), i);
		hdom[i] = virDomainCreateXML(holder, xml, 0);
		if (!hdom[i])
			die("creating a domain");
		if (virDomainGetUUID(hdom[i], uuid[i]) < 0)
			die("reading a UUID");
	}
	printf("# %ld domains created in %.1f ms\n", opt.n, (bu_now_ns() - t0) / 1e6);
}

static void teardown_domains(void)
{
	for (long i = 0; i < opt.n; i++) {
		if (virDomainDestroy(hdom[i]) < 0)
			virResetLastError();
		virDomainFree(hdom[i]);
	}
	free(hdom);
	free(uuid);
}

/* ---- a round runner: one thread per domain, released together ----------- */

struct rounds {
	size_t n;
	void (*work)(void *ctx, size_t i, int round);
	void *ctx;
	pthread_barrier_t go, fin;
	atomic_int round;
	atomic_bool quit;
	int64_t *done;
};

struct rarg {
	struct rounds *r;
	size_t i;
};

static void *round_thread(void *p)
{
	struct rarg *a = p;
	struct rounds *r = a->r;

	for (;;) {
		pthread_barrier_wait(&r->go);
		if (atomic_load(&r->quit))
			break;
		r->work(r->ctx, a->i, atomic_load(&r->round));
		r->done[a->i] = bu_now_ns();
		pthread_barrier_wait(&r->fin);
	}
	return NULL;
}

struct measure {
	int64_t t[64];        /* per measured round, ns */
	int nt;
	int64_t first;        /* the warm-up round */
	int64_t client_ns, server_ns;   /* over the measured rounds */
	long ev_tid;          /* memcoord's event-loop thread, or -1 (set by the caller) */
	int64_t ev_ns;        /* its CPU over the measured rounds */
};

/* Runs 1 warm-up + opt.rounds rounds of work over n threads. */
static void run_rounds(size_t n, void (*work)(void *, size_t, int), void *ctx,
		       struct measure *m)
{
	struct rounds r = { .n = n, .work = work, .ctx = ctx };
	pthread_t *th = calloc(n, sizeof(*th));
	struct rarg *args = calloc(n, sizeof(*args));
	pthread_attr_t attr;
	int64_t c0 = 0, s0 = 0, e0 = 0;
	long ev_tid = m->ev_tid;

	memset(m, 0, sizeof(*m));
	m->ev_tid = ev_tid;
	r.done = calloc(n, sizeof(*r.done));
	if (!th || !args || !r.done)
		exit(2);
	pthread_barrier_init(&r.go, NULL, (unsigned)n + 1);
	pthread_barrier_init(&r.fin, NULL, (unsigned)n + 1);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_BYTES);
	for (size_t i = 0; i < n; i++) {
		args[i] = (struct rarg){ &r, i };
		if (pthread_create(&th[i], &attr, round_thread, &args[i]) != 0) {
			fprintf(stderr, "bench_baseline: cannot create thread %zu\n", i);
			exit(2);
		}
	}
	pthread_attr_destroy(&attr);
	for (int k = 0; k <= opt.rounds && k < 64; k++) {
		int64_t t0, last = 0;

		if (k == 1) {
			c0 = bu_cpu_ns();
			s0 = bu_pid_cpu_ns(opt.server_pid);
			e0 = ev_tid > 0 ? bu_tid_cpu_ns(ev_tid) : 0;
		}
		atomic_store(&r.round, k);
		t0 = bu_now_ns();
		pthread_barrier_wait(&r.go);
		pthread_barrier_wait(&r.fin);
		for (size_t i = 0; i < n; i++)
			if (r.done[i] > last)
				last = r.done[i];
		if (k == 0)
			m->first = last - t0;
		else
			m->t[m->nt++] = last - t0;
	}
	m->client_ns = bu_cpu_ns() - c0;
	m->ev_ns = ev_tid > 0 ? bu_tid_cpu_ns(ev_tid) - e0 : 0;
	m->server_ns = opt.server_pid > 0 ? bu_pid_cpu_ns(opt.server_pid) - s0 : 0;
	atomic_store(&r.quit, true);
	pthread_barrier_wait(&r.go);
	for (size_t i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&r.go);
	pthread_barrier_destroy(&r.fin);
	free(th);
	free(args);
	free(r.done);
}

static int64_t med(struct measure *m)
{
	int64_t t[64];

	memcpy(t, m->t, sizeof(int64_t) * (size_t)m->nt);
	bu_sort(t, (size_t)m->nt);
	return bu_q(t, (size_t)m->nt, 0.5);
}

static int64_t mn(const struct measure *m)
{
	int64_t v = m->t[0];

	for (int i = 1; i < m->nt; i++)
		if (m->t[i] < v)
			v = m->t[i];
	return v;
}

static int64_t mx(const struct measure *m)
{
	int64_t v = m->t[0];

	for (int i = 1; i < m->nt; i++)
		if (m->t[i] > v)
			v = m->t[i];
	return v;
}

static const char *bench_name(void)
{
	return opt.label ? opt.label : strncmp(opt.uri, "test:", 5) == 0 ? "inproc" : "rpc";
}

static void report(const char *what, const char *key, struct measure *m, double base_med)
{
	double per_dom_us = (double)(m->client_ns + m->server_ns) /
			    ((double)opt.rounds * (double)opt.n) / 1e3;
	char k[96];

	printf("  %-34s %9.2f %9.2f %9.2f %9.2f | %6.2f | %8.2f %8.2f\n", what,
	       med(m) / 1e6, mn(m) / 1e6, mx(m) / 1e6, m->first / 1e6,
	       base_med > 0 ? base_med / (double)med(m) : 1.0,
	       (double)m->client_ns / ((double)opt.rounds * (double)opt.n) / 1e3,
	       opt.server_pid > 0 ? (double)m->server_ns / ((double)opt.rounds * (double)opt.n) / 1e3
				  : 0.0);
	snprintf(k, sizeof(k), "refresh.%s", key);
	bu_result(bench_name(), opt.n, k, med(m) / 1e6, "ms");
	snprintf(k, sizeof(k), "refresh.%s.cpu_per_dom", key);
	bu_result(bench_name(), opt.n, k, per_dom_us, "us");
	if (base_med > 0) {
		snprintf(k, sizeof(k), "speedup.%s", key);
		bu_result(bench_name(), opt.n, k, base_med / (double)med(m), "x");
	}
}

/* ---- refresh: the baseline ---------------------------------------------- */

struct seqctx {
	virDomainPtr *l;
	int n;
};

/* The original's loop body, in one thread: n is 1 here (the runner's one
 * thread walks every domain). */
static void seq_work(void *ctx, size_t i, int round)
{
	struct seqctx *c = ctx;
	uint64_t sum = 0;

	(void)i;
	(void)round;
	for (int k = 0; k < c->n; k++) {
		virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];
		int ns = virDomainMemoryStats(c->l[k], st, VIR_DOMAIN_MEMORY_STAT_NR, 0);

		for (int j = 0; j < ns; j++)
			if (st[j].tag == VIR_DOMAIN_MEMORY_STAT_UNUSED ||
			    st[j].tag == VIR_DOMAIN_MEMORY_STAT_AVAILABLE)
				sum += st[j].val;
	}
	if (sum == 0)
		fprintf(stderr, "bench_baseline: no statistics read\n");
}

static void list_work(void *ctx, size_t i, int round)
{
	virConnectPtr c = ctx;
	virDomainPtr *l = NULL;
	int n = virConnectListAllDomains(c, &l, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

	(void)i;
	(void)round;
	for (int k = 0; k < n; k++)
		virDomainFree(l[k]);
	free(l);
}

/* ---- refresh: memcoord's backend, one thread per domain ----------------- */

struct mcctx {
	struct mc_hv *hv;
	struct mc_hv_dom **h;
	atomic_int errors;
};

static void mc_work(void *ctx, size_t i, int round)
{
	struct mcctx *c = ctx;
	struct mc_dom_info info;
	struct mc_stats st;
	int rc;

	rc = c->hv->ops->dom_info(c->h[i], &info);
	if (rc == 0 && round == 0 && info.has_balloon)
		rc = c->hv->ops->dom_set_period(c->h[i], 1);
	if (rc == 0)
		rc = c->hv->ops->dom_stats(c->h[i], &st);
	if (rc < 0)
		atomic_fetch_add(&c->errors, 1);
}

static void noop_event(void *o, enum mc_hv_event ev, const uint8_t u[MC_UUID_LEN],
		       const char *name)
{
	(void)o;
	(void)ev;
	(void)u;
	(void)name;
}

/* ---- refresh: raw API over a pool of connections ----------------------- */

struct poolctx {
	int k;
	virConnectPtr conn[16];
	virDomainPtr *d;     /* per domain, on conn[i % k] */
	bool stats_only;
	atomic_int errors;
};

static void pool_work(void *ctx, size_t i, int round)
{
	struct poolctx *c = ctx;
	virDomainInfo info;
	virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];

	(void)round;
	if (!c->stats_only && virDomainGetInfo(c->d[i], &info) < 0)
		atomic_fetch_add(&c->errors, 1);
	if (virDomainMemoryStats(c->d[i], st, VIR_DOMAIN_MEMORY_STAT_NR, 0) < 0)
		atomic_fetch_add(&c->errors, 1);
}

static void pool_run(int k, bool stats_only, double base, const char *what, const char *key)
{
	struct poolctx c = { .k = k, .stats_only = stats_only };
	struct measure m = { .ev_tid = -1 };

	c.d = calloc((size_t)opt.n, sizeof(*c.d));
	if (!c.d)
		exit(2);
	for (int j = 0; j < k; j++) {
		c.conn[j] = virConnectOpen(opt.uri);
		if (!c.conn[j])
			die("opening a pool connection");
	}
	for (long i = 0; i < opt.n; i++) {
		c.d[i] = virDomainLookupByUUID(c.conn[i % k], uuid[i]);
		if (!c.d[i])
			die("looking up a domain");
	}
	run_rounds((size_t)opt.n, pool_work, &c, &m);
	report(what, key, &m, base);
	if (atomic_load(&c.errors))
		printf("  (%d calls failed)\n", atomic_load(&c.errors));
	for (long i = 0; i < opt.n; i++)
		virDomainFree(c.d[i]);
	for (int j = 0; j < k; j++)
		virConnectClose(c.conn[j]);
	free(c.d);
}

/* BENCH_ONLY=baseline|memcoord|pool: run that refresh variant alone (to
 * profile it). */
static bool only(const char *what)
{
	const char *e = getenv("BENCH_ONLY");

	return !e || !*e || strcmp(e, what) == 0;
}

static const unsigned int mc_conns[] = { 1, 2, 4, 8 };

static void bench_refresh(void)
{
	struct measure m = { .ev_tid = -1 }, ml = { .ev_tid = -1 };
	struct seqctx sc;
	struct mc_hv *keep = NULL;
	const char *ev = getenv("BENCH_EVENTLOOP");
	virConnectPtr bc = virConnectOpen(opt.uri);
	double base;

	if (!bc)
		die("opening the baseline's connection");
	sc.n = virConnectListAllDomains(bc, &sc.l, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (sc.n < 0)
		die("listing");
	printf("# refresh every domain's statistics once: ms (median, min, max of %d rounds; "
	       "first = the warm-up round), speed-up over the baseline, CPU us per domain "
	       "(this process, libvirtd)\n", opt.rounds);
	printf("  %-34s %9s %9s %9s %9s | %6s | %8s %8s\n", "", "median", "min", "max", "first",
	       "x", "client", "libvirtd");
	run_rounds(1, seq_work, &sc, &m);   /* always: the reference */
	base = (double)med(&m);
	report("baseline (sequential, 1 RPC/dom)", "baseline", &m, 0);
	run_rounds(1, list_work, bc, &ml);
	printf("  %-34s %9.2f  (the original lists once, at start)\n", "  + virConnectListAllDomains",
	       med(&ml) / 1e6);
	bu_result(bench_name(), opt.n, "list", med(&ml) / 1e6, "ms");
	for (int i = 0; i < sc.n; i++)
		virDomainFree(sc.l[i]);
	free(sc.l);
	virConnectClose(bc);

	/* memcoord's backend, as its collectors use it, with its handles spread
	 * over 1 (the primary connection), 2, 4 (the default) or 8 connections. */
	for (size_t j = 0; only("memcoord") && j < sizeof(mc_conns) / sizeof(mc_conns[0]); j++) {
		struct mc_hv_callbacks cb = { .event = noop_event };
		struct mcctx c = { 0 };
		char what[64], key[32];
		int64_t t0;
		int rc;

		if (mc_hv_libvirt_create(opt.uri, &cb, &c.hv) < 0 ||
		    mc_hv_libvirt_set_connections(c.hv, mc_conns[j]) < 0 ||
		    mc_hv_start(c.hv, false) < 0) {
			fprintf(stderr, "bench_baseline: memcoord's backend: %s\n", mc_hv_last_error());
			exit(2);
		}
		c.h = calloc((size_t)opt.n, sizeof(*c.h));
		if (!c.h)
			exit(2);
		t0 = bu_now_ns();
		for (long i = 0; i < opt.n; i++) {
			rc = c.hv->ops->dom_open(c.hv, uuid[i], &c.h[i]);
			if (rc < 0) {
				fprintf(stderr, "bench_baseline: dom_open: %s\n", mc_hv_last_error());
				exit(2);
			}
		}
		printf("  (memcoord, %u conn: %ld dom_open in %.1f ms)\n", mc_conns[j], opt.n,
		       (bu_now_ns() - t0) / 1e6);
		m.ev_tid = bu_find_thread("mc-hv-events");
		run_rounds((size_t)opt.n, mc_work, &c, &m);
		snprintf(what, sizeof(what), "memcoord, %u conn", mc_conns[j]);
		snprintf(key, sizeof(key), "memcoord%u", mc_conns[j]);
		report(what, key, &m, base);
		printf("  %-34s %60.2f\n", "  of which libvirt's event loop",
		       (double)m.ev_ns / ((double)opt.rounds * (double)opt.n) / 1e3);
		snprintf(what, sizeof(what), "refresh.%s.eventloop_cpu_per_dom", key);
		bu_result(bench_name(), opt.n, what,
			  (double)m.ev_ns / ((double)opt.rounds * (double)opt.n) / 1e3, "us");
		snprintf(what, sizeof(what), "refresh.%s.first", key);
		bu_result(bench_name(), opt.n, what, m.first / 1e6, "ms");
		if (atomic_load(&c.errors))
			printf("  (%d collections failed)\n", atomic_load(&c.errors));
		for (long i = 0; i < opt.n; i++)
			c.hv->ops->dom_close(c.h[i]);
		free(c.h);
		if (ev && *ev && *ev != '0' && j + 1 == sizeof(mc_conns) / sizeof(mc_conns[0])) {
			keep = c.hv;   /* its event-loop thread keeps running */
			printf("  (BENCH_EVENTLOOP: memcoord's backend and its event loop stay up "
			       "for the pool runs)\n");
		} else {
			mc_hv_stop(c.hv);
			mc_hv_destroy(c.hv);
		}
	}

	/* What a pool of connections would give. */
	if (only("pool")) {
		static const int ks[] = { 1, 2, 4, 8 };

		for (size_t j = 0; j < sizeof(ks) / sizeof(ks[0]); j++) {
			char what[64], key[32];

			snprintf(what, sizeof(what), "pool of %d conn (2 RPC/dom)", ks[j]);
			snprintf(key, sizeof(key), "pool%d", ks[j]);
			pool_run(ks[j], false, base, what, key);
		}
		pool_run(1, true, base, "1 conn, stats only (1 RPC/dom)", "pool1.statsonly");
		pool_run(4, true, base, "pool of 4, stats only (1 RPC/dom)", "pool4.statsonly");
	}
	if (keep) {
		mc_hv_stop(keep);
		mc_hv_destroy(keep);
	}
}

/* ---- reaction: the original program ------------------------------------ */

struct bcall {
	int idx;
	int64_t read_ns, call_ns;
};

struct baseline {
	virConnectPtr c;
	atomic_bool stop;
	pthread_mutex_t lock;
	struct bcall *calls;
	size_t ncalls, cap;
	int64_t *last_call;        /* per holder index */
	int *map;                  /* list index -> holder index */
	int64_t refresh_sum;
	long iterations;
};

static int holder_index(const unsigned char *u)
{
	for (long i = 0; i < opt.n; i++)
		if (memcmp(uuid[i], u, VIR_UUID_BUFLEN) == 0)
			return (int)i;
	return -1;
}

static void base_set(struct baseline *b, virDomainPtr d, int i, unsigned long long kib,
		     int64_t read_ns)
{
	int64_t t = bu_now_ns();

	if (virDomainSetMemory(d, (unsigned long)kib) < 0)
		virResetLastError();
	pthread_mutex_lock(&b->lock);
	if (b->ncalls == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 1024;
		struct bcall *n = realloc(b->calls, cap * sizeof(*n));

		if (n) {
			b->calls = n;
			b->cap = cap;
		}
	}
	if (b->ncalls < b->cap)
		b->calls[b->ncalls++] = (struct bcall){ i, read_ns, t };
	if (b->map[i] >= 0)
		b->last_call[b->map[i]] = t;
	pthread_mutex_unlock(&b->lock);
}

static void *baseline_main(void *arg)
{
	struct baseline *b = arg;
	virDomainPtr *l = NULL;
	int n = virConnectListAllDomains(b->c, &l, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	unsigned long long *unused, *avail;
	int64_t *read_ns;

	if (n < 0)
		die("baseline: listing");
	unused = calloc((size_t)n, sizeof(*unused));
	avail = calloc((size_t)n, sizeof(*avail));
	read_ns = calloc((size_t)n, sizeof(*read_ns));
	b->map = calloc((size_t)n, sizeof(*b->map));
	if (!unused || !avail || !read_ns || !b->map)
		exit(2);
	for (int i = 0; i < n; i++) {
		unsigned char u[VIR_UUID_BUFLEN];

		b->map[i] = virDomainGetUUID(l[i], u) == 0 ? holder_index(u) : -1;
		if (virDomainSetMemoryStatsPeriod(l[i], 1, VIR_DOMAIN_AFFECT_LIVE) < 0)
			virResetLastError();
	}
	while (!atomic_load(&b->stop)) {
		int64_t t0 = bu_now_ns();
		int d1 = -1, d2 = -1;
		unsigned long long host_free;
		struct timespec ts = { 1, 0 };

		for (int i = 0; i < n; i++) {
			virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];
			int ns = virDomainMemoryStats(l[i], st, VIR_DOMAIN_MEMORY_STAT_NR, 0);

			read_ns[i] = bu_now_ns();
			for (int j = 0; j < ns; j++) {
				if (st[j].tag == VIR_DOMAIN_MEMORY_STAT_UNUSED)
					unused[i] = st[j].val;
				else if (st[j].tag == VIR_DOMAIN_MEMORY_STAT_AVAILABLE)
					avail[i] = st[j].val;
			}
			if (d1 < 0 || unused[i] < unused[d1])
				d1 = i;
			if (d2 < 0 || unused[i] > unused[d2])
				d2 = i;
		}
		b->refresh_sum += bu_now_ns() - t0;
		b->iterations++;
		host_free = virNodeGetFreeMemory(b->c) / 1024;
		if (n > 0) {
			if (unused[d1] <= LOADED_KIB) {
				if (unused[d2] >= FREE_KIB) {
					base_set(b, l[d1], d1, avail[d1] + LOADED_KIB, read_ns[d1]);
					base_set(b, l[d2], d2, avail[d2] - LOADED_KIB, read_ns[d2]);
				} else {
					base_set(b, l[d1], d1, avail[d1] + FREE_KIB, read_ns[d1]);
				}
			} else if (unused[d2] >= FREE_KIB) {
				base_set(b, l[d2], d2, avail[d2] - LOADED_KIB, read_ns[d2]);
			}
			if (host_free < LOADED_KIB)
				for (int i = 0; i < n; i++)
					if (unused[i] > FREE_KIB)
						base_set(b, l[i], i, avail[i] - LOADED_KIB, read_ns[i]);
		}
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < n; i++)
		virDomainFree(l[i]);
	free(l);
	free(unused);
	free(avail);
	free(read_ns);
	return NULL;
}

/* A domain for stimulus s of design k (0: baseline, 1: memcoord), spread
 * over the list, never the same twice. */
static long stim_index(int k, int s)
{
	long slots = 2L * opt.stimuli;

	return ((long)(k * opt.stimuli + s) * opt.n) / slots;
}

static uint64_t stim_rng = 0x243F6A8885A308D3ULL;

static int64_t stim_pause_ns(void)
{
	stim_rng ^= stim_rng << 13;
	stim_rng ^= stim_rng >> 7;
	stim_rng ^= stim_rng << 17;
	return (int64_t)(200 + stim_rng % 500) * MC_NS_PER_MS;
}

static void stimulate(long idx, int s)
{
	unsigned long kib = (unsigned long)((1024 + 8 * (unsigned)s) * KIB_PER_MIB);

	if (virDomainSetMemory(hdom[idx], kib) < 0)
		die("stimulus: virDomainSetMemory");
}

static void print_lat(const char *what, int64_t *v, size_t n, const char *key)
{
	char k[96];

	bu_sort(v, n);
	printf("  %-44s %5zu %9.2f %9.2f %9.2f\n", what, n, bu_q(v, n, 0.5) / 1e6,
	       bu_q(v, n, 0.99) / 1e6, n ? v[n - 1] / 1e6 : 0.0);
	snprintf(k, sizeof(k), "%s.median", key);
	bu_result(bench_name(), opt.n, k, bu_q(v, n, 0.5) / 1e6, "ms");
	snprintf(k, sizeof(k), "%s.p99", key);
	bu_result(bench_name(), opt.n, k, bu_q(v, n, 0.99) / 1e6, "ms");
}

static void react_baseline(void)
{
	struct baseline b;
	pthread_t th;
	int64_t *stim = calloc((size_t)opt.stimuli, sizeof(int64_t)), *sc;
	int64_t c0, s0, w0, c1, s1, w1;
	size_t ns = 0;

	memset(&b, 0, sizeof(b));
	pthread_mutex_init(&b.lock, NULL);
	b.last_call = calloc((size_t)opt.n, sizeof(int64_t));
	b.c = virConnectOpen(opt.uri);
	if (!b.c || !stim || !b.last_call)
		die("baseline: connecting");
	if (pthread_create(&th, NULL, baseline_main, &b) != 0)
		exit(2);
	/* Let it list, set the periods and run one iteration. */
	while (!__atomic_load_n(&b.iterations, __ATOMIC_RELAXED)) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	c0 = bu_cpu_ns();
	s0 = bu_pid_cpu_ns(opt.server_pid);
	w0 = bu_now_ns();
	for (int s = 0; s < opt.stimuli; s++) {
		long idx = stim_index(0, s);
		struct timespec pause = { 0, stim_pause_ns() };
		int64_t t, deadline;

		nanosleep(&pause, NULL);
		t = bu_now_ns();
		stimulate(idx, s);
		deadline = t + 10 * MC_NS_PER_S;
		for (;;) {
			struct timespec ts = { 0, 200 * 1000 };
			int64_t lc;

			pthread_mutex_lock(&b.lock);
			lc = b.last_call[idx];
			pthread_mutex_unlock(&b.lock);
			if (lc > t) {
				stim[ns++] = lc - t;
				break;
			}
			if (bu_now_ns() > deadline)
				break;
			nanosleep(&ts, NULL);
		}
	}
	c1 = bu_cpu_ns();
	s1 = bu_pid_cpu_ns(opt.server_pid);
	w1 = bu_now_ns();
	atomic_store(&b.stop, true);
	pthread_join(th, NULL);
	virConnectClose(b.c);

	sc = calloc(b.ncalls ? b.ncalls : 1, sizeof(int64_t));
	if (!sc)
		exit(2);
	for (size_t i = 0; i < b.ncalls; i++)
		sc[i] = b.calls[i].call_ns - b.calls[i].read_ns;
	printf("  baseline: %ld iterations, stats pass %.2f ms on average; CPU while looping: "
	       "this process %.2f%%, libvirtd %.2f%%\n", b.iterations,
	       b.iterations ? (double)b.refresh_sum / (double)b.iterations / 1e6 : 0.0,
	       100.0 * (double)(c1 - c0) / (double)(w1 - w0),
	       opt.server_pid > 0 ? 100.0 * (double)(s1 - s0) / (double)(w1 - w0) : 0.0);
	bu_result(bench_name(), opt.n, "baseline.cpu", 100.0 * (double)(c1 - c0) / (double)(w1 - w0), "%");
	if (opt.server_pid > 0)
		bu_result(bench_name(), opt.n, "baseline.libvirtd_cpu",
			  100.0 * (double)(s1 - s0) / (double)(w1 - w0), "%");
	print_lat("baseline: stimulus -> balloon call", stim, ns, "react.baseline.stimulus");
	print_lat("baseline: sample -> balloon call (every call)", sc, b.ncalls,
		  "react.baseline.sample");
	if (ns < (size_t)opt.stimuli)
		printf("  (baseline: %zu of %d stimuli got no call within 10 s)\n",
		       (size_t)opt.stimuli - ns, opt.stimuli);
	free(sc);
	free(stim);
	free(b.calls);
	free(b.last_call);
	free(b.map);
	pthread_mutex_destroy(&b.lock);
}

/* ---- reaction: memcoord --------------------------------------------------- */

struct mcreact {
	struct mc_daemon *d;
	atomic_bool done;
	int64_t *stim;
	size_t ns;
	int64_t cold_ns, rate_window_ns;
	uint64_t samples_in_window;
	int64_t max_age_ns;
	int64_t c_cpu, s_cpu, w_cpu;
	long threads;
};

/* Minimum seq over all records (0 if one has no sample) and their sum. */
static void seq_scan(struct mc_registry *reg, uint64_t *min_seq, uint64_t *sum,
		     int64_t *oldest, unsigned long *count)
{
	struct cds_lfht_iter iter;
	struct mc_domain *rec;

	*min_seq = UINT64_MAX;
	*sum = 0;
	*oldest = INT64_MAX;
	*count = 0;
	rcu_read_lock();
	cds_lfht_for_each_entry(reg->ht, &iter, rec, node) {
		struct mc_sample *s = rcu_dereference(rec->sample);
		uint64_t q = s ? s->seq : 0;

		if (q < *min_seq)
			*min_seq = q;
		*sum += q;
		if (s && s->taken_ns < *oldest)
			*oldest = s->taken_ns;
		(*count)++;
	}
	rcu_read_unlock();
	if (!*count)
		*min_seq = 0;
}

static int64_t last_set_of(struct mc_registry *reg, const uint8_t *u)
{
	struct mc_domain *rec;
	int64_t v = 0;

	rcu_read_lock();
	rec = mc_registry_lookup(reg, u);
	if (rec)
		v = uatomic_read(&rec->last_set_ns);
	rcu_read_unlock();
	return v;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void *mc_stimulator(void *arg)
{
	struct mcreact *r = arg;
	struct mc_registry *reg = mc_daemon_registry(r->d);
	int64_t start = mc_now_ns(), c0, s0, w0;
	uint64_t min_seq, sum0, sum1;
	int64_t oldest;
	unsigned long count;

	rcu_register_thread();
	/* Cold start: every domain has a sample. */
	for (;;) {
		seq_scan(reg, &min_seq, &sum0, &oldest, &count);
		if (count >= (unsigned long)opt.n && min_seq >= 1) {
			r->cold_ns = mc_now_ns() - start;
			break;
		}
		if (mc_now_ns() - start > 60 * MC_NS_PER_S) {
			r->cold_ns = -1;
			break;
		}
		sleep_ms(2);
	}
	/* Settle: every collector has been through a full period. */
	for (int i = 0; i < 3000; i++) {
		seq_scan(reg, &min_seq, &sum0, &oldest, &count);
		if (min_seq >= 3)
			break;
		sleep_ms(10);
	}
	/* Steady state: sample rate, CPU, the oldest sample. */
	c0 = bu_cpu_ns();
	s0 = bu_pid_cpu_ns(opt.server_pid);
	w0 = bu_now_ns();
	seq_scan(reg, &min_seq, &sum0, &oldest, &count);
	sleep_ms(5000);
	seq_scan(reg, &min_seq, &sum1, &oldest, &count);
	r->w_cpu = bu_now_ns() - w0;
	r->c_cpu = bu_cpu_ns() - c0;
	r->s_cpu = opt.server_pid > 0 ? bu_pid_cpu_ns(opt.server_pid) - s0 : 0;
	r->rate_window_ns = r->w_cpu;
	r->samples_in_window = sum1 - sum0;
	r->max_age_ns = mc_now_ns() - oldest;
	r->threads = bu_threads();

	for (int s = 0; s < opt.stimuli; s++) {
		long idx = stim_index(1, s);
		int64_t t, deadline;

		sleep_ms((int)(stim_pause_ns() / MC_NS_PER_MS));
		t = mc_now_ns();
		stimulate(idx, s);
		deadline = t + 10 * MC_NS_PER_S;
		for (;;) {
			int64_t ls = last_set_of(reg, uuid[idx]);
			struct timespec ts = { 0, 200 * 1000 };

			if (ls > t) {
				r->stim[r->ns++] = ls - t;
				break;
			}
			if (mc_now_ns() > deadline)
				break;
			nanosleep(&ts, NULL);
		}
	}
	rcu_unregister_thread();
	atomic_store(&r->done, true);
	return NULL;
}

static void react_memcoord(void)
{
	struct mc_config cfg;
	struct mcreact r;
	struct mc_arbiter_stats st;
	pthread_t th;
	size_t nsc;

	memset(&r, 0, sizeof(r));
	r.stim = calloc((size_t)opt.stimuli, sizeof(int64_t));
	mc_config_defaults(&cfg);
	cfg.uri = strdup(opt.uri);
	cfg.host_reserve_set = true;
	cfg.host_reserve_kib = 0;
	cfg.params.bal.stale_samples = UINT32_MAX;
	cfg.log_level = MC_LOG_WARNING;
	if (!r.stim || !cfg.uri || mc_daemon_create(&r.d, &cfg) < 0)
		exit(2);
	mc_config_free(&cfg);
	if (mc_daemon_start(r.d) < 0)
		exit(2);
	if (pthread_create(&th, NULL, mc_stimulator, &r) != 0)
		exit(2);
	while (!atomic_load(&r.done)) {
		struct pollfd p = { .fd = mc_daemon_fd(r.d), .events = POLLIN };
		int t = mc_daemon_process(r.d);

		poll(&p, 1, t < 0 || t > 20 ? 20 : t);
	}
	pthread_join(th, NULL);
	mc_daemon_stop(r.d);
	mc_daemon_arbiter_stats(r.d, &st);

	printf("  memcoord: every domain sampled %.0f ms after start; steady state: %.0f samples/s "
	       "(%ld domains, period 1 s), oldest sample %.0f ms old, %ld threads; CPU: this process "
	       "%.2f%%, libvirtd %.2f%%\n",
	       r.cold_ns / 1e6, (double)r.samples_in_window * 1e9 / (double)r.rate_window_ns,
	       opt.n, r.max_age_ns / 1e6, r.threads,
	       100.0 * (double)r.c_cpu / (double)r.w_cpu,
	       opt.server_pid > 0 ? 100.0 * (double)r.s_cpu / (double)r.w_cpu : 0.0);
	bu_result(bench_name(), opt.n, "memcoord.cold_start", r.cold_ns / 1e6, "ms");
	bu_result(bench_name(), opt.n, "memcoord.samples_per_s",
		  (double)r.samples_in_window * 1e9 / (double)r.rate_window_ns, "");
	bu_result(bench_name(), opt.n, "memcoord.oldest_sample", r.max_age_ns / 1e6, "ms");
	bu_result(bench_name(), opt.n, "memcoord.cpu", 100.0 * (double)r.c_cpu / (double)r.w_cpu, "%");
	if (opt.server_pid > 0)
		bu_result(bench_name(), opt.n, "memcoord.libvirtd_cpu",
			  100.0 * (double)r.s_cpu / (double)r.w_cpu, "%");
	print_lat("memcoord: stimulus -> balloon call", r.stim, r.ns, "react.memcoord.stimulus");
	/* The histogram, as quantiles (upper bucket edges). */
	nsc = st.react_ns.count;
	printf("  %-44s %5zu %9.2f %9.2f %9.2f   (histogram: bucket upper edges)\n",
	       "memcoord: sample -> balloon call (react_ns)", nsc,
	       mc_hist_quantile(&st.react_ns, 0.5) / 1e6, mc_hist_quantile(&st.react_ns, 0.99) / 1e6,
	       st.react_ns.max_ns / 1e6);
	bu_result(bench_name(), opt.n, "react.memcoord.sample.median",
		  mc_hist_quantile(&st.react_ns, 0.5) / 1e6, "ms");
	bu_result(bench_name(), opt.n, "react.memcoord.sample.p99",
		  mc_hist_quantile(&st.react_ns, 0.99) / 1e6, "ms");
	if (r.ns < (size_t)opt.stimuli)
		printf("  (memcoord: %zu of %d stimuli got no call within 10 s)\n",
		       (size_t)opt.stimuli - r.ns, opt.stimuli);
	mc_daemon_destroy(r.d);
	free(r.stim);
}

/* ---- main ----------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr, "usage: bench_baseline URI N [--server-pid PID] [--rounds R] "
		"[--stimuli S] [--no-react] [--label NAME]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct mc_hv *init_hv = NULL;
	struct mc_hv_callbacks cb = { .event = noop_event };

	if (argc < 3)
		return usage();
	opt.uri = argv[1];
	opt.n = atol(argv[2]);
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--server-pid") == 0 && i + 1 < argc)
			opt.server_pid = atol(argv[++i]);
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			opt.rounds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--stimuli") == 0 && i + 1 < argc)
			opt.stimuli = atoi(argv[++i]);
		else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
			opt.label = argv[++i];
		else if (strcmp(argv[i], "--no-react") == 0)
			opt.react = false;
		else
			return usage();
	}
	if (opt.n < 2 || opt.rounds < 1 || opt.rounds > 60 || opt.stimuli < 1)
		return usage();
	if (2L * opt.stimuli > opt.n)   /* a fresh domain per stimulus */
		opt.stimuli = (int)(opt.n / 2);
	signal(SIGPIPE, SIG_IGN);
	bu_futex_hash_setup();
	mc_log_set_level(MC_LOG_WARNING);
	rcu_register_thread();
	(void)get_default_call_rcu_data();
	/* memcoord's backend registers libvirt's event implementation, which
	 * must happen before any connection is opened: create one first. */
	if (mc_hv_libvirt_create(opt.uri, &cb, &init_hv) < 0) {
		fprintf(stderr, "bench_baseline: %s\n", mc_hv_last_error());
		return 2;
	}
	mc_hv_destroy(init_hv);
	virSetErrorFunc(NULL, quiet);

	holder = virConnectOpen(opt.uri);
	if (!holder)
		die("connecting");
	printf("# benchmark 5: sequential baseline vs memcoord, %s, %ld domains\n", opt.uri,
	       opt.n);
	setup_domains();
	bench_refresh();
	if (opt.react) {
		printf("# reaction: %d stimuli per design; ms (count, median, p99, max)\n",
		       opt.stimuli);
		react_baseline();
		react_memcoord();
	}
	teardown_domains();
	virConnectClose(holder);
	rcu_unregister_thread();
	return 0;
}
