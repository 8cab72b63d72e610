/* memcoord tests — scenario outcomes: the real daemon (registry, collectors,
 * arbiter, policy, actuator) runs in-process against the simulated host on
 * the shipped scenarios, on the accelerated clock, and the test asserts what
 * happened to the guests and the host: OOM kills, time below the low
 * watermark, balloons grown ahead of demand and reclaimed afterwards, the
 * host reserve and budget, stuck, lying and silent guests left alone, churn,
 * and the balance policy doing at least as well as the seed policy.
 *
 * Usage: test_scenarios SCENARIO_DIR [TEST...] (all tests, or those named:
 * one-hog, idle, shortage, stuck, liar, nostats, churn, compare-one-hog,
 * compare-all-hog, compare-release, compare-demo). The shipped scenarios
 * run at their own speed (20), except churn, which runs from a shortened
 * copy (20 s instead of 60 s, written to a temporary directory) so that it
 * stays short under ASan too. Each group prints one line with the measured
 * figures and, in brackets, what they are checked against. The comparisons
 * on one-hog and demo run three pairs. About 165 s in all. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "memcoord/arbiter.h"
#include "memcoord/config.h"
#include "memcoord/daemon.h"
#include "memcoord/log.h"
#include "memcoord/registry.h"
#include "memcoord/sim.h"
#include "memcoord/util.h"
#include "check.h"

#define MIB(x) ((uint64_t)(x) * 1024)
#define GIB(x) ((uint64_t)(x) * 1024 * 1024)
#define TO_MIB(kib) ((double)(kib) / 1024.0)

/* Time below low that still counts as "about none" (simulated ms). */
#define BELOW_LOW_TOL_MS 2000
/* The floor every guest keeps (the default, 200 MiB). */
#define FLOOR_KIB MIB(MC_DEF_FLOOR_MIB)

static const char *scen_dir;
static char tmpdir[] = "/tmp/test_scenarios.XXXXXX";
static bool have_tmpdir;

/* ---- one run ------------------------------------------------------------- */

/* A run's results, copied out of the sim before the daemon is destroyed. */
struct run {
	char policy[32];
	struct mc_sim_result res;       /* guests: our own copy */
	struct mc_arbiter_stats st;
	uint64_t reserve_kib;           /* the default reserve for this host */
	double real_s;                  /* wall-clock length of the run */
	bool ok;
};

static void run_free(struct run *r)
{
	free(r->res.guests);
	r->res.guests = NULL;
}

/* Run the daemon on scenario `path` under `policy` until the scenario ends.
 * The calling thread is RCU-registered (main). */
static bool run_scenario(const char *path, const char *policy, const char *trace,
			 struct run *out)
{
	struct mc_config cfg;
	struct mc_daemon *d = NULL;
	const struct mc_sim_result *res;
	int64_t t0 = mc_real_now_ns(), limit_ns;
	double speed;
	int rc;

	memset(out, 0, sizeof(*out));
	mc_strlcpy(out->policy, policy, sizeof(out->policy));
	mc_config_defaults(&cfg);
	cfg.sim_path = strdup(path);
	if (!cfg.sim_path) {
		CHECK(cfg.sim_path != NULL);
		return false;
	}
	mc_strlcpy(cfg.policy, policy, sizeof(cfg.policy));
	/* TEST_SCENARIOS_TRACE_DIR=DIR keeps a trace of every run there
	 * (NAME.POLICY.N.csv), to look into a failure. */
	if (!trace && getenv("TEST_SCENARIOS_TRACE_DIR")) {
		static char keep[1024];
		static unsigned nkeep;
		const char *base = strrchr(path, '/');

		snprintf(keep, sizeof(keep), "%s/%s.%s.%u.csv", getenv("TEST_SCENARIOS_TRACE_DIR"),
			 base ? base + 1 : path, policy, nkeep++);
		trace = keep;
	}
	if (trace && !(cfg.trace_path = strdup(trace))) {
		CHECK(cfg.trace_path != NULL);
		mc_config_free(&cfg);
		return false;
	}

