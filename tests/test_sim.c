/* memcoord tests — the simulated host: the guest memory model, the balloon,
 * lying and silent guests, lifecycle events on an accelerated clock, churn,
 * scale, scenario errors, and every shipped scenario parsing.
 *
 * The whole process runs on a clock 50 times faster than real time, so a
 * simulated second is 20 ms. Timing checks leave room for a loaded machine
 * (a late wake-up of 20 ms real is a whole simulated second). */
#include "memcoord/sim.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memcoord/hv.h"
#include "memcoord/util.h"
#include "check.h"

#define SPEED 50.0
#define MIB(x) ((uint64_t)(x) * 1024)
#define GIB(x) ((uint64_t)(x) * 1024 * 1024)
#define LOW_KIB MIB(100)

static char tmpdir[] = "/tmp/test_sim.XXXXXX";

/* ---- helpers --------------------------------------------------------------- */

static char *scenario(const char *name, const char *text)
{
	static char path[8][256];
	static int next;
	char *p = path[next++ % 8];
	FILE *f;

	snprintf(p, 256, "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	if (!f) {
		perror(p);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	return p;
}

/* Sleeps until `sec` simulated seconds after base (memcoord's clock). */
static void wait_until(int64_t base, double sec)
{
	int64_t deadline = base + (int64_t)(sec * MC_NS_PER_S);

	while (mc_now_ns() < deadline) {
		struct timespec ts = {0, 200 * 1000};   /* 0.2 ms real */

		nanosleep(&ts, NULL);
	}
}

static double since(int64_t base)
{
	return (double)(mc_now_ns() - base) / MC_NS_PER_S;
}

static struct mc_hv *create(const char *path, const struct mc_hv_callbacks *cb)
{
	char err[4096];
	struct mc_hv *hv = NULL;
	int rc = mc_hv_sim_create(path, LOW_KIB, cb, &hv, err, sizeof(err));

	if (rc < 0) {
		fprintf(stderr, "cannot create the sim from %s: %s\n", path, err);
		CHECK(rc == 0);
		return NULL;
	}
	return hv;
}

static bool uuid_of(struct mc_hv *hv, const char *name, uint8_t uuid[MC_UUID_LEN])
{
	struct mc_dom_info *v;
	size_t n;
	bool found = false;

	if (hv->ops->list(hv, &v, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name)) {
			memcpy(uuid, v[i].uuid, MC_UUID_LEN);
			found = true;
		}
	free(v);
	return found;
}

static struct mc_hv_dom *open_dom(struct mc_hv *hv, const char *name, uint8_t uuid[MC_UUID_LEN])
{
	struct mc_hv_dom *d = NULL;

	if (!uuid_of(hv, name, uuid)) {
		fprintf(stderr, "guest %s not listed\n", name);
		CHECK(false);
		return NULL;
	}
	CHECK(hv->ops->dom_open(hv, uuid, &d) == 0);
	return d;
}

static struct mc_stats stats(struct mc_hv *hv, struct mc_hv_dom *d)
{
	struct mc_stats st;

	CHECK(hv->ops->dom_stats(d, &st) == 0);
	return st;
}

static const struct mc_sim_guest_result *result_of(struct mc_hv *hv, const char *name)
{
	const struct mc_sim_result *r = mc_hv_sim_result(hv);

	for (size_t i = 0; i < r->nguests; i++)
		if (!strcmp(r->guests[i].name, name))
			return &r->guests[i];
	return NULL;
}

static size_t list_count(struct mc_hv *hv)
{
	struct mc_dom_info *v;
	size_t n = 0;

	CHECK(hv->ops->list(hv, &v, &n) == 0);
	free(v);
	return n;
}

/* Event recorder. */
struct rec {
	pthread_mutex_t m;
	pthread_cond_t c;
	int64_t base;
	unsigned started, stopped, connected, ended;
	size_t n;
	struct {
		enum mc_hv_event ev;
		char name[MC_NAME_LEN];
		double t;     /* simulated seconds after base */
	} e[64];
};

static void rec_cb(void *opaque, enum mc_hv_event ev, const uint8_t uuid[MC_UUID_LEN],
		   const char *name)
{
	struct rec *r = opaque;

	(void)uuid;
	pthread_mutex_lock(&r->m);
	if (r->n < 64) {
		r->e[r->n].ev = ev;
		mc_strlcpy(r->e[r->n].name, name, MC_NAME_LEN);
		r->e[r->n].t = since(r->base);
		r->n++;
	}
	r->started += ev == MC_HV_EV_STARTED;
	r->stopped += ev == MC_HV_EV_STOPPED;
	r->connected += ev == MC_HV_EV_CONNECTED;
	r->ended += ev == MC_HV_EV_END;
	pthread_cond_broadcast(&r->c);
	pthread_mutex_unlock(&r->m);
}

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->m, NULL);
	mc_cond_init_monotonic(&r->c);
}

static void rec_destroy(struct rec *r)
{
	pthread_mutex_destroy(&r->m);
	pthread_cond_destroy(&r->c);
}

/* Waits (at most 20 s real) until the END event. */
static bool rec_wait_end(struct rec *r)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += 20;
	pthread_mutex_lock(&r->m);
	while (!r->ended)
		if (pthread_cond_timedwait(&r->c, &r->m, &ts) == ETIMEDOUT)
			break;
	ok = r->ended != 0;
	pthread_mutex_unlock(&r->m);
	return ok;
}

static const char *ev_name(enum mc_hv_event ev)
{
	switch (ev) {
	case MC_HV_EV_STARTED: return "started";
	case MC_HV_EV_STOPPED: return "stopped";
	case MC_HV_EV_CONNECTED: return "connected";
	case MC_HV_EV_DISCONNECTED: return "disconnected";
	case MC_HV_EV_END: return "end";
	}
	return "?";
}

/* ---- the model ------------------------------------------------------------------ */

