/* memcoord — benchmarks 2, 3 and 4: the real daemon, in-process, on the
 * simulated host in real time ([sim] speed = 1).
 *
 *   bench_sim react SCENARIO N     2. reaction latency
 *   bench_sim cost SCENARIO N      3. CPU, resident memory, threads (idle)
 *   bench_sim churn SCENARIO       4. start -> first sample under churn
 *
 * The daemon runs as src/main.c's run_daemon runs it: mc_daemon_create with
 * a configuration from mc_config_defaults (balance policy, 1 s interval, 1 s
 * stats period, the scenario as --sim), mc_daemon_start, then this thread
 * is the main loop (mc_daemon_process, poll on mc_daemon_fd), and at the end
 * mc_daemon_stop and mc_daemon_destroy. Logging is at warning (the daemon
 * logs every balloon change and every domain start at info; at 10,000
 * domains that is thousands of lines a second, not what is measured here).
 *
 * react: runs the scenario to its end and reports the arbiter's react_ns
 *   histogram (mc_daemon_arbiter_stats: from the collection of the sample a
 *   change was decided on to its balloon call, one entry per change; the
 *   quantiles are mc_hist_quantile's, the upper edge of a ~9% wide bucket)
 *   and its pass_ns. Target: p99 < 10 ms at 1,000 domains.
 *
 * cost: RSS before mc_daemon_start (the simulated host with its N guests is
 *   loaded: that part is the hypervisor's) is the baseline; after a warm-up
 *   (default 5 s) CPU time (getrusage, all threads) and wall time are
 *   measured over a window (default 20 s); RSS (VmRSS), threads
 *   (/proc/self/task) and mappings (/proc/self/maps) at its end. Per-thread
 *   CPU by role (collectors "mc/...", arbiter, host collector, the rest)
 *   comes from /proc/self/task/T/stat. The simulated hypervisor runs inside
 *   the collectors' calls; a second, shorter window (5 s) times every
 *   backend call with CLOCK_THREAD_CPUTIME_ID (by wrapping the backend's ops
 *   table) to tell the hypervisor's share apart. Targets: < 64 KiB per
 *   domain at 10,000; CPU < 10% of one core at 1,000.
 *
 * churn: a second thread (RCU-registered) walks the registry every 2 ms and
 *   notes, for every churn guest, when its record appeared and the
 *   taken_ns of its first sample (seq 1). Guest churn-J starts at the
 *   scenario's from + (J - 1) / rate after the backend's start, which is
 *   mc_now_ns() read right before mc_daemon_start (the simulated host reads
 *   its t0 first thing there). RSS and threads are read every 5 s. Target:
 *   p99 < 100 ms; no growth once warm. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcoord/collector.h"
#include "memcoord/config.h"
#include "memcoord/daemon.h"
#include "memcoord/log.h"
#include "memcoord/registry.h"
#include "memcoord/sim.h"

#include "bench_util.h"

/* RESULT names: "cost", or "cost-pf" when BENCH_FUTEX_PRIVATE is set. */
static char *bname(const char *base)
{
	static char buf[3][32];
	static int k;
	const char *e = getenv("BENCH_FUTEX_PRIVATE");
	char *b = buf[k++ % 3];

	snprintf(b, sizeof(buf[0]), "%s%s", base, e && *e && *e != '0' ? "-pf" : "");
	return b;
}

/* ---- the daemon, as run_daemon runs it ----------------------------------- */

static struct mc_daemon *daemon_new(const char *scenario)
{
	struct mc_config cfg;
	struct mc_daemon *d = NULL;
	int rc;

	mc_config_defaults(&cfg);
	cfg.sim_path = strdup(scenario);
	cfg.log_level = MC_LOG_WARNING;
	if (!cfg.sim_path)
		return NULL;
	rc = mc_daemon_create(&d, &cfg);
	mc_config_free(&cfg);
	if (rc < 0) {
		fprintf(stderr, "cannot create the daemon on %s: %s\n", scenario, strerror(-rc));
		mc_daemon_destroy(d);
		return NULL;
	}
	return d;
}