	rc = mc_daemon_create(&d, &cfg);
	if (rc < 0) {
		fprintf(stderr, "cannot create the daemon on %s: %s\n", path, strerror(-rc));
		CHECK(rc == 0);
		mc_config_free(&cfg);
		return false;
	}
	speed = mc_hv_sim_speed(mc_daemon_hv(d));
	/* A watchdog well beyond the scenario's real length (a loaded or
	 * sanitized machine is slower, not this much slower). */
	limit_ns = (int64_t)((double)mc_hv_sim_duration_ms(mc_daemon_hv(d)) * 1e6 / speed) * 4
		   + 60 * MC_NS_PER_S;
	rc = mc_daemon_start(d);
	CHECK(rc == 0);
	if (rc < 0) {
		mc_daemon_destroy(d);
		mc_config_free(&cfg);
		return false;
	}
	while (!mc_daemon_finished(d)) {
		struct pollfd pfd = {.fd = mc_daemon_fd(d), .events = POLLIN};
		int timeout = mc_daemon_process(d);

		if (mc_daemon_finished(d))
			break;
		if (mc_real_now_ns() - t0 > limit_ns) {
			fprintf(stderr, "%s (%s): the scenario did not end in %.0f s real\n",
				path, policy, (double)limit_ns / 1e9);
			CHECK(!"scenario ended in time");
			break;
		}
		if (timeout < 0 || timeout > 100)
			timeout = 100;
		if (poll(&pfd, 1, timeout) < 0 && errno != EINTR) {
			perror("poll");
			CHECK(!"poll failed");
			break;
		}
	}
	out->ok = mc_daemon_finished(d);
	mc_daemon_stop(d);

	res = mc_hv_sim_result(mc_daemon_hv(d));
	mc_daemon_arbiter_stats(d, &out->st);
	out->res = *res;
	out->res.guests = NULL;
	if (res->nguests) {
		out->res.guests = calloc(res->nguests, sizeof(*out->res.guests));
		if (!out->res.guests) {
			CHECK(out->res.guests != NULL);
			out->ok = false;
			out->res.nguests = 0;
		} else {
			memcpy(out->res.guests, res->guests,
			       res->nguests * sizeof(*out->res.guests));
		}
	}
	out->reserve_kib = mc_config_default_reserve_kib(res->host_total_kib);
	mc_daemon_destroy(d);
	mc_config_free(&cfg);
	out->real_s = (double)(mc_real_now_ns() - t0) / 1e9;
	return out->ok;
}

static const struct mc_sim_guest_result *guest(const struct run *r, const char *name)
{
	for (size_t i = 0; i < r->res.nguests; i++)
		if (!strcmp(r->res.guests[i].name, name))
			return &r->res.guests[i];
	fprintf(stderr, "guest %s is not in the results\n", name);
	CHECK(!"guest in the results");
	return NULL;
}

static unsigned total_oom(const struct run *r)
{
	unsigned n = 0;

	for (size_t i = 0; i < r->res.nguests; i++)
		n += r->res.guests[i].oom_kills;
	return n;
}

static int64_t total_below_low_ms(const struct run *r)
{
	int64_t t = 0;

	for (size_t i = 0; i < r->res.nguests; i++)
		t += r->res.guests[i].below_low_ms;
	return t;
}

static uint64_t total_final_kib(const struct run *r)
{
	uint64_t t = 0;

	for (size_t i = 0; i < r->res.nguests; i++)
		t += r->res.guests[i].final_actual_kib;
	return t;
}

/* Memory the guests held, on average over the run (KiB): the balloons
 * integrated over time, divided by the simulated length. */
static uint64_t held_mean_kib(const struct run *r)
{
	uint64_t kib_s = 0;

	for (size_t i = 0; i < r->res.nguests; i++)
		kib_s += r->res.guests[i].held_kib_s;
	return r->res.duration_ms > 0 ? kib_s * 1000 / (uint64_t)r->res.duration_ms : 0;
}

/* The smallest final balloon (and whose). */
static uint64_t min_final_kib(const struct run *r, const char **who)
{
	uint64_t m = UINT64_MAX;

	*who = "-";
	for (size_t i = 0; i < r->res.nguests; i++)
		if (r->res.guests[i].final_actual_kib < m) {
			m = r->res.guests[i].final_actual_kib;
			*who = r->res.guests[i].name;
		}
	return m;
}