static void test_alloc(void)
{
	struct mc_hv *hv = create(scenario("alloc.ini",
		"[guest:hog]\n"
		"max = 2G\n"
		"memory = 2G\n"
		"cache = 0\n"
		"workload = alloc 100M/s to 800M; hold 600s\n"), NULL);
	struct mc_hv_dom *d;
	struct mc_stats a, b;
	uint8_t u[MC_UUID_LEN];
	int64_t base;

	if (!hv)
		return;
	base = mc_now_ns();
	CHECK(mc_hv_start(hv, false) == 0);
	d = open_dom(hv, "hog", u);
	if (!d)
		goto out;
	wait_until(base, 1.2);
	a = stats(hv, d);
	wait_until(base, 5.2);
	b = stats(hv, d);
	CHECK(mc_stats_has(&a, MC_STAT_USABLE) && mc_stats_has(&b, MC_STAT_USABLE));
	/* 100 MiB/s for about four seconds (snapshots are 1 s apart). */
	CHECK(a.val[MC_STAT_USABLE] > b.val[MC_STAT_USABLE] + MIB(250));
	CHECK(a.val[MC_STAT_UNUSED] > b.val[MC_STAT_UNUSED] + MIB(250));
	CHECK(b.val[MC_STAT_MINOR_FAULT] > a.val[MC_STAT_MINOR_FAULT]);
	CHECK(b.val[MC_STAT_LAST_UPDATE] > a.val[MC_STAT_LAST_UPDATE]);
	/* MemTotal is the balloon minus a little; nothing swapped. */
	CHECK(b.val[MC_STAT_AVAILABLE] < b.val[MC_STAT_ACTUAL]);
	CHECK(b.val[MC_STAT_AVAILABLE] > b.val[MC_STAT_ACTUAL] - MIB(64));
	CHECK(b.val[MC_STAT_SWAP_OUT] == 0);
	hv->ops->dom_close(d);
out:
	mc_hv_destroy(hv);
}

static void test_squeeze(void)
{
	struct mc_hv *hv = create(scenario("squeeze.ini",
		"[guest:sq]\n"
		"max = 2G\n"
		"memory = 1500M\n"
		"kernel = 100M\n"
		"rss = 600M\n"
		"cache = 400M\n"
		"swap = 256M\n"
		"balloon_rate = 200M/s\n"
		"workload = hold 600s\n"), NULL);
	const struct mc_sim_guest_result *r;
	struct mc_hv_dom *d;
	struct mc_stats st;
	uint8_t u[MC_UUID_LEN];
	int64_t base;

	if (!hv)
		return;
	base = mc_now_ns();
	CHECK(mc_hv_start(hv, false) == 0);
	d = open_dom(hv, "sq", u);
	if (!d)
		goto out;
	st = stats(hv, d);
	CHECK(st.val[MC_STAT_DISK_CACHES] == MIB(400));
	CHECK(st.val[MC_STAT_UNUSED] == MIB(400));
	CHECK(st.val[MC_STAT_USABLE] == MIB(800));

	/* 1000M: 100M short; the cache gives it, nothing is swapped. */
	CHECK(hv->ops->set_memory(hv, u, MIB(1000)) == 0);
	wait_until(base, 5);
	st = stats(hv, d);
	CHECK(st.val[MC_STAT_ACTUAL] == MIB(1000));
	CHECK(st.val[MC_STAT_DISK_CACHES] < MIB(310) && st.val[MC_STAT_DISK_CACHES] > MIB(250));
	CHECK(st.val[MC_STAT_SWAP_OUT] == 0 && st.val[MC_STAT_SWAP_IN] == 0);
	CHECK(st.val[MC_STAT_UNUSED] < MIB(2));

	/* 650M: the cache is gone and 50M swapped; the busy workload faults it
	 * back and pushes it out again. */
	CHECK(hv->ops->set_memory(hv, u, MIB(650)) == 0);
	wait_until(base, 10);
	st = stats(hv, d);
	CHECK(st.val[MC_STAT_DISK_CACHES] == 0);
	CHECK(st.val[MC_STAT_SWAP_OUT] > MIB(50));
	CHECK(st.val[MC_STAT_SWAP_IN] > 0);
	CHECK(st.val[MC_STAT_MAJOR_FAULT] > 0);
	r = result_of(hv, "sq");
	CHECK(r && r->oom_kills == 0 && !r->workload_done);

	/* 300M: more than the swap can take: the workload is killed. */
	CHECK(hv->ops->set_memory(hv, u, MIB(300)) == 0);
	wait_until(base, 14);
	st = stats(hv, d);
	r = result_of(hv, "sq");
	CHECK(r && r->oom_kills == 1);
	CHECK(r && !r->workload_done);
	CHECK(r && r->swapped_kib >= MIB(50));
	CHECK(r && r->below_low_ms > 0);
	CHECK(r && r->peak_actual_kib == MIB(1500) && r->final_actual_kib == MIB(300));
	CHECK(r && r->moved_kib > MIB(1199) && r->moved_kib < MIB(1201));
	/* With the workload gone the guest has room again. */
	CHECK(st.val[MC_STAT_USABLE] > MIB(150));
	hv->ops->dom_close(d);
out:
	mc_hv_destroy(hv);
}