/* The main loop until the deadline (real ns) or the scenario's end. */
static void run_until(struct mc_daemon *d, int64_t deadline)
{
	while (!mc_daemon_finished(d)) {
		int64_t now = bu_now_ns(), left_ms;
		struct pollfd p = { .fd = mc_daemon_fd(d), .events = POLLIN };
		int t;

		if (now >= deadline)
			break;
		t = mc_daemon_process(d);
		if (mc_daemon_finished(d))
			break;
		left_ms = (deadline - now) / MC_NS_PER_MS + 1;
		if (t < 0 || t > left_ms)
			t = (int)left_ms;
		if (poll(&p, 1, t) < 0 && errno != EINTR)
			break;
	}
}

/* ---- a timing wrapper around the backend's ops -------------------------- */

static const struct mc_hv_ops *real_ops;
static struct mc_hv_ops timed_ops;
static atomic_bool timing;
static atomic_llong hv_cpu_ns, hv_calls;

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * MC_NS_PER_S + ts.tv_nsec;
}

#define TIMED(call)                                                        \
	do {                                                               \
		int64_t t0_;                                               \
		int r_;                                                    \
		if (!atomic_load_explicit(&timing, memory_order_relaxed)) \
			return call;                                       \
		t0_ = thread_cpu_ns();                                     \
		r_ = call;                                                 \
		atomic_fetch_add(&hv_cpu_ns, thread_cpu_ns() - t0_);       \
		atomic_fetch_add(&hv_calls, 1);                            \
		return r_;                                                 \
	} while (0)

static int t_dom_info(struct mc_hv_dom *h, struct mc_dom_info *out)
{
	TIMED(real_ops->dom_info(h, out));
}

static int t_dom_stats(struct mc_hv_dom *h, struct mc_stats *out)
{
	TIMED(real_ops->dom_stats(h, out));
}

static int t_host_mem(struct mc_hv *hv, struct mc_host_mem *out)
{
	TIMED(real_ops->host_mem(hv, out));
}

static int t_set_memory(struct mc_hv *hv, const uint8_t uuid[MC_UUID_LEN], uint64_t kib)
{
	TIMED(real_ops->set_memory(hv, uuid, kib));
}

static void wrap_ops(struct mc_daemon *d)
{
	struct mc_hv *hv = mc_daemon_hv(d);

	real_ops = hv->ops;
	timed_ops = *real_ops;
	timed_ops.dom_info = t_dom_info;
	timed_ops.dom_stats = t_dom_stats;
	timed_ops.host_mem = t_host_mem;
	timed_ops.set_memory = t_set_memory;
	hv->ops = &timed_ops;
}

/* ---- 2. reaction latency ------------------------------------------------ */

static int bench_react(const char *scenario, long n)
{
	struct mc_daemon *d = daemon_new(scenario);
	struct mc_arbiter_stats st;
	const struct mc_sim_result *res;
	int64_t c0, w0, c1, w1;
	unsigned oom = 0;

	if (!d)
		return 2;
	c0 = bu_cpu_ns();
	w0 = bu_now_ns();
	if (mc_daemon_start(d) < 0)
		return 2;
	run_until(d, w0 + (mc_hv_sim_duration_ms(mc_daemon_hv(d)) + 5000) * MC_NS_PER_MS);
	c1 = bu_cpu_ns();
	w1 = bu_now_ns();
	bu_futex_hash_print();
	mc_daemon_stop(d);
	mc_daemon_arbiter_stats(d, &st);
	res = mc_hv_sim_result(mc_daemon_hv(d));
	for (size_t i = 0; i < res->nguests; i++)
		oom += res->guests[i].oom_kills;

	printf("%-8ld %8lu %9.2f %9.2f %9.2f | %7lu %9.1f %9.1f %9.1f | %6.1f%% %4u\n", n,
	       (unsigned long)st.react_ns.count,
	       mc_hist_quantile(&st.react_ns, 0.5) / 1e6, mc_hist_quantile(&st.react_ns, 0.99) / 1e6,
	       st.react_ns.max_ns / 1e6, st.passes,
	       mc_hist_quantile(&st.pass_ns, 0.5) / 1e3, mc_hist_quantile(&st.pass_ns, 0.99) / 1e3,
	       st.pass_ns.max_ns / 1e3, 100.0 * (double)(c1 - c0) / (double)(w1 - w0), oom);
	bu_result(bname("react"), n, "changes", (double)st.react_ns.count, "");
	bu_result(bname("react"), n, "react.median", mc_hist_quantile(&st.react_ns, 0.5) / 1e6, "ms");
	bu_result(bname("react"), n, "react.p99", mc_hist_quantile(&st.react_ns, 0.99) / 1e6, "ms");
	bu_result(bname("react"), n, "react.max", st.react_ns.max_ns / 1e6, "ms");
	bu_result(bname("react"), n, "passes", (double)st.passes, "");
	bu_result(bname("react"), n, "pass.median", mc_hist_quantile(&st.pass_ns, 0.5) / 1e3, "us");
	bu_result(bname("react"), n, "pass.p99", mc_hist_quantile(&st.pass_ns, 0.99) / 1e3, "us");
	bu_result(bname("react"), n, "pass.max", st.pass_ns.max_ns / 1e3, "us");
	bu_result(bname("react"), n, "cpu", 100.0 * (double)(c1 - c0) / (double)(w1 - w0), "%");
	bu_result(bname("react"), n, "oom_kills", oom, "");
	mc_daemon_destroy(d);
	return 0;
}