/* Every guest's figures, to read a failure without re-running. */
static void dump(const char *label, const struct run *r, size_t max_rows)
{
	printf("  %s [%s]: %.1f s real, %.0f s simulated, %zu guests, %u starts, %u stops, "
	       "host min free %.0f MiB (reserve %.0f MiB), %lu decisions, %lu applied\n",
	       label, r->policy, r->real_s, (double)r->res.duration_ms / 1000.0,
	       r->res.nguests, r->res.starts, r->res.stops,
	       TO_MIB(r->res.host_min_free_kib), TO_MIB(r->reserve_kib),
	       r->st.passes, r->st.applied);
	for (size_t i = 0; i < r->res.nguests && i < max_rows; i++) {
		const struct mc_sim_guest_result *g = &r->res.guests[i];

		printf("    %-12s oom %u  swapped %6.0f MiB  <low %6.1f s  moved %6.0f MiB  "
		       "peak %5.0f MiB  final %5.0f MiB  done %s\n",
		       g->name, g->oom_kills, TO_MIB(g->swapped_kib),
		       (double)g->below_low_ms / 1000.0, TO_MIB(g->moved_kib),
		       TO_MIB(g->peak_actual_kib), TO_MIB(g->final_actual_kib),
		       g->workload_done ? "yes" : "no");
	}
	fflush(stdout);
}

static char *shipped(const char *name)
{
	static char path[4][1024];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", scen_dir, name);
	return p;
}

/* The temporary directory, created on first use. */
static bool make_tmpdir(void)
{
	if (!have_tmpdir) {
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			return false;
		}
		have_tmpdir = true;
	}
	return true;
}

static char *tmp_path(const char *name)
{
	static char path[4][1024];
	static int next;
	char *p = path[next++ % 4];

	if (!make_tmpdir())
		return NULL;
	snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	return p;
}

/* Balloon changes the daemon made on `domain`, from its trace (the action
 * column: grow or shrink; skipped and failed ones counted apart), and the
 * times of the first `ntimes` changes (trace seconds) when times is given.
 * Returns the number of trace rows about the domain, or -1 if unreadable. */
static long trace_actions(const char *path, const char *domain, unsigned *changes,
			  unsigned *not_applied, double *times, size_t ntimes)
{
	char line[4096];
	long rows = 0;
	FILE *f = fopen(path, "r");

	*changes = *not_applied = 0;
	if (!f) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		/* time_s,domain,actual,usable,unused,target,action,reason */
		char *field[7];
		char *p = line;
		int n;

		for (n = 0; n < 7 && p; n++) {
			field[n] = p;
			p = strchr(p, ',');
			if (p)
				*p++ = '\0';
		}
		if (n < 7 || !p)
			continue;
		if (field[1][0] == '"') {       /* quoted name */
			size_t len = strlen(field[1]);

			if (len >= 2 && field[1][len - 1] == '"') {
				field[1][len - 1] = '\0';
				field[1]++;
			}
		}
		if (strcmp(field[1], domain))
			continue;
		rows++;
		if (!strcmp(field[6], "grow") || !strcmp(field[6], "shrink")) {
			if (times && *changes < ntimes)
				times[*changes] = strtod(field[0], NULL);
			(*changes)++;
		}
		else if (!strcmp(field[6], "skipped") || !strcmp(field[6], "failed"))
			(*not_applied)++;
	}
	fclose(f);
	return rows;
}

/* A copy of a shipped scenario with [sim] speed and duration replaced
 * (0: keep). Returns the copy's path, or NULL. */
static char *scenario_copy(const char *name, double speed, const char *duration)
{
	char *path = tmp_path(name);
	char line[4096];
	bool in_sim = false;
	FILE *in, *out;

	if (!path)
		return NULL;
	in = fopen(shipped(name), "r");
	if (!in) {
		perror(shipped(name));
		return NULL;
	}
	out = fopen(path, "w");
	if (!out) {
		perror(path);
		fclose(in);
		return NULL;
	}
	while (fgets(line, sizeof(line), in)) {
		const char *s = line + strspn(line, " \t");

		if (*s == '[') {
			in_sim = !strncasecmp(s, "[sim]", 5);
			fputs(line, out);
			if (in_sim) {
				if (speed > 0)
					fprintf(out, "speed = %g\n", speed);
				if (duration)
					fprintf(out, "duration = %s\n", duration);
			}
			continue;
		}
		if (in_sim && ((speed > 0 && !strncasecmp(s, "speed", 5)) ||
			       (duration && !strncasecmp(s, "duration", 8))))
			continue;
		fputs(line, out);
	}
	fclose(in);
	if (fclose(out) != 0) {
		perror(path);
		return NULL;
	}
	return path;
}