static void test_balloon_rate(void)
{
	struct mc_hv *hv = create(scenario("rate.ini",
		"[guest:b]\n"
		"max = 2G\n"
		"memory = 1500M\n"
		"balloon_rate = 100M/s\n"
		"[guest:stuck]\n"
		"max = 2G\n"
		"memory = 1G\n"
		"stuck = yes\n"), NULL);
	struct mc_hv_dom *d, *ds;
	struct mc_dom_info info;
	struct mc_stats st;
	uint8_t u[MC_UUID_LEN], us[MC_UUID_LEN];
	int64_t base, t1, t2;
	double a1, a2, rate;

	if (!hv)
		return;
	base = mc_now_ns();
	CHECK(mc_hv_start(hv, false) == 0);
	d = open_dom(hv, "b", u);
	ds = open_dom(hv, "stuck", us);
	if (!d || !ds)
		goto out;
	wait_until(base, 0.5);
	CHECK(hv->ops->set_memory(hv, u, MIB(500)) == 0);
	CHECK(hv->ops->set_memory(hv, us, MIB(500)) == 0);
	wait_until(base, 2.5);
	t1 = mc_now_ns();
	a1 = (double)stats(hv, d).val[MC_STAT_ACTUAL];
	t1 = (t1 + mc_now_ns()) / 2;
	wait_until(base, 7.5);
	t2 = mc_now_ns();
	a2 = (double)stats(hv, d).val[MC_STAT_ACTUAL];
	t2 = (t2 + mc_now_ns()) / 2;
	rate = (a1 - a2) / ((double)(t2 - t1) / MC_NS_PER_S);
	printf("balloon: measured %.1f MiB/s (configured 100)\n", rate / 1024);
	CHECK(rate > MIB(90) && rate < MIB(110));
	wait_until(base, 12);
	st = stats(hv, d);
	CHECK(st.val[MC_STAT_ACTUAL] == MIB(500));

	/* The stuck balloon takes the target and never moves. */
	st = stats(hv, ds);
	CHECK(st.val[MC_STAT_ACTUAL] == GIB(1));
	CHECK(hv->ops->dom_info(ds, &info) == 0);
	CHECK(info.cur_kib == MIB(500) && info.max_kib == GIB(2));
	CHECK(result_of(hv, "stuck") && result_of(hv, "stuck")->moved_kib == 0);
	CHECK(result_of(hv, "b") && result_of(hv, "b")->moved_kib == MIB(1000));

	/* Errors. */
	CHECK(hv->ops->set_memory(hv, u, GIB(2) + 1) == -EINVAL);
	CHECK(hv->ops->set_memory(hv, u, 0) == -EINVAL);
	{
		uint8_t bogus[MC_UUID_LEN] = {1, 2, 3};

		CHECK(hv->ops->set_memory(hv, bogus, MIB(500)) == -ENOENT);
		CHECK(hv->ops->dom_open(hv, bogus, &(struct mc_hv_dom *){NULL}) == -ENOENT);
	}
	CHECK(hv->ops->set_memory(hv, u, GIB(2)) == 0);
	hv->ops->dom_close(d);
	hv->ops->dom_close(ds);
out:
	mc_hv_destroy(hv);
}

static void test_stats_kinds(void)
{
	struct mc_hv *hv = create(scenario("kinds.ini",
		"[defaults]\n"
		"max = 1G\n"
		"[guest:silent]\n"
		"nostats = true\n"
		"[guest:starving]\n"
		"liar = starving\n"
		"[guest:junk]\n"
		"liar = junk\n"
		"[guest:nodev]\n"
		"balloon = no\n"
		"[guest:frozen]\n"
		"paused = yes\n"
		"min_guarantee = 300M\n"), NULL);
	struct mc_hv_dom *d;
	struct mc_dom_info info;
	struct mc_stats st;
	uint8_t u[MC_UUID_LEN];
	int64_t base;
	int impossible = 0;

	if (!hv)
		return;
	base = mc_now_ns();
	CHECK(mc_hv_start(hv, false) == 0);
	wait_until(base, 1.5);

	d = open_dom(hv, "silent", u);
	if (d) {
		st = stats(hv, d);
		CHECK(st.present == 1u << MC_STAT_ACTUAL);
		CHECK(st.val[MC_STAT_ACTUAL] == GIB(1));
		hv->ops->dom_close(d);
	}
	d = open_dom(hv, "starving", u);
	if (d) {
		st = stats(hv, d);
		CHECK(st.val[MC_STAT_USABLE] == MIB(10));
		CHECK(st.val[MC_STAT_UNUSED] == MIB(10));
		CHECK(result_of(hv, "starving")->below_low_ms == 0);  /* it lies */
		hv->ops->dom_close(d);
	}
	d = open_dom(hv, "junk", u);
	if (d) {
		uint64_t prev_in = 0, prev_lu = 0;

		for (int i = 0; i < 60; i++) {
			st = stats(hv, d);
			uint64_t act = st.val[MC_STAT_ACTUAL];

			if (st.val[MC_STAT_UNUSED] > act || st.val[MC_STAT_USABLE] > act ||
			    st.val[MC_STAT_SWAP_IN] < prev_in ||
			    st.val[MC_STAT_LAST_UPDATE] < prev_lu)
				impossible++;
			prev_in = st.val[MC_STAT_SWAP_IN];
			prev_lu = st.val[MC_STAT_LAST_UPDATE];
		}
		CHECK(impossible > 5);
		hv->ops->dom_close(d);
	}
	d = open_dom(hv, "nodev", u);
	if (d) {
		st = stats(hv, d);
		CHECK(st.present == 0);
		CHECK(hv->ops->dom_info(d, &info) == 0 && !info.has_balloon);
		CHECK(hv->ops->set_memory(hv, u, MIB(500)) == -ENOTSUP);
		hv->ops->dom_close(d);
	}
	d = open_dom(hv, "frozen", u);
	if (d) {
		CHECK(hv->ops->dom_info(d, &info) == 0);
		CHECK(info.state == MC_DOM_PAUSED && info.min_guarantee_kib == MIB(300));
		hv->ops->dom_close(d);
	}
	mc_hv_destroy(hv);
}

static void test_period(void)
{
	struct mc_hv *hv = create(scenario("period.ini",
		"[sim]\n"
		"period = 2\n"
		"[guest:p]\n"
		"max = 1G\n"), NULL);
	struct mc_hv_dom *d;
	uint8_t u[MC_UUID_LEN];
	uint64_t lu0, lu1, lu2;
	int64_t base;

	if (!hv)
		return;
	base = mc_now_ns();
	CHECK(mc_hv_start(hv, false) == 0);
	d = open_dom(hv, "p", u);
	if (!d)
		goto out;
	lu0 = stats(hv, d).val[MC_STAT_LAST_UPDATE];
	wait_until(base, 4.5);
	lu1 = stats(hv, d).val[MC_STAT_LAST_UPDATE];
	CHECK(lu1 == lu0 + 4);             /* refreshed at 2 s and 4 s */
	CHECK(hv->ops->dom_set_period(d, 0) == 0);
	wait_until(base, 8);
	CHECK(stats(hv, d).val[MC_STAT_LAST_UPDATE] == lu1);   /* frozen */
	CHECK(hv->ops->dom_set_period(d, 1) == 0);
	wait_until(base, 11);
	lu2 = stats(hv, d).val[MC_STAT_LAST_UPDATE];
	CHECK(lu2 > lu1 + 1);
	CHECK(hv->ops->dom_set_period(d, -1) == -EINVAL);
	hv->ops->dom_close(d);
out:
	mc_hv_destroy(hv);
}