/* ---- 3. cost ------------------------------------------------------------ */

static int bench_cost(const char *scenario, long n, int warm_s, int measure_s)
{
	struct mc_daemon *d = daemon_new(scenario);
	struct bu_cpu_split s0, s1;
	struct mc_arbiter_stats a0, a1;
	long rss0, rss1, thr0, thr1, maps1;
	int64_t c0, c1, w0, w1, h0, hc0, h1, hc1, wt0, wt1, ct0, ct1;
	double cpu, per_dom;

	if (!d)
		return 2;
	wrap_ops(d);
	rss0 = bu_rss_kib();
	thr0 = bu_threads();
	w0 = bu_now_ns();
	if (mc_daemon_start(d) < 0)
		return 2;
	run_until(d, w0 + (int64_t)warm_s * MC_NS_PER_S);
	if (mc_registry_count(mc_daemon_registry(d)) != (unsigned long)n)
		fprintf(stderr, "warning: %lu domains registered, expected %ld\n",
			mc_registry_count(mc_daemon_registry(d)), n);

	/* Window 1: the daemon as it is. */
	mc_daemon_arbiter_stats(d, &a0);
	bu_cpu_by_role(&s0);
	c0 = bu_cpu_ns();
	w0 = bu_now_ns();
	run_until(d, w0 + (int64_t)measure_s * MC_NS_PER_S);
	c1 = bu_cpu_ns();
	w1 = bu_now_ns();
	bu_cpu_by_role(&s1);
	mc_daemon_arbiter_stats(d, &a1);
	rss1 = bu_rss_kib();
	thr1 = bu_threads();
	maps1 = bu_maps();
	bu_futex_hash_print();

	/* Window 2: the hypervisor's share (every backend call timed). */
	atomic_store(&timing, true);
	h0 = atomic_load(&hv_cpu_ns);
	hc0 = atomic_load(&hv_calls);
	ct0 = bu_cpu_ns();
	wt0 = bu_now_ns();
	run_until(d, wt0 + 5 * MC_NS_PER_S);
	ct1 = bu_cpu_ns();
	wt1 = bu_now_ns();
	h1 = atomic_load(&hv_cpu_ns);
	hc1 = atomic_load(&hv_calls);
	atomic_store(&timing, false);

	cpu = 100.0 * (double)(c1 - c0) / (double)(w1 - w0);
	per_dom = (double)(rss1 - rss0) / (double)n;
	{
		double wall = (double)(w1 - w0);
		double hv_pct = 100.0 * (double)(h1 - h0) / (double)(wt1 - wt0);
		double tot2 = 100.0 * (double)(ct1 - ct0) / (double)(wt1 - wt0);

		printf("%-8ld %7.2f%% %7.2f%% %7.2f%% | %9ld %9ld %8.1f | %7ld %7ld | %6.2f%% %6.2f%% %6.2f%% %6.2f%% %6.2f%% %6.2f%%\n",
		       n, cpu, hv_pct, cpu - hv_pct, rss0, rss1, per_dom, thr1, maps1,
		       100.0 * (double)(s1.collectors - s0.collectors) / wall,
		       100.0 * (double)(s1.arbiter - s0.arbiter) / wall,
		       100.0 * (double)(s1.host - s0.host) / wall,
		       100.0 * (double)(s1.call_rcu - s0.call_rcu) / wall,
		       100.0 * (double)(s1.main - s0.main) / wall,
		       100.0 * (double)(s1.other - s0.other) / wall);
		printf("#   %ld: %lu passes in %d s (median %.1f us), %lld backend calls in 5 s, "
		       "%.2f us CPU per call; CPU in window 2 (timed) %.2f%%; threads before start %ld\n",
		       n, a1.passes - a0.passes, measure_s,
		       mc_hist_quantile(&a1.pass_ns, 0.5) / 1e3, (long long)(hc1 - hc0),
		       hc1 > hc0 ? (double)(h1 - h0) / (double)(hc1 - hc0) / 1e3 : 0.0, tot2, thr0);
		bu_result(bname("cost"), n, "cpu", cpu, "%");
		bu_result(bname("cost"), n, "cpu.hypervisor", hv_pct, "%");
		bu_result(bname("cost"), n, "cpu.memcoord", cpu - hv_pct, "%");
		bu_result(bname("cost"), n, "cpu.collectors", 100.0 * (double)(s1.collectors - s0.collectors) / wall, "%");
		bu_result(bname("cost"), n, "cpu.arbiter", 100.0 * (double)(s1.arbiter - s0.arbiter) / wall, "%");
		bu_result(bname("cost"), n, "cpu.call_rcu", 100.0 * (double)(s1.call_rcu - s0.call_rcu) / wall, "%");
		bu_result(bname("cost"), n, "cpu.main", 100.0 * (double)(s1.main - s0.main) / wall, "%");
		bu_result(bname("cost"), n, "rss.before", (double)rss0, "KiB");
		bu_result(bname("cost"), n, "rss", (double)rss1, "KiB");
		bu_result(bname("cost"), n, "rss.per_domain", per_dom, "KiB");
		bu_result(bname("cost"), n, "threads", (double)thr1, "");
		bu_result(bname("cost"), n, "maps", (double)maps1, "");
		bu_result(bname("cost"), n, "passes_per_s", (double)(a1.passes - a0.passes) / measure_s, "");
	}
	mc_daemon_stop(d);
	mc_daemon_destroy(d);
	return 0;
}