/* ---- the scenarios --------------------------------------------------------- */

/* one-hog: the hog is grown ahead of its demand, completes, and gives the
 * memory back after its free; the idle guests give memory back too. */
static void test_one_hog(void)
{
	struct run r;
	const struct mc_sim_guest_result *hog;
	const char *who;
	uint64_t minf;
	unsigned idle = 0;

	printf("one-hog.ini (balance):\n");
	if (!run_scenario(shipped("one-hog.ini"), "balance", NULL, &r)) {
		run_free(&r);
		return;
	}
	dump("one-hog", &r, 8);
	hog = guest(&r, "hog");
	if (hog) {
		printf("  hog: done %s, oom %u, below low %.1f s (< %.1f), peak %.0f MiB (> 1536), "
		       "final %.0f MiB (< 800)\n",
		       hog->workload_done ? "yes" : "no", hog->oom_kills,
		       (double)hog->below_low_ms / 1000.0, BELOW_LOW_TOL_MS / 1000.0,
		       TO_MIB(hog->peak_actual_kib), TO_MIB(hog->final_actual_kib));
		CHECK(hog->workload_done);
		CHECK(hog->oom_kills == 0);
		CHECK(hog->below_low_ms < BELOW_LOW_TOL_MS);
		CHECK(hog->peak_actual_kib > MIB(1536));
		CHECK(hog->final_actual_kib < MIB(800));
	}
	/* The idle guests boot at 512 MiB with about 250 MiB of it unused:
	 * each must end smaller, the memory back with the host. */
	for (size_t i = 0; i < r.res.nguests; i++) {
		const struct mc_sim_guest_result *g = &r.res.guests[i];

		if (strncmp(g->name, "idle", 4))
			continue;
		printf("  %s: final %.0f MiB (< boot 512), moved %.0f MiB (> 0)\n",
		       g->name, TO_MIB(g->final_actual_kib), TO_MIB(g->moved_kib));
		CHECK(g->final_actual_kib < MIB(512));
		CHECK(g->moved_kib > 0);
		idle++;
	}
	CHECK(idle == 3);
	minf = min_final_kib(&r, &who);
	printf("  all: oom %u (== 0), smallest final balloon %.0f MiB (%s, >= %.0f)\n",
	       total_oom(&r), TO_MIB(minf), who, TO_MIB(FLOOR_KIB));
	CHECK(total_oom(&r) == 0);
	CHECK(minf >= FLOOR_KIB);
	run_free(&r);
}

/* idle: memory goes back to the host, nobody below the floor. */
static void test_idle(void)
{
	/* idle.ini: [group:idle] count = 4, memory = 1G. */
	const uint64_t start_kib = 4 * GIB(1);
	struct run r;
	const char *who;
	uint64_t minf;

	printf("idle.ini (balance):\n");
	if (!run_scenario(shipped("idle.ini"), "balance", NULL, &r)) {
		run_free(&r);
		return;
	}
	dump("idle", &r, 8);
	minf = min_final_kib(&r, &who);
	printf("  guests %zu (== 4), final balloons %.0f MiB (< start %.0f MiB), "
	       "smallest %.0f MiB (%s, >= %.0f), oom %u (== 0)\n",
	       r.res.nguests, TO_MIB(total_final_kib(&r)), TO_MIB(start_kib),
	       TO_MIB(minf), who, TO_MIB(FLOOR_KIB), total_oom(&r));
	CHECK(r.res.nguests == 4);
	CHECK(total_final_kib(&r) < start_kib);
	CHECK(minf >= FLOOR_KIB);
	CHECK(total_oom(&r) == 0);
	run_free(&r);
}