static void test_workloads(void)
{
	struct mc_hv *hv = create(scenario("workloads.ini",
		"[sim]\n"
		"seed = 7\n"
		"[defaults]\n"
		"max = 2G\n"
		"cache = 0\n"
		"[guest:done]\n"
		"workload = alloc 200M/s to 400M; hold 1s; free; idle\n"
		"[guest:wave]\n"
		"workload = periodic 100M 500M 4s\n"
		"[guest:walk]\n"
		"workload = wait 1s\n"
		"    randomwalk 50M 200ms 300M   # continued on an indented line\n"
		"[guest:looping]\n"
		"workload = alloc 500M/s to 200M; free 500M/s; loop\n"
		"[guest:hog]\n"
		"memory = 512M\n"
		"swap = 128M\n"
		"workload = alloc 200M/s until full\n"), NULL);
	const struct mc_sim_guest_result *r;
	struct mc_hv_dom *d;
	uint8_t u[MC_UUID_LEN];
	uint64_t lo = UINT64_MAX, hi = 0;
	int64_t base;

	if (!hv)
		return;
	base = mc_now_ns();
	CHECK(mc_hv_start(hv, false) == 0);
	d = open_dom(hv, "wave", u);
	for (int i = 0; d && i < 12; i++) {
		uint64_t v;

		wait_until(base, 1 + 0.5 * i);
		v = stats(hv, d).val[MC_STAT_USABLE];
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
	}
	/* The wave swings 400M; 1 s snapshots catch most of it. */
	CHECK(hi - lo > MIB(250) && hi - lo <= MIB(400));
	if (d)
		hv->ops->dom_close(d);
	d = open_dom(hv, "walk", u);
	if (d) {
		uint64_t prev = 0;
		int changes = 0;

		for (int i = 0; i < 8; i++) {
			uint64_t v;

			wait_until(base, 7 + i);
			v = stats(hv, d).val[MC_STAT_USABLE];
			changes += v != prev;
			prev = v;
			/* never above its 300M maximum */
			CHECK(v >= GIB(2) - MIB(103) - MIB(300) - MIB(1));
		}
		CHECK(changes >= 6);
		hv->ops->dom_close(d);
	}
	r = result_of(hv, "done");
	CHECK(r && r->workload_done && r->oom_kills == 0);
	r = result_of(hv, "wave");
	CHECK(r && !r->workload_done);
	r = result_of(hv, "looping");
	CHECK(r && !r->workload_done && r->oom_kills == 0);
	/* 512M balloon, 128M swap: "until full" runs out of memory. */
	r = result_of(hv, "hog");
	CHECK(r && r->oom_kills == 1 && !r->workload_done);
	CHECK(r && r->swapped_kib >= MIB(127));
	mc_hv_destroy(hv);
}

/* The phases test_workloads leaves out: release (clamped at 0), cache
 * (grown at 20 MiB/s from free memory, not at once) and free at a rate.
 * Each checkpoint sits in a span where the figure it reads is steady for
 * a few simulated seconds, so a late wake-up reads the same snapshot. */
static void test_phases(void)
{
	struct mc_hv *hv = create(scenario("phases.ini",
		"[guest:ph]\n"
		"max = 2G\n"
		"memory = 2G\n"
		"kernel = 100M\n"
		"cache = 0\n"
		"workload = alloc 1000M/s to 800M; wait 4s; release 300M; wait 4s\n"
		"    release 900M; wait 4s; cache 300M; wait 25s\n"
		"    alloc 1000M/s to 400M; free 100M/s; idle\n"), NULL);
	const struct mc_sim_guest_result *r;
	struct mc_hv_dom *d;
	struct mc_stats st;
	uint8_t u[MC_UUID_LEN];
	uint64_t unused;
	int64_t base;

	if (!hv)
		return;
	base = mc_now_ns();
	CHECK(mc_hv_start(hv, false) == 0);
	d = open_dom(hv, "ph", u);
	if (!d)
		goto out;
	/* MemFree = 2048 - 100 (kernel) - rss - cache, in MiB. */
	wait_until(base, 3);
	st = stats(hv, d);
	CHECK(st.val[MC_STAT_UNUSED] == MIB(1148));              /* rss 800 */
	wait_until(base, 7);
	st = stats(hv, d);
	CHECK(st.val[MC_STAT_UNUSED] == MIB(1448));              /* released 300 */
	wait_until(base, 11);
	st = stats(hv, d);
	CHECK(st.val[MC_STAT_UNUSED] == MIB(1948));              /* 900 more: 0, not below */
	CHECK(st.val[MC_STAT_DISK_CACHES] == 0);
	/* The cache target is set at 12.8 s; 300 MiB take 15 s to fill. */
	wait_until(base, 20);
	st = stats(hv, d);
	printf("phases: cache %.0f MiB at 20 s (filling since 12.8 s at 20 MiB/s)\n",
	       (double)st.val[MC_STAT_DISK_CACHES] / 1024);
	CHECK(st.val[MC_STAT_DISK_CACHES] > MIB(60) && st.val[MC_STAT_DISK_CACHES] < MIB(280));
	CHECK(st.val[MC_STAT_USABLE] == MIB(1948));              /* cache is available */
	wait_until(base, 33);
	st = stats(hv, d);
	CHECK(st.val[MC_STAT_DISK_CACHES] == MIB(300));
	CHECK(st.val[MC_STAT_UNUSED] == MIB(1648));
	/* 400 MiB allocated by 38.2 s, then freed at 100 MiB/s until 42.2 s. */
	wait_until(base, 40);
	unused = stats(hv, d).val[MC_STAT_UNUSED];
	printf("phases: %.0f MiB still held at 40 s (freeing 400 MiB at 100 MiB/s since 38.2 s)\n",
	       (double)(MIB(1648) - unused) / 1024);
	CHECK(unused > MIB(1248) && unused < MIB(1648));
	r = result_of(hv, "ph");
	CHECK(r && !r->workload_done);
	wait_until(base, 45);
	CHECK(stats(hv, d).val[MC_STAT_UNUSED] == MIB(1648));
	r = result_of(hv, "ph");
	CHECK(r && r->workload_done && r->oom_kills == 0 && r->swapped_kib == 0);
	hv->ops->dom_close(d);
out:
	mc_hv_destroy(hv);
}