/* ---- 4. churn ----------------------------------------------------------- */

#define CHURN_MAX 100000
#define CHURN_STEPS 256

struct churn {
	struct mc_daemon *d;
	atomic_bool stop;
	int64_t t0;                  /* the backend's start (mc_now_ns) */
	int64_t *first_sample;       /* taken_ns of seq 1, per churn index; 0 = none */
	int64_t *seen;               /* when the poller first saw the record */
	bool *late;                  /* first sample seen only at seq > 1 */
	size_t max_j;
};

static void *churn_poller(void *arg)
{
	struct churn *c = arg;
	struct mc_registry *reg = mc_daemon_registry(c->d);

	rcu_register_thread();
	while (!atomic_load(&c->stop)) {
		struct cds_lfht_iter iter;
		struct mc_domain *rec;
		int64_t now = mc_now_ns();
		struct timespec ts = { 0, 2 * 1000 * 1000 };

		rcu_read_lock();
		cds_lfht_for_each_entry(reg->ht, &iter, rec, node) {
			struct mc_sample *s;
			unsigned long j;
			char *end;

			if (strncmp(rec->name, "churn-", 6) != 0)
				continue;
			j = strtoul(rec->name + 6, &end, 10);
			if (*end || j == 0 || j >= CHURN_MAX)
				continue;
			if (!c->seen[j])
				c->seen[j] = now;
			if (j > c->max_j)
				c->max_j = j;
			if (c->first_sample[j] || c->late[j])
				continue;
			s = rcu_dereference(rec->sample);
			if (!s)
				continue;
			if (s->seq == 1)
				c->first_sample[j] = s->taken_ns;
			else
				c->late[j] = true;
		}
		rcu_read_unlock();
		nanosleep(&ts, NULL);
	}
	rcu_unregister_thread();
	return NULL;
}

/* Fault in every page of p (volatile: a zeroing memset after calloc may be
 * folded away by the compiler). */
static void touch_pages(void *p, size_t len)
{
	volatile char *c = p;

	for (size_t i = 0; i < len; i += 4096)
		c[i] = 0;
	if (len)
		c[len - 1] = 0;
}