/* shortage: the host reserve holds and the budget is respected. */
static void test_shortage(void)
{
	/* The host's lowest free memory is found exactly by the sim; allow a
	 * little for a grow decided on a reading a moment old. */
	const uint64_t tol_kib = MIB(16);
	struct run r;

	printf("shortage.ini (balance):\n");
	if (!run_scenario(shipped("shortage.ini"), "balance", NULL, &r)) {
		run_free(&r);
		return;
	}
	dump("shortage", &r, 8);
	printf("  host min free %.0f MiB (>= reserve %.0f - %.0f MiB), final balloons %.0f MiB "
	       "(<= budget %.0f MiB), oom %u (== 0)\n",
	       TO_MIB(r.res.host_min_free_kib), TO_MIB(r.reserve_kib), TO_MIB(tol_kib),
	       TO_MIB(total_final_kib(&r)), TO_MIB(r.res.budget_kib), total_oom(&r));
	CHECK(r.reserve_kib == (MIB(512) > r.res.host_total_kib / 50 ? MIB(512)
				: r.res.host_total_kib / 50));
	CHECK(r.res.host_min_free_kib + tol_kib >= r.reserve_kib);
	CHECK(r.res.budget_kib == GIB(3));
	CHECK(total_final_kib(&r) <= r.res.budget_kib);
	CHECK(total_oom(&r) == 0);
	run_free(&r);
}

/* stuck: the stuck balloon is not pushed again and again. docs/policy.md:
 * a balloon still off its last target is not pushed again until
 * `stuck_recheck` (60 s) after that change, and is reported stuck after
 * `stuck` (5 s). So, from the trace: after a change opens a window, no
 * change may come later than stuck + a little slack (by then the guest is
 * known stuck whatever the policy does with balloons in flight) and before
 * the recheck, which opens the next window. Re-setting it every decision
 * would restart the clock that finds it stuck. Nobody starves. */
static void test_stuck(void)
{
	const double stuck_s = MC_DEF_STUCK_MS / 1000.0;
	const double recheck_s = MC_DEF_STUCK_RECHECK_MS / 1000.0;
	const double slack_s = 1.5;     /* a decision and a stats period */
	static double times[4096];
	struct run r;
	const struct mc_sim_guest_result *g;
	char *trace = tmp_path("stuck.csv");
	unsigned changes = 0, not_applied = 0, windows = 0, while_stuck = 0;
	double window = 0, first_bad = -1, bad_window = 0;
	long rows;

	printf("stuck.ini (balance):\n");
	CHECK(trace != NULL);
	if (!trace || !run_scenario(shipped("stuck.ini"), "balance", trace, &r)) {
		run_free(&r);
		return;
	}
	dump("stuck", &r, 8);
	rows = trace_actions(trace, "stuck", &changes, &not_applied, times,
			     sizeof(times) / sizeof(times[0]));
	for (size_t i = 0; i < changes && i < sizeof(times) / sizeof(times[0]); i++) {
		/* The trace prints times to the millisecond: allow for it at the
		 * recheck boundary. */
		if (!windows || times[i] >= window + recheck_s - 0.01) {
			window = times[i];
			windows++;
		} else if (times[i] > window + stuck_s + slack_s) {
			if (!while_stuck) {
				first_bad = times[i];
				bad_window = window;
			}
			while_stuck++;
		}
	}
	g = guest(&r, "stuck");
	if (g) {
		printf("  stuck: moved %.0f MiB (<= 8); balloon changes asked %u in %u recheck "
		       "window(s), %u of them while it should be known stuck (== 0",
		       TO_MIB(g->moved_kib), changes, windows, while_stuck);
		if (while_stuck)
			printf("; the first at t = %.1f s, %.1f s after its window opened",
			       first_bad, first_bad - bad_window);
		printf("); %ld decisions traced, %u not applied; all: oom %u (== 0)\n",
		       rows, not_applied, total_oom(&r));
		CHECK(g->moved_kib <= MIB(8));
	}
	CHECK(rows > 0);
	CHECK(while_stuck == 0);
	CHECK(total_oom(&r) == 0);
	unlink(trace);
	run_free(&r);
}

/* liar: the starving liar is never grown past its maximum; the others
 * are not OOM-killed. */