static void test_host(void)
{
	struct mc_hv *hv = create(scenario("host.ini",
		"[sim]\n"
		"speed = 20\n"
		"duration = 30s\n"
		"[host]\n"
		"memory = 5G\n"
		"overhead = 1G\n"
		"budget = 3G\n"
		"[defaults]\n"
		"max = 2G\n"
		"memory = 1G\n"
		"[guest:a]\n"
		"[guest:b]\n"), NULL);
	struct mc_host_mem hm;
	uint8_t u[MC_UUID_LEN];
	int64_t base;
	const struct mc_sim_result *res;

	if (!hv)
		return;
	CHECK(mc_hv_sim_speed(hv) == 20);
	CHECK(mc_hv_sim_duration_ms(hv) == 30000);
	CHECK(mc_hv_sim_budget_kib(hv) == GIB(3));
	base = mc_now_ns();
	CHECK(mc_hv_start(hv, false) == 0);
	CHECK(hv->ops->host_mem(hv, &hm) == 0);
	CHECK(hm.has_total && hm.total_kib == GIB(5) && hm.free_kib == GIB(2));
	CHECK(uuid_of(hv, "a", u));
	CHECK(hv->ops->set_memory(hv, u, GIB(2)) == 0);
	wait_until(base, 6);
	CHECK(hv->ops->host_mem(hv, &hm) == 0 && hm.free_kib == GIB(1));
	CHECK(hv->ops->set_memory(hv, u, GIB(1)) == 0);
	/* The minimum is found between looks at the host. */
	wait_until(base, 12);
	CHECK(hv->ops->host_mem(hv, &hm) == 0 && hm.free_kib == GIB(2));
	res = mc_hv_sim_result(hv);
	CHECK(res->host_min_free_kib == GIB(1));
	CHECK(res->host_total_kib == GIB(5) && res->budget_kib == GIB(3));
	CHECK(res->nguests == 2 && res->starts == 2 && res->stops == 0);
	mc_hv_stop(hv);
	/* The simulated clock stops with the backend. */
	{
		int64_t d1 = mc_hv_sim_result(hv)->duration_ms;

		wait_until(base, 14);
		CHECK(mc_hv_sim_result(hv)->duration_ms == d1);
		CHECK(d1 >= 12000 && d1 < 14000);
	}
	mc_hv_destroy(hv);
}

/* ---- lifecycle ---------------------------------------------------------------- */

static void test_lifecycle(void)
{
	struct rec rec;
	struct mc_hv_callbacks cb = {rec_cb, &rec};
	struct mc_hv *hv;
	struct mc_hv_dom *db = NULL;
	struct mc_dom_info *v;
	struct mc_stats st;
	uint8_t ub[MC_UUID_LEN];
	const struct mc_sim_result *res;
	size_t n;
	static const struct {
		enum mc_hv_event ev;
		const char *name;
		double t;
	} want[] = {
		{MC_HV_EV_CONNECTED, "", 0}, {MC_HV_EV_STARTED, "b", 2},
		{MC_HV_EV_STARTED, "c", 3}, {MC_HV_EV_STOPPED, "b", 5},
		{MC_HV_EV_END, "", 8},
	};

	rec_init(&rec);
	hv = create(scenario("life.ini",
		"# a runs throughout, b from 2 s to 5 s, c from 3 s\n"
		"[sim]\n"
		"duration = 8s\n"
		"[defaults]\n"
		"max = 1G\n"
		"[guest:a]\n"
		"[guest:b]\n"
		"start = 2s\n"
		"stop = 5s\n"
		"[guest:c]\n"
		"start = 3s\n"
		"[guest:late]\n"
		"start = 9s\n"), &cb);
	if (!hv) {
		rec_destroy(&rec);
		return;
	}
	CHECK(list_count(hv) == 0);          /* nothing before start */
	rec.base = mc_now_ns();
	CHECK(mc_hv_start(hv, false) == 0);
	CHECK(mc_hv_start(hv, false) == -EALREADY);
	CHECK(hv->ops->list(hv, &v, &n) == 0);
	CHECK(n == 1 && !strcmp(v[0].name, "a"));
	if (n == 1) {
		char s[MC_UUID_STR_LEN];
		uint8_t back[MC_UUID_LEN];

		/* a valid version-4 style UUID, the same in every run */
		mc_uuid_format(v[0].uuid, s);
		CHECK(s[14] == '4' && strchr("89ab", s[19]));
		CHECK(mc_uuid_parse(s, back) == 0);
	}
	free(v);

	wait_until(rec.base, 2.5);
	db = open_dom(hv, "b", ub);
	wait_until(rec.base, 3.5);
	CHECK(list_count(hv) == 3);
	CHECK(rec_wait_end(&rec));
	if (db) {
		CHECK(hv->ops->dom_stats(db, &st) == -ENOENT);
		hv->ops->dom_close(db);
	}
	CHECK(hv->ops->set_memory(hv, ub, MIB(500)) == -ENOENT);
	CHECK(hv->ops->dom_open(hv, ub, &db) == -ENOENT);
	CHECK(hv->ops->list(hv, &v, &n) == 0);
	CHECK(n == 2 && !strcmp(v[0].name, "a") && !strcmp(v[1].name, "c"));
	free(v);

	pthread_mutex_lock(&rec.m);
	CHECK(rec.n == sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < rec.n && i < sizeof(want) / sizeof(want[0]); i++) {
		printf("event %-9s %-4s at %.2f s (expected %.0f s)\n", ev_name(rec.e[i].ev),
		       rec.e[i].name, rec.e[i].t, want[i].t);
		CHECK(rec.e[i].ev == want[i].ev);
		CHECK(!strcmp(rec.e[i].name, want[i].name));
		CHECK(rec.e[i].t > want[i].t - 0.05 && rec.e[i].t < want[i].t + 1.5);
	}
	pthread_mutex_unlock(&rec.m);

	res = mc_hv_sim_result(hv);
	CHECK(res->starts == 3 && res->stops == 1);
	CHECK(res->nguests == 3);            /* "late" never started */
	CHECK(res->duration_ms == 8000);
	CHECK(result_of(hv, "b") && result_of(hv, "b")->final_actual_kib == GIB(1));
	mc_hv_destroy(hv);
	rec_destroy(&rec);
}