static int bench_churn(const char *scenario, double from_s, double rate)
{
	struct churn c;
	pthread_t th;
	int64_t start, dur_ns, *lat, *seen_lat;
	size_t nl = 0, ns = 0, nlate = 0, nmiss = 0;
	/* Every 5 s for up to 20 minutes (churn-600.ini runs 10). */
	long rss[CHURN_STEPS], thr[CHURN_STEPS], live[CHURN_STEPS];
	int64_t at[CHURN_STEPS];
	int k = 0;
	const struct mc_sim_result *res;

	memset(&c, 0, sizeof(c));
	c.d = daemon_new(scenario);
	c.first_sample = calloc(CHURN_MAX, sizeof(int64_t));
	c.seen = calloc(CHURN_MAX, sizeof(int64_t));
	c.late = calloc(CHURN_MAX, sizeof(bool));
	lat = calloc(CHURN_MAX, sizeof(int64_t));
	seen_lat = calloc(CHURN_MAX, sizeof(int64_t));
	if (!c.d || !c.first_sample || !c.seen || !c.late || !lat || !seen_lat)
		return 2;
	/* The poller's arrays are this benchmark's, not the daemon's: make them
	 * resident before the first RSS reading. Left to calloc's untouched
	 * zero pages they grew with every churn index the poller wrote (17
	 * bytes a guest, 1.6 KiB/s at 100 starts a second), which read as a
	 * slow creep of the daemon's memory. */
	touch_pages(c.first_sample, CHURN_MAX * sizeof(int64_t));
	touch_pages(c.seen, CHURN_MAX * sizeof(int64_t));
	touch_pages(c.late, CHURN_MAX * sizeof(bool));
	dur_ns = mc_hv_sim_duration_ms(mc_daemon_hv(c.d)) * MC_NS_PER_MS;
	if (pthread_create(&th, NULL, churn_poller, &c) != 0)
		return 2;
	c.t0 = mc_now_ns();
	if (mc_daemon_start(c.d) < 0)
		return 2;
	start = bu_now_ns();
	/* RSS and threads every 5 s, and once more after the end. */
	for (int64_t t = 5 * MC_NS_PER_S; t <= dur_ns && k < CHURN_STEPS; t += 5 * MC_NS_PER_S) {
		run_until(c.d, start + t);
		at[k] = t / MC_NS_PER_S;
		rss[k] = bu_rss_kib();
		thr[k] = bu_threads();
		live[k] = (long)mc_collector_live_count();
		k++;
		if (mc_daemon_finished(c.d))
			break;
	}
	atomic_store(&c.stop, true);
	pthread_join(th, NULL);
	mc_daemon_stop(c.d);
	res = mc_hv_sim_result(mc_daemon_hv(c.d));

	for (size_t j = 1; j <= c.max_j; j++) {
		int64_t st = c.t0 + (int64_t)((from_s + (double)(j - 1) / rate) * MC_NS_PER_S);

		if (c.first_sample[j])
			lat[nl++] = c.first_sample[j] - st;
		else if (c.late[j])
			nlate++;
		else
			nmiss++;
		if (c.seen[j])
			seen_lat[ns++] = c.seen[j] - st;
	}
	bu_sort(lat, nl);
	bu_sort(seen_lat, ns);
	printf("# churn: %u starts, %u stops by the simulated host; %zu first samples seen "
	       "(%zu only after their first, %zu never)\n",
	       res->starts, res->stops, nl, nlate, nmiss);
	printf("start -> first sample (ms): median %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
	       bu_q(lat, nl, 0.5) / 1e6, bu_q(lat, nl, 0.9) / 1e6, bu_q(lat, nl, 0.99) / 1e6,
	       nl ? lat[nl - 1] / 1e6 : 0.0);
	printf("start -> record seen by the 2 ms poller (ms): median %.2f  p99 %.2f\n",
	       bu_q(seen_lat, ns, 0.5) / 1e6, bu_q(seen_lat, ns, 0.99) / 1e6);
	printf("%6s %10s %8s %10s\n", "t (s)", "RSS KiB", "threads", "collectors");
	for (int i = 0; i < k; i++)
		printf("%6lld %10ld %8ld %10ld\n", (long long)at[i], rss[i], thr[i], live[i]);
	printf("# after stop: RSS %ld KiB, threads %ld, collectors %lu\n", bu_rss_kib(),
	       bu_threads(), mc_collector_live_count());
	bu_result(bname("churn"), 100, "first_sample.median", bu_q(lat, nl, 0.5) / 1e6, "ms");
	bu_result(bname("churn"), 100, "first_sample.p99", bu_q(lat, nl, 0.99) / 1e6, "ms");
	bu_result(bname("churn"), 100, "first_sample.max", nl ? lat[nl - 1] / 1e6 : 0.0, "ms");
	bu_result(bname("churn"), 100, "first_sample.missed", (double)(nlate + nmiss), "");
	/* Warm: 10 s in (500 churn guests running since t = 6 s). */
	for (int i = 0; i < k; i++) {
		if (at[i] == 10) {
			bu_result(bname("churn"), 100, "rss.t10", (double)rss[i], "KiB");
			bu_result(bname("churn"), 100, "threads.t10", (double)thr[i], "");
		}
		if (at[i] == 60) {
			bu_result(bname("churn"), 100, "rss.t60", (double)rss[i], "KiB");
			bu_result(bname("churn"), 100, "threads.t60", (double)thr[i], "");
		}
	}
	{
		long r10 = -1, r60 = -1;

		for (int i = 0; i < k; i++) {
			if (at[i] == 10)
				r10 = rss[i];
			if (at[i] == 60)
				r60 = rss[i];
		}
		if (r10 > 0 && r60 > 0) {
			printf("RSS growth from t = 10 s to t = 60 s: %+ld KiB\n", r60 - r10);
			bu_result(bname("churn"), 100, "rss.growth", (double)(r60 - r10), "KiB");
		}
	}
	{
		/* Once warm: the second half of the churn (the shipped scenarios
		 * churn until 10 s before their end), where the first half has
		 * filled malloc's arenas and the registry's buckets. */
		int64_t last_s = dur_ns / MC_NS_PER_S - 10, mid_s = last_s / 2 / 5 * 5;
		long rmid = -1, rlast = -1;

		for (int i = 0; i < k; i++) {
			if (at[i] == mid_s)
				rmid = rss[i];
			if (at[i] == last_s)
				rlast = rss[i];
		}
		if (rmid > 0 && rlast > 0) {
			printf("RSS growth over the second half of the churn, t = %lld s to %lld s: %+ld KiB\n",
			       (long long)mid_s, (long long)last_s, rlast - rmid);
			bu_result(bname("churn"), 100, "rss.growth_late", (double)(rlast - rmid), "KiB");
		}
	}
	mc_daemon_destroy(c.d);
	free(c.first_sample);
	free(c.seen);
	free(c.late);
	free(lat);
	free(seen_lat);
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: bench_sim react SCENARIO N\n"
		"       bench_sim cost SCENARIO N [WARM_S [MEASURE_S]]\n"
		"       bench_sim churn SCENARIO [FROM_S RATE]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc < 3)
		return usage();
	mc_log_set_level(MC_LOG_WARNING);
	bu_futex_hash_setup();
	rcu_register_thread();
	(void)get_default_call_rcu_data();
	bu_name_call_rcu_thread();

	if (strcmp(argv[1], "react") == 0 && argc == 4) {
		printf("# benchmark 2: reaction latency on the simulated host (real time), %s\n",
		       argv[2]);
		printf("%-8s %8s %9s %9s %9s | %7s %9s %9s %9s | %7s %4s\n", "domains", "changes",
		       "react.med", "p99 ms", "max ms", "passes", "pass.med", "pass.p99",
		       "pass.max", "cpu", "oom");
		rc = bench_react(argv[2], atol(argv[3]));
	} else if (strcmp(argv[1], "cost") == 0 && argc >= 4 && argc <= 6) {
		printf("# benchmark 3: cost of the idle daemon on the simulated host, %s\n", argv[2]);
		bu_print_limits();
		printf("%-8s %8s %8s %8s | %9s %9s %8s | %7s %7s | %7s %7s %7s %7s %7s %7s\n",
		       "domains", "cpu", "hv", "memcoord", "rss0 KiB", "rss KiB", "KiB/dom",
		       "threads", "maps", "coll", "arbiter", "host", "callrcu", "main", "other");
		rc = bench_cost(argv[2], atol(argv[3]), argc > 4 ? atoi(argv[4]) : 5,
				argc > 5 ? atoi(argv[5]) : 20);
	} else if (strcmp(argv[1], "churn") == 0 && (argc == 3 || argc == 5)) {
		printf("# benchmark 4: churn on the simulated host (real time), %s\n", argv[2]);
		rc = bench_churn(argv[2], argc == 5 ? atof(argv[3]) : 1.0,
				 argc == 5 ? atof(argv[4]) : 100.0);
	} else {
		rc = usage();
	}
	rcu_unregister_thread();
	return rc;
}