static void test_liar(void)
{
	/* liar.ini: [defaults] max = 2G. */
	const uint64_t max_kib = GIB(2);
	struct run r;
	const struct mc_sim_guest_result *g, *j;
	unsigned others = 0;

	printf("liar.ini (balance):\n");
	if (!run_scenario(shipped("liar.ini"), "balance", NULL, &r)) {
		run_free(&r);
		return;
	}
	dump("liar", &r, 8);
	g = guest(&r, "starving");
	j = guest(&r, "junk");
	for (size_t i = 0; i < r.res.nguests; i++)
		if (strcmp(r.res.guests[i].name, "starving") && strcmp(r.res.guests[i].name, "junk"))
			others += r.res.guests[i].oom_kills;
	if (g && j) {
		printf("  starving: peak %.0f MiB (<= max %.0f); junk: peak %.0f MiB (<= max %.0f); "
		       "honest guests oom %u (== 0)\n",
		       TO_MIB(g->peak_actual_kib), TO_MIB(max_kib),
		       TO_MIB(j->peak_actual_kib), TO_MIB(max_kib), others);
		CHECK(g->peak_actual_kib <= max_kib);
		CHECK(j->peak_actual_kib <= max_kib);
	}
	CHECK(others == 0);
	run_free(&r);
}

/* nostats: the silent guest is left alone: its balloon never moves and
 * the daemon never asks it to. */
static void test_nostats(void)
{
	struct run r;
	const struct mc_sim_guest_result *g;
	char *trace = tmp_path("nostats.csv");
	unsigned changes = 0, not_applied = 0;
	long rows;

	printf("nostats.ini (balance):\n");
	CHECK(trace != NULL);
	if (!trace || !run_scenario(shipped("nostats.ini"), "balance", trace, &r)) {
		run_free(&r);
		return;
	}
	dump("nostats", &r, 8);
	rows = trace_actions(trace, "silent", &changes, &not_applied, NULL, 0);
	g = guest(&r, "silent");
	if (g) {
		printf("  silent: moved %.0f MiB (== 0), final %.0f MiB, balloon changes asked %u "
		       "(== 0, %ld rows traced, %u not applied); all: oom %u (== 0)\n",
		       TO_MIB(g->moved_kib), TO_MIB(g->final_actual_kib), changes, rows,
		       not_applied, total_oom(&r));
		CHECK(g->moved_kib == 0);
	}
	CHECK(rows >= 0);
	CHECK(changes == 0 && not_applied == 0);
	CHECK(total_oom(&r) == 0);
	unlink(trace);
	run_free(&r);
}

/* churn: hundreds of starts and stops, shortened (20 s simulated, 2,000
 * guests) so that it stays quick under ASan; no crash, no leak (ASan), the
 * steady guests not OOM-killed. */
static void test_churn(void)
{
	struct run r;
	char *path = scenario_copy("churn.ini", 0, "20s");

	printf("churn.ini, shortened to 20 s (balance):\n");
	CHECK(path != NULL);
	if (!path)
		return;
	if (!run_scenario(path, "balance", NULL, &r)) {
		run_free(&r);
		return;
	}
	dump("churn", &r, 2);
	printf("  starts %u (>= 1000), stops %u (>= 500), simulated %.1f s (>= 19.9), oom %u (== 0)\n",
	       r.res.starts, r.res.stops, (double)r.res.duration_ms / 1000.0, total_oom(&r));
	CHECK(r.res.starts >= 1000);
	CHECK(r.res.stops >= 500);
	CHECK(r.res.duration_ms >= 19900);
	CHECK(total_oom(&r) == 0);
	unlink(path);
	run_free(&r);
}

/* seed vs balance: balance kills no more, starves no longer, and holds no
 * more memory on average, over `runs` pairs of runs. */