static void test_churn(void)
{
	struct rec rec;
	struct mc_hv_callbacks cb = {rec_cb, &rec};
	struct mc_hv *hv;
	unsigned started;
	double t;
	size_t running;
	const struct mc_sim_result *res;

	rec_init(&rec);
	hv = create(scenario("churn.ini",
		"[sim]\n"
		"duration = 6s\n"
		"[host]\n"
		"memory = 64G\n"
		"[churn]\n"
		"rate = 100\n"
		"lifetime = 1s\n"
		"until = 5s\n"
		"max = 256M\n"
		"workload = alloc 100M/s to 50M; idle\n"), &cb);
	if (!hv) {
		rec_destroy(&rec);
		return;
	}
	rec.base = mc_now_ns();
	CHECK(mc_hv_start(hv, false) == 0);
	wait_until(rec.base, 2.5);
	pthread_mutex_lock(&rec.m);
	started = rec.started;
	t = since(rec.base);
	pthread_mutex_unlock(&rec.m);
	running = list_count(hv);
	printf("churn: %u starts by %.2f s (expected about %.0f), %zu running\n",
	       started, t, t * 100, running);
	/* The first guest starts at 0 with the host (no event). */
	CHECK(started + 1 >= (unsigned)(2.5 * 100) - 30 && started <= (unsigned)(t * 100) + 1);
	CHECK(running >= 80 && running <= 110);
	CHECK(rec_wait_end(&rec));
	pthread_mutex_lock(&rec.m);
	CHECK(rec.started == 499 && rec.stopped == 500);
	pthread_mutex_unlock(&rec.m);
	res = mc_hv_sim_result(hv);
	CHECK(res->starts == 500 && res->stops == 500 && res->nguests == 500);
	CHECK(list_count(hv) == 0);
	CHECK(res->guests[0].workload_done && !strcmp(res->guests[0].name, "churn-0001"));
	mc_hv_destroy(hv);
	rec_destroy(&rec);
}

/* Every op from several threads while guests come and go; then a stop in
 * the middle of the run. Meant for the sanitizers. */
struct stress {
	struct mc_hv *hv;
	atomic_bool quit;
	atomic_uint ops;
};

struct worker {
	struct stress *st;
	unsigned seed;
};

static void *stress_worker(void *arg)
{
	struct worker *w = arg;
	struct stress *st = w->st;
	struct mc_hv *hv = st->hv;
	unsigned x = w->seed;

	while (!atomic_load(&st->quit)) {
		struct mc_dom_info *v;
		struct mc_host_mem hm;
		size_t n;

		if (hv->ops->list(hv, &v, &n) < 0)
			continue;
		for (size_t i = 0; i < n && !atomic_load(&st->quit); i++) {
			struct mc_hv_dom *d;
			struct mc_dom_info info;
			struct mc_stats sts;

			x = x * 1103515245 + 12345;
			if (hv->ops->dom_open(hv, v[i].uuid, &d) == 0) {
				(void)hv->ops->dom_stats(d, &sts);
				(void)hv->ops->dom_info(d, &info);
				if (x % 7 == 0)
					(void)hv->ops->dom_set_period(d, (int)(x % 3));
				hv->ops->dom_close(d);
			}
			(void)hv->ops->set_memory(hv, v[i].uuid, MIB(128) + (x >> 8) % MIB(384));
			atomic_fetch_add(&st->ops, 1);
		}
		free(v);
		(void)hv->ops->host_mem(hv, &hm);
	}
	return NULL;
}

static void test_concurrent(void)
{
	struct rec rec;
	struct mc_hv_callbacks cb = {rec_cb, &rec};
	struct stress st = {0};
	struct worker w[3];
	pthread_t th[3];
	const struct mc_sim_result *res;
	int64_t base;

	rec_init(&rec);
	st.hv = create(scenario("stress.ini",
		"[sim]\n"
		"duration = 1h\n"
		"[host]\n"
		"memory = 64G\n"
		"[guest:steady]\n"
		"workload = periodic 100M 900M 3s\n"
		"[churn]\n"
		"rate = 200\n"
		"lifetime = 1s\n"
		"until = 1m\n"
		"max = 512M\n"
		"workload = alloc 100M/s to 300M; randomwalk 50M 100ms 400M\n"), &cb);
	if (!st.hv) {
		rec_destroy(&rec);
		return;
	}
	rec.base = base = mc_now_ns();
	CHECK(mc_hv_start(st.hv, false) == 0);
	for (int i = 0; i < 3; i++) {
		w[i] = (struct worker){&st, (unsigned)i * 7919 + 1};
		CHECK(pthread_create(&th[i], NULL, stress_worker, &w[i]) == 0);
	}
	/* Until enough churn went by (a loaded machine may run the timeline
	 * late), and stop in the middle of the run. */
	for (int i = 1; i <= 100; i++) {
		wait_until(base, i * 0.5);
		res = mc_hv_sim_result(st.hv);
		CHECK(res->starts >= res->stops);
		if (res->starts > 600 && res->stops > 400)
			break;
	}
	mc_hv_stop(st.hv);
	atomic_store(&st.quit, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	res = mc_hv_sim_result(st.hv);
	printf("stress: %u ops on %u starts / %u stops, stopped at %.1f s\n",
	       atomic_load(&st.ops), res->starts, res->stops, res->duration_ms / 1000.0);
	CHECK(res->starts > 600 && res->stops > 400);
	CHECK(res->duration_ms < 3600 * 1000);
	pthread_mutex_lock(&rec.m);
	CHECK(rec.ended == 0 && rec.connected == 1);
	pthread_mutex_unlock(&rec.m);
	mc_hv_destroy(st.hv);
	rec_destroy(&rec);
}

/* ---- scale ---------------------------------------------------------------------- */

static double ms_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static void test_scale(void)
{
	struct mc_hv *hv;
	struct mc_dom_info *v;
	struct mc_host_mem hm;
	struct timespec t0;
	size_t n = 0;
	double create_ms, start_ms, list_ms, ops_ms;
	char *path = scenario("scale.ini",
		"[host]\n"
		"memory = 6T\n"
		"[group:vm]\n"
		"count = 10000\n"
		"max = 1G\n"
		"memory = 512M\n"
		"workload = wait 10s; alloc 10M/s to 200M; idle\n");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	hv = create(path, NULL);
	create_ms = ms_since(&t0);
	if (!hv)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(mc_hv_start(hv, false) == 0);
	start_ms = ms_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(hv->ops->list(hv, &v, &n) == 0);
	list_ms = ms_since(&t0);
	CHECK(n == 10000);
	CHECK(n == 10000 && !strcmp(v[0].name, "vm-00001") && !strcmp(v[9999].name, "vm-10000"));
	/* Every guest once: open, stats, set, close (lookups by UUID). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < n; i++) {
		struct mc_hv_dom *d;
		struct mc_stats st;

		if (hv->ops->dom_open(hv, v[i].uuid, &d) < 0) {
			CHECK(false);
			break;
		}
		CHECK(hv->ops->dom_stats(d, &st) == 0);
		CHECK(hv->ops->set_memory(hv, v[i].uuid, MIB(600)) == 0);
		hv->ops->dom_close(d);
	}
	ops_ms = ms_since(&t0);
	free(v);
	CHECK(hv->ops->host_mem(hv, &hm) == 0);
	CHECK(hm.free_kib <= GIB(6 * 1024) - GIB(1) - 10000 * MIB(512));
	printf("scale: 10000 guests: create %.1f ms, start %.1f ms, list %.1f ms,"
	       " open+stats+set each %.1f ms in all\n", create_ms, start_ms, list_ms, ops_ms);
	CHECK(mc_hv_sim_result(hv)->nguests == 10000);
	mc_hv_destroy(hv);
}

/* ---- scenario files ------------------------------------------------------------- */

static bool has_line(const char *err, const char *path, int line, const char *what)
{
	char want[512];

	snprintf(want, sizeof(want), "%s:%d: %s", path, line, what);
	if (strstr(err, want))
		return true;
	fprintf(stderr, "missing error \"%s\"\n", want);
	return false;
}

static void test_errors(void)
{
	char err[8192];
	struct mc_hv *hv = NULL;
	char *p = scenario("bad.ini",
		"[sim]\n"                                             /* 1 */
		"speed = fast\n"                                      /* 2 */
		"[bogus]\n"                                           /* 3 */
		"x = 1\n"                                             /* 4 */
		"[guest:a]\n"                                         /* 5 */
		"max = 2Q\n"                                          /* 6 */
		"colour = red\n"                                      /* 7 */
		"workload = wait 10s; alloc 20M to 1G\n"              /* 8 */
		"  hold forever\n"                                    /* 9 */
		"start = soon\n"                                      /* 10 */
		"[group:g]\n"                                         /* 11 */
		"max = 2G\n"                                          /* 12 */
		"workload = idle; wait 1s\n"                          /* 13 */
		"this line has no equals sign\n"                      /* 14 */
		"[guest:b]\n"                                         /* 15 */
		"max = 1G\n"                                          /* 16 */
		"max = 2G\n"                                          /* 17 */
		"workload = loop\n"                                   /* 18 */
		"[guest:a]\n"                                         /* 19 */
		"[sim]\n"                                             /* 20 */
		"duration = -3\n");                                   /* 21 */
	int rc = mc_hv_sim_create(p, LOW_KIB, NULL, &hv, err, sizeof(err));

	CHECK(rc == -EINVAL && hv == NULL);
	CHECK(has_line(err, p, 2, "[sim] speed: bad value 'fast'"));
	CHECK(has_line(err, p, 3, "[bogus]: unknown section"));
	CHECK(has_line(err, p, 6, "[guest:a] max: bad value '2Q'"));
	CHECK(has_line(err, p, 7, "[guest:a] colour: unknown key"));
	CHECK(has_line(err, p, 8, "[guest:a] workload: phase 'alloc 20M to 1G': alloc: bad rate"));
	CHECK(has_line(err, p, 9, "[guest:a] workload: phase 'hold forever'"));
	CHECK(has_line(err, p, 10, "[guest:a] start: bad value 'soon'"));
	CHECK(has_line(err, p, 11, "[group:g] count: missing"));
	CHECK(has_line(err, p, 13, "[group:g] workload: 'idle' ends the schedule"));
	CHECK(has_line(err, p, 14, "[group:g]: cannot parse"));
	CHECK(has_line(err, p, 17, "[guest:b] max: set twice (first at line 16)"));
	CHECK(has_line(err, p, 18, "[guest:b] workload: 'loop' needs a phase"));
	CHECK(has_line(err, p, 19, "[guest:a]: duplicate section (first at line 5)"));
	CHECK(has_line(err, p, 21, "[sim] duration: bad value '-3'"));
	CHECK(!strstr(err, ":4:"));    /* under an unknown section: reported once */
	if (check_failures)
		fprintf(stderr, "errors were:\n%s\n", err);

	/* Cross-field checks, and names colliding across sections. */
	p = scenario("bad2.ini",
		"[defaults]\n"                                        /* 1 */
		"max = 1G\n"                                          /* 2 */
		"[guest:x]\n"                                         /* 3 */
		"memory = 3G\n"                                       /* 4 */
		"[guest:y]\n"                                         /* 5 */
		"stop = 0\n");                                        /* 6 */
	rc = mc_hv_sim_create(p, LOW_KIB, NULL, &hv, err, sizeof(err));
	CHECK(rc == -EINVAL);
	CHECK(has_line(err, p, 4, "[guest:x] memory: 3G is above max 1G"));
	CHECK(has_line(err, p, 6, "[guest:y] stop: must be after start"));

	/* A [defaults] problem is reported once, on the [defaults] line. */
	p = scenario("bad4.ini",
		"[defaults]\n"                                        /* 1 */
		"memory = 3G\n"                                       /* 2 */
		"[guest:a]\n"                                         /* 3 */
		"[guest:b]\n"                                         /* 4 */
		"[guest:c]\n"                                         /* 5 */
		"max = 1G\n"                                          /* 6 */
		"memory = 40M\n");                                    /* 7 */
	rc = mc_hv_sim_create(p, LOW_KIB, NULL, &hv, err, sizeof(err));
	CHECK(rc == -EINVAL);
	CHECK(has_line(err, p, 2, "[defaults] memory: 3G is above max 2G"));
	CHECK(strstr(err, "above max 2G") &&
	      !strstr(strstr(err, "above max 2G") + 1, "above max 2G"));
	CHECK(has_line(err, p, 7, "[guest:c] memory: 40M must be above the guest kernel's 51.2M"));

	p = scenario("bad3.ini",
		"[guest:web-0001]\n"
		"[group:web]\n"
		"count = 3\n");
	rc = mc_hv_sim_create(p, LOW_KIB, NULL, &hv, err, sizeof(err));
	CHECK(rc == -EINVAL);
	CHECK(has_line(err, p, 2, "[group:web]: guest name web-0001 is also used by [guest:web-0001]"));

	rc = mc_hv_sim_create("/nonexistent/x.ini", LOW_KIB, NULL, &hv, err, sizeof(err));
	CHECK(rc == -ENOENT && strstr(err, "/nonexistent/x.ini"));

	/* Long workloads: ';' inside, and past inih's 200-character lines. */
	p = scenario("long.ini",
		"[guest:long]\n"
		"workload = wait 1s ; alloc 1M/s to 2M ; hold 1s ; free ; wait 1s ; alloc 1M/s to 2M ;"
		" hold 1s ; free ; wait 1s ; alloc 1M/s to 2M ; hold 1s ; free ; wait 1s ;"
		" alloc 1M/s to 2M ; hold 1s ; free ; cache 10M ; release 1M ; idle  # comment\n");
	rc = mc_hv_sim_create(p, LOW_KIB, NULL, &hv, err, sizeof(err));
	CHECK(rc == 0);
	if (rc < 0)
		fprintf(stderr, "%s\n", err);
	mc_hv_destroy(hv);
}

/* mc_hv_sim_create_stream: a scenario from memory, errors under its name. */
static void test_stream(void)
{
	static const char good[] = "[sim]\nduration = 5s\n[guest:a]\nmax = 1G\n";
	static const char bad[] = "[sim]\nspeed = fast\n";
	char err[1024];
	struct mc_hv *hv = NULL;
	FILE *f = fmemopen((void *)good, sizeof(good) - 1, "r");
	int rc = mc_hv_sim_create_stream(f, "<mem>", LOW_KIB, NULL, &hv, err, sizeof(err));

	fclose(f);
	CHECK(rc == 0 && hv && mc_hv_sim_duration_ms(hv) == 5000);
	/* No [sim] speed: real time. */
	CHECK(hv && mc_hv_sim_speed(hv) == 1.0);
	if (hv) {
		struct mc_dom_info *doms = NULL;
		size_t n = 0;

		CHECK(hv->ops->start(hv, false) == 0);
		CHECK(hv->ops->list(hv, &doms, &n) == 0 && n == 1 &&
		      strcmp(doms[0].name, "a") == 0 && doms[0].max_kib == 1024 * 1024);
		free(doms);
	}
	mc_hv_destroy(hv);
	f = fmemopen((void *)bad, sizeof(bad) - 1, "r");
	rc = mc_hv_sim_create_stream(f, "<mem>", LOW_KIB, NULL, &hv, err, sizeof(err));
	fclose(f);
	CHECK(rc == -EINVAL && hv == NULL && strstr(err, "<mem>:2: [sim] speed: bad value 'fast'"));
	/* Found by fuzzing: the text after a section header was echoed as it
	 * was, control characters and all. */
	{
		static const char esc[] = "[sim] \x1b[2Jx\ry\n";

		f = fmemopen((void *)esc, sizeof(esc) - 1, "r");
		rc = mc_hv_sim_create_stream(f, "<mem>", LOW_KIB, NULL, &hv, err, sizeof(err));
		fclose(f);
		CHECK(rc == -EINVAL &&
		      strstr(err, "<mem>:1: [sim]: unexpected text after ']': '?[2Jx?y'"));
	}
	/* Nor a tab in a section name. */
	{
		static const char esc[] = "[group\t:g]\ncount = x\n";

		f = fmemopen((void *)esc, sizeof(esc) - 1, "r");
		rc = mc_hv_sim_create_stream(f, "<mem>", LOW_KIB, NULL, &hv, err, sizeof(err));
		fclose(f);
		CHECK(rc == -EINVAL && strstr(err, "<mem>:2: [group?:g] count: bad value 'x'"));
	}
	/* Nor the words of a phase in its message. */
	{
		static const char esc[] = "[guest:a]\nworkload = \x0b" "free\n";

		f = fmemopen((void *)esc, sizeof(esc) - 1, "r");
		rc = mc_hv_sim_create_stream(f, "<mem>", LOW_KIB, NULL, &hv, err, sizeof(err));
		fclose(f);
		CHECK(rc == -EINVAL &&
		      strstr(err, "<mem>:2: [guest:a] workload: phase '?free': unknown phase '?free'"));
	}
	printf("a scenario from a memory buffer\n");
}

static void test_shipped(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d) {
		fprintf(stderr, "cannot open %s: %s\n", dir, strerror(errno));
		CHECK(false);
		return;
	}
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		char path[1024], err[4096];
		struct mc_hv *hv = NULL;
		int rc;

		if (l < 5 || strcmp(e->d_name + l - 4, ".ini"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		rc = mc_hv_sim_create(path, LOW_KIB, NULL, &hv, err, sizeof(err));
		if (rc < 0)
			fprintf(stderr, "%s: %s\n", path, err);
		CHECK(rc == 0);
		if (hv) {
			printf("scenario %-14s speed %g, %" PRId64 " s\n", e->d_name,
			       mc_hv_sim_speed(hv), mc_hv_sim_duration_ms(hv) / 1000);
			CHECK(mc_hv_sim_speed(hv) >= 1);
		}
		mc_hv_destroy(hv);
		n++;
	}
	closedir(d);
	printf("%d shipped scenarios parse\n", n);
	CHECK(n >= 10);
}

int main(int argc, char **argv)
{
	mc_clock_set_speed(SPEED);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_errors();
	test_stream();
	test_alloc();
	test_squeeze();
	test_balloon_rate();
	test_stats_kinds();
	test_period();
	test_workloads();
	test_phases();
	test_host();
	test_lifecycle();
	test_churn();
	test_concurrent();
	test_scale();
	if (argc > 1)
		test_shipped(argv[1]);
	else
		printf("no scenario directory given: shipped scenarios not checked\n");

	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
	if (check_failures) {
		fprintf(stderr, "%d check(s) failed\n", check_failures);
		return 1;
	}
	printf("all sim checks passed\n");
	return 0;
}