#define COMPARE_NOISE_MS 1000
static void test_compare(const char *name, int runs)
{
	unsigned oom_seed = 0, oom_bal = 0;
	int64_t low_seed = 0, low_bal = 0;
	uint64_t held_seed = 0, held_bal = 0;
	bool ok = true;

	printf("%s: seed vs balance, %d pair(s) of runs:\n", name, runs);
	for (int i = 0; i < runs && ok; i++) {
		struct run seed, bal;

		ok = run_scenario(shipped(name), "seed", NULL, &seed);
		ok = run_scenario(shipped(name), "balance", NULL, &bal) && ok;
		if (ok) {
			dump(name, &seed, 8);
			dump(name, &bal, 8);
			printf("  pair %d: below low seed %.1f s, balance %.1f s; held seed %.0f MiB, "
			       "balance %.0f MiB\n", i + 1,
			       (double)total_below_low_ms(&seed) / 1000.0,
			       (double)total_below_low_ms(&bal) / 1000.0,
			       TO_MIB(held_mean_kib(&seed)), TO_MIB(held_mean_kib(&bal)));
			oom_seed += total_oom(&seed);
			oom_bal += total_oom(&bal);
			low_seed += total_below_low_ms(&seed);
			low_bal += total_below_low_ms(&bal);
			held_seed += held_mean_kib(&seed);
			held_bal += held_mean_kib(&bal);
		}
		run_free(&seed);
		run_free(&bal);
	}
	CHECK(ok);
	if (!ok)
		return;
	/* The clock runs 20x real time, so 50 ms of scheduling delay on a
	 * loaded 2-core machine (ASan, parallel builds) is one simulated
	 * second: a guest may brush its low watermark for a sample or two in
	 * either run. Balance must not starve longer than the seed beyond
	 * that noise. Where both spend a few seconds at most (one-hog, demo)
	 * a single pair decides little: seed's usual 2.3-13.8 s on demo was
	 * 0.0 s in one clean-clone CI run, against balance's 1.4 s (its
	 * range 0-2.9 s over 11 runs); those are judged over three pairs. */
	printf("  total: oom seed %u, balance %u (balance <= seed); below low: seed %.1f s, "
	       "balance %.1f s (balance <= seed + %d x %.1f s noise)\n",
	       oom_seed, oom_bal, (double)low_seed / 1000.0, (double)low_bal / 1000.0, runs,
	       (double)COMPARE_NOISE_MS / 1000.0);
	/* ... and without holding more memory for it. Balance's mean sum of
	 * balloons is 10 - 20% below seed's on one-hog, all-hog and demo,
	 * but only about 1% on release (both keep the host near its reserve
	 * there): within 2% is a tie. */
	printf("  memory held, mean: seed %.0f MiB, balance %.0f MiB (balance <= seed + 2%%)\n",
	       TO_MIB(held_seed / (uint64_t)runs), TO_MIB(held_bal / (uint64_t)runs));
	CHECK(oom_bal <= oom_seed);
	CHECK(low_bal <= low_seed + (int64_t)runs * COMPARE_NOISE_MS);
	CHECK(held_bal <= held_seed + held_seed / 50);
}

static void test_compare_one_hog(void)
{
	test_compare("one-hog.ini", 3);
}

static void test_compare_all_hog(void)
{
	test_compare("all-hog.ini", 1);
}

static void test_compare_release(void)
{
	test_compare("release.ini", 1);
}

static void test_compare_demo(void)
{
	test_compare("demo.ini", 3);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{"one-hog", test_one_hog},
	{"idle", test_idle},
	{"shortage", test_shortage},
	{"stuck", test_stuck},
	{"liar", test_liar},
	{"nostats", test_nostats},
	{"churn", test_churn},
	{"compare-one-hog", test_compare_one_hog},
	{"compare-all-hog", test_compare_all_hog},
	{"compare-release", test_compare_release},
	{"compare-demo", test_compare_demo},
};

/* test_scenarios SCENARIO_DIR [TEST...]: all tests, or the ones named. */
int main(int argc, char **argv)
{
	int64_t t0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SCENARIO_DIR [TEST...]\n", argv[0]);
		return 2;
	}
	scen_dir = argv[1];
	/* One stream, so that failed checks and the daemon's warnings come in
	 * order with the figures. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
		perror("dup2");
	/* Every balloon change is logged at info: keep warnings and errors. */
	mc_log_set_level(MC_LOG_WARNING);

	rcu_register_thread();
	/* Start liburcu's call_rcu worker from here (see src/main.c). */
	(void)get_default_call_rcu_data();
	t0 = mc_real_now_ns();

	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		bool run = argc < 3;

		for (int k = 2; k < argc; k++)
			run = run || !strcmp(argv[k], tests[i].name);
		if (run)
			tests[i].fn();
	}

	rcu_unregister_thread();
	if (have_tmpdir)
		rmdir(tmpdir);
	printf("scenarios: %.1f s real, %d check(s) failed\n",
	       (double)(mc_real_now_ns() - t0) / 1e9, check_failures);
	return check_failures ? 1 : 0;
}
