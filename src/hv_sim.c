/* memcoord — the simulated host: a backend behind struct mc_hv_ops whose
 * guests follow a small memory model and scripted workloads read from a
 * scenario file (format and model: docs/scenarios.md).
 *
 * Time: everything runs on memcoord's clock, mc_now_ns(), which an
 * accelerated run speeds up for the whole process. Simulated time is
 * "ns since ops->start", clamped to the scenario's duration (the scenario
 * stands still after its end) and frozen by ops->stop.
 *
 * The model advances lazily: every access to a guest first integrates its
 * state from the guest's model time to now, in steps of at most
 * SIM_STEP_NS, so rates stay honest however rarely a guest is looked at.
 * Guest statistics are a snapshot taken at each stats period boundary (the
 * guest refreshes them like a real balloon driver); `actual` is read fresh
 * from the host side, as QEMU does.
 *
 * The balloon follows a closed form: from a0 at t0 it moves toward its
 * effective target at a constant rate. That lets the host's free memory be
 * computed exactly at any instant without touching the guests' models, and
 * its minimum found between two evaluations (the sum of balloons is piecewise
 * linear; its peaks are at the instants balloons reach their targets, kept
 * in a heap).
 *
 * Threads and locks:
 *  - callers (collectors, arbiter, main) run the ops concurrently. Each guest
 *    has its own mutex (g->lock) protecting its model; the balloon fields
 *    (b_*) are written only with both g->lock and hlock held, so either lock
 *    suffices to read them.
 *  - hlock protects the host accounting: the sum of settled balloons and the
 *    list of moving ones. Order: g->lock -> hlock.
 *  - the sim thread walks the timeline (starts, stops, the end) and delivers
 *    events; it holds no lock while calling back.
 *  - rlock serialises mc_hv_sim_result.
 * Guests are never freed before destroy, so a handle or a lookup result
 * stays valid; a stopped guest answers -ENOENT.
 */
#include "memcoord/errlist.h"
#include "memcoord/sim.h"

#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "memcoord/hv.h"
#include "memcoord/log.h"
#include "memcoord/util.h"

/* ---- tunables ------------------------------------------------------------ */

/* Integration step: fine enough that a 256 MiB/s balloon moves at most
 * 25.6 MiB between two looks at the guest's pressure. */
#define SIM_STEP_NS (100 * MC_NS_PER_MS)

#define KIB_PER_MIB ((uint64_t)1024)
#define KIB_PER_GIB ((uint64_t)1024 * 1024)

#define DEF_SPEED 1.0                          /* real time unless asked */
#define MAX_SPEED 1000.0
#define DEF_DURATION_NS (600 * MC_NS_PER_S)
#define MAX_TIME_NS (7 * 86400 * MC_NS_PER_S)  /* a week of simulated time */
#define DEF_PERIOD_S 1                         /* guest stats period */
#define MAX_PERIOD_S 3600
#define DEF_HOST_KIB (16 * KIB_PER_GIB)
#define DEF_OVERHEAD_KIB (1 * KIB_PER_GIB)     /* the host's own use */
#define MAX_MEM_KIB (64 * 1024 * KIB_PER_GIB)  /* 64 TiB */

#define DEF_MAX_KIB (2 * KIB_PER_GIB)
#define DEF_SWAP_KIB (1 * KIB_PER_GIB)
#define DEF_BALLOON_RATE_KIB_S (256 * KIB_PER_MIB)
#define DEF_CACHE_KIB (64 * KIB_PER_MIB)
#define DEF_LIFETIME_NS (10 * MC_NS_PER_S)     /* churn guests */
/* Guest kernel overhead when not given: 5% of max, at least 48 MiB. */
#define KERNEL_PCT 5
#define KERNEL_MIN_KIB (48 * KIB_PER_MIB)

/* Page cache refills free memory toward its target at this rate. */
#define CACHE_GROW_KIB_S (20.0 * KIB_PER_MIB)
/* An active workload touches its swapped memory: 10% of it per second
 * faults back in (at least 8 MiB/s), pushing other pages out if there is
 * no room: a squeezed, busy guest thrashes. */
#define REFAULT_FRAC_S 0.10
#define REFAULT_MIN_KIB_S (8.0 * KIB_PER_MIB)
#define PAGE_KIB 4.0
#define MINOR_BASE_S 200.0                     /* background minor faults/s */
/* Below this much unmet demand (KiB) rounding is not a shortage. */
#define EPS_KIB 1.0

#define LIAR_STARVING_KIB (10 * KIB_PER_MIB)
/* last_update looks like a Unix timestamp: this base + simulated seconds. */
#define LAST_UPDATE_EPOCH 1700000000ULL

#define MAX_GUESTS 100000          /* all guests of a scenario, churn included */
#define MAX_PHASES 256             /* per workload */
#define MAX_TRANSITIONS 64         /* phase changes within one step */
#define THREAD_STACK_BYTES (256 * 1024)
#define SHOW_LEN 48                /* at most this much of a bad value is echoed */

/* ---- the scenario --------------------------------------------------------- */

enum ph_kind {
	PH_IDLE, PH_WAIT, PH_HOLD, PH_ALLOC, PH_FREE, PH_RELEASE,
	PH_PERIODIC, PH_RANDOMWALK, PH_CACHE, PH_LOOP,
};

struct phase {
	enum ph_kind kind;
	int line;
	bool full;            /* alloc ... until full */
	int64_t dur_ns;       /* wait, hold; periodic/randomwalk "for T" (0: endless) */
	int64_t period_ns;    /* periodic, randomwalk */
	double rate;          /* KiB/s: alloc; free RATE (0: at once) */
	double a, b, c;       /* KiB: alloc/release/cache size; periodic low, high;
			       * randomwalk step, max */
};

enum liar { LIAR_NO, LIAR_STARVING, LIAR_IDLE, LIAR_JUNK };

enum skind { SK_SIM, SK_HOST, SK_DEFAULTS, SK_GUEST, SK_GROUP, SK_CHURN, SK_COUNT,
	     SK_NONE, SK_INVALID };

static const char *const skind_names[SK_COUNT] = {
	"sim", "host", "defaults", "guest", "group", "churn",
};

enum key {
	K_SPEED, K_DURATION, K_SEED, K_PERIOD,
	K_HMEMORY, K_OVERHEAD, K_BUDGET,
	K_MAX, K_MEMORY, K_KERNEL, K_SWAP, K_BRATE, K_RSS, K_CACHE, K_WORKLOAD,
	K_STUCK, K_NOSTATS, K_LIAR, K_BALLOON, K_PAUSED, K_MINGUAR,
	K_START, K_STOP, K_COUNT, K_STAGGER, K_RATE, K_LIFETIME, K_FROM, K_UNTIL,
	K_NKEYS
};

#define SEC(k) (1u << (k))
#define SEC_GUESTLIKE (SEC(SK_DEFAULTS) | SEC(SK_GUEST) | SEC(SK_GROUP) | SEC(SK_CHURN))

static const struct {
	const char *name;
	unsigned sections;
} keydefs[K_NKEYS] = {
	[K_SPEED] = {"speed", SEC(SK_SIM)},
	[K_DURATION] = {"duration", SEC(SK_SIM)},
	[K_SEED] = {"seed", SEC(SK_SIM)},
	[K_PERIOD] = {"period", SEC(SK_SIM)},
	[K_HMEMORY] = {"memory", SEC(SK_HOST)},
	[K_OVERHEAD] = {"overhead", SEC(SK_HOST)},
	[K_BUDGET] = {"budget", SEC(SK_HOST)},
	[K_MAX] = {"max", SEC_GUESTLIKE},
	[K_MEMORY] = {"memory", SEC_GUESTLIKE},
	[K_KERNEL] = {"kernel", SEC_GUESTLIKE},
	[K_SWAP] = {"swap", SEC_GUESTLIKE},
	[K_BRATE] = {"balloon_rate", SEC_GUESTLIKE},
	[K_RSS] = {"rss", SEC_GUESTLIKE},
	[K_CACHE] = {"cache", SEC_GUESTLIKE},
	[K_WORKLOAD] = {"workload", SEC_GUESTLIKE},
	[K_STUCK] = {"stuck", SEC_GUESTLIKE},
	[K_NOSTATS] = {"nostats", SEC_GUESTLIKE},
	[K_LIAR] = {"liar", SEC_GUESTLIKE},
	[K_BALLOON] = {"balloon", SEC_GUESTLIKE},
	[K_PAUSED] = {"paused", SEC_GUESTLIKE},
	[K_MINGUAR] = {"min_guarantee", SEC_GUESTLIKE},
	[K_START] = {"start", SEC(SK_GUEST) | SEC(SK_GROUP)},
	[K_STOP] = {"stop", SEC(SK_GUEST) | SEC(SK_GROUP)},
	[K_COUNT] = {"count", SEC(SK_GROUP)},
	[K_STAGGER] = {"stagger", SEC(SK_GROUP)},
	[K_RATE] = {"rate", SEC(SK_CHURN)},
	[K_LIFETIME] = {"lifetime", SEC(SK_CHURN)},
	[K_FROM] = {"from", SEC(SK_CHURN)},
	[K_UNTIL] = {"until", SEC(SK_CHURN)},
};

/* A [guest:], [group:] or [churn] section (or [defaults]): the settings
 * shared by its instances. */
struct spec {
	enum skind kind;
	char name[MC_NAME_LEN];            /* guest name, or the instances' prefix */
	char secname[MC_NAME_LEN + 16];    /* "guest:web", for messages */
	int line;                          /* of the section header */
	int keyline[K_NKEYS];              /* line each key was set on, 0: unset */

	uint64_t max_kib, mem_kib, kernel_kib, swap_kib, brate_kib_s;
	uint64_t rss_kib, cache_kib, minguar_kib;
	bool stuck, nostats, balloon, paused;
	enum liar liar;
	struct phase *ph;
	size_t nph, cph;

	int64_t start_ns, stop_ns, stagger_ns, lifetime_ns, from_ns, until_ns;
	uint64_t count;
	double rate;                       /* churn: starts per second */
	size_t first, n;                   /* its instances in sim.g */
	bool bad;                          /* a value of it was rejected */
};

/* ---- guests ---------------------------------------------------------------- */

enum gstate { GS_PENDING, GS_RUNNING, GS_GONE };

/* What the guest last told the host (refreshed every stats period). */
struct snap {
	uint64_t unused, usable, total, caches;
	uint64_t swap_in, swap_out, major, minor, last_update;
};

struct guest {
	pthread_mutex_t lock;
	const struct spec *sp;
	uint8_t uuid[MC_UUID_LEN];
	atomic_int state;                  /* enum gstate */
	int64_t start_ns, stop_ns;         /* stop -1: runs to the end */
	struct mc_sim_guest_result res;    /* name; counts kept here */

	/* Balloon (see the top comment for locking): actual(t) moves from b_a0
	 * at b_t0 toward b_teff at b_rate KiB/ns. */
	uint64_t target_kib;               /* as set (dom_info cur_kib) */
	double b_a0, b_teff, b_rate;
	int64_t b_t0;
	bool b_moving;                     /* in the host's heap of moving balloons (hlock) */
	size_t b_mv;                       /* its index there (hlock) */
	int64_t b_reach;                   /* when it arrives (hlock, while moving) */

	/* Model, under lock. KiB; counters in KiB or pages. */
	int64_t t;                         /* model time, sim ns */
	double a;                          /* actual at t */
	double rss;                        /* workload memory, swapped part included */
	double swapped;                    /* part of rss in swap */
	double cache, cache_target;
	double sw_in, sw_out, major, minor;
	double moved, below_ns, held;   /* held: KiB x seconds of balloon */
	size_t phase;
	int64_t ph_ns;                     /* time spent in the current phase */
	uint64_t rng;                      /* randomwalk */
	uint64_t lrng;                     /* liar: junk */
	bool killed, finished;
	int period_s;
	int64_t next_snap;                 /* -1: statistics not refreshed */
	struct snap snap;
};

struct event {
	int64_t t;
	uint32_t gi;
	bool stop;
};

struct sim {
	struct mc_hv hv;
	char *path;

	/* scenario */
	double speed;
	int64_t duration_ns;
	uint64_t seed;
	int period_s;
	uint64_t host_kib, overhead_kib, budget_kib, low_kib;
	int glob_line[K_NKEYS];            /* [sim]/[host] keys: line set on */
	struct spec defaults;
	struct spec *specs;
	size_t nspecs;

	struct guest *g;
	size_t ng;
	struct guest **by_uuid;            /* sorted by UUID */
	struct event *ev;
	size_t nev, ev_next;               /* ev_next: the sim thread's */

	/* timeline */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;                     /* under lock */
	bool thread_running;               /* owner-only */
	pthread_t thread;
	atomic_bool started, stop_flag;
	int64_t t0;                        /* mc_now_ns() at start */
	_Atomic int64_t freeze_ns;         /* sim time never passes this */
	atomic_uint starts, stops;

	/* host accounting, under hlock */
	pthread_mutex_t hlock;
	double settled;                    /* sum of balloons at rest */
	struct guest **mv;                 /* moving balloons, a heap by arrival */
	size_t nmv, cmv;
	double mv_c, mv_slope;             /* their sum is mv_c + mv_slope * t */
	int64_t h_last;                    /* time of the last evaluation */
	double h_sum;                      /* sum of balloons at h_last */
	uint64_t min_free;

	/* results, under rlock */
	pthread_mutex_t rlock;
	struct mc_sim_result result;
	struct mc_sim_guest_result *rg;
	size_t crg;
};

/* ---- small helpers --------------------------------------------------------- */

static double dabs(double x)
{
	return x < 0 ? -x : x;
}

static double dmin(double a, double b)
{
	return a < b ? a : b;
}

static double dmax(double a, double b)
{
	return a > b ? a : b;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_double(uint64_t *x)
{
	return (double)(splitmix64(x) >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* A UUID that depends on the name only (the same guest has the same UUID in
 * every run and under every policy), in the version-4 layout. */
static void name_uuid(const char *name, uint8_t uuid[MC_UUID_LEN])
{
	uint64_t x = fnv1a(name, 0xcbf29ce484222325ULL);
	uint64_t hi = splitmix64(&x), lo = splitmix64(&x);

	for (int i = 0; i < 8; i++) {
		uuid[i] = (uint8_t)(hi >> (56 - 8 * i));
		uuid[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
	}
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
}

static int64_t sim_now(struct sim *s)
{
	int64_t t, lim;

	if (!atomic_load(&s->started))
		return 0;
	t = mc_now_ns() - s->t0;
	lim = atomic_load(&s->freeze_ns);
	if (t > lim)
		t = lim;
	return t < 0 ? 0 : t;
}

/* ---- errors of the scenario file ------------------------------------------ */

/* LINE of "PATH:LINE: ..."; 0 for messages without one. */
static long err_line(const char *l, const char *path)
{
	size_t pl = strlen(path);

	if (strncmp(l, path, pl) || l[pl] != ':')
		return 0;
	return strtol(l + pl + 1, NULL, 10);
}

/* Problems in file order (the cross-field checks run after the parse). */
static void errlist_sort(struct mc_errlist *e, const char *path)
{
	char *copy, **lines, *save = NULL, *l;
	size_t n = 0, k = 0, o = 0;

	if (!e->buf || !e->len)
		return;
	for (size_t i = 0; i < e->len; i++)
		n += e->buf[i] == '\n';
	n++;
	copy = strdup(e->buf);
	lines = calloc(n, sizeof(*lines));
	if (!copy || !lines)
		goto out;
	for (l = strtok_r(copy, "\n", &save); l && k < n; l = strtok_r(NULL, "\n", &save))
		lines[k++] = l;
	for (size_t i = 1; i < k; i++) {   /* insertion sort: stable, few lines */
		char *x = lines[i];
		size_t j = i;

		for (; j > 0 && err_line(lines[j - 1], path) > err_line(x, path); j--)
			lines[j] = lines[j - 1];
		lines[j] = x;
	}
	/* A [defaults] problem is found once per section that inherits it. */
	for (size_t i = 0; i < k; i++)
		if (!i || strcmp(lines[i], lines[i - 1]))
			o += (size_t)snprintf(e->buf + o, e->cap - o, "%s%s", o ? "\n" : "",
					      lines[i]);
out:
	free(copy);
	free(lines);
}


/* A value from the file, safe to echo: printable, and not too long. */
static const char *show(const char *s, char out[SHOW_LEN + 4])
{
	size_t i;

	for (i = 0; s[i] && i < SHOW_LEN; i++)
		out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (s[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

/* ---- values ---------------------------------------------------------------- */

static const char *skip_spaces(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A decimal "12", "1.5" or ".5" (no sign, no exponent). Returns the end, or
 * NULL without a digit or when absurdly large. */
static const char *parse_decimal(const char *s, double *v)
{
	const char *p = s;
	double x = 0, scale = 1;
	bool digits = false;

	for (; *p >= '0' && *p <= '9'; p++, digits = true)
		x = x * 10 + (*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits = true) {
			scale /= 10;
			x += (*p - '0') * scale;
		}
	if (!digits || x > 1e18)
		return NULL;
	*v = x;
	return p;
}

enum per_s { PS_NO, PS_OPTIONAL, PS_REQUIRED };

/* Memory: a bare number is MiB; K, M, G, T (optionally "iB" or "B") are
 * binary units; rounded to whole KiB. With a rate, "/s" follows. */
static int parse_mem(const char *s, enum per_s ps, uint64_t *kib)
{
	double v, mult = KIB_PER_MIB;
	const char *p = parse_decimal(s, &v);

	if (!p)
		return -EINVAL;
	p = skip_spaces(p);
	switch (*p) {
	case 'k': case 'K': mult = 1; p++; break;
	case 'm': case 'M': mult = KIB_PER_MIB; p++; break;
	case 'g': case 'G': mult = KIB_PER_GIB; p++; break;
	case 't': case 'T': mult = 1024.0 * KIB_PER_GIB; p++; break;
	default: break;
	}
	if (p > s && strchr("kKmMgGtT", p[-1])) {
		if (strncasecmp(p, "ib", 2) == 0)
			p += 2;
		else if (*p == 'b' || *p == 'B')
			p++;
	}
	if (ps != PS_NO && strncmp(p, "/s", 2) == 0)
		p += 2;
	else if (ps == PS_REQUIRED)
		return -EINVAL;
	if (*p)
		return -EINVAL;
	v *= mult;
	if (v > (double)MAX_MEM_KIB)
		return -ERANGE;
	*kib = (uint64_t)(v + 0.5);
	return 0;
}

/* Time: a bare number is seconds; units ms, s, m (or min), h. */
static int parse_time(const char *s, int64_t *ns)
{
	double v, mult = (double)MC_NS_PER_S;
	const char *p = parse_decimal(s, &v);

	if (!p)
		return -EINVAL;
	p = skip_spaces(p);
	if (strcmp(p, "ms") == 0)
		mult = (double)MC_NS_PER_MS;
	else if (strcmp(p, "s") == 0 || *p == '\0')
		mult = (double)MC_NS_PER_S;
	else if (strcmp(p, "m") == 0 || strcmp(p, "min") == 0)
		mult = 60.0 * MC_NS_PER_S;
	else if (strcmp(p, "h") == 0)
		mult = 3600.0 * MC_NS_PER_S;
	else
		return -EINVAL;
	v *= mult;
	if (v > (double)MAX_TIME_NS)
		return -ERANGE;
	*ns = (int64_t)(v + 0.5);
	return 0;
}

static int parse_bool(const char *s, bool *b)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *b = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *b = false, 0;
	}
	return -EINVAL;
}

static int parse_double(const char *s, double *v)
{
	const char *p = parse_decimal(s, v);

	return p && !*p ? 0 : -EINVAL;
}

/* "512M" */
static const char *fmt_kib(uint64_t kib, char buf[32])
{
	if (kib && kib % KIB_PER_GIB == 0)
		snprintf(buf, 32, "%" PRIu64 "G", kib / KIB_PER_GIB);
	else if (kib % KIB_PER_MIB == 0)
		snprintf(buf, 32, "%" PRIu64 "M", kib / KIB_PER_MIB);
	else
		snprintf(buf, 32, "%.1fM", (double)kib / KIB_PER_MIB);
	return buf;
}

/* ---- workload phases --------------------------------------------------------- */

#define MEM_HINT "a size such as 512M or 1.5G; a bare number is MiB"
#define MEM_HINT_POS "a size above 0 such as 512M or 1.5G; a bare number is MiB"
#define RATE_HINT "a rate such as 20M/s"
#define TIME_HINT "a time such as 30s, 500ms or 2m; a bare number is seconds"
#define TIME_HINT_POS "a time above 0 such as 30s, 500ms or 2m; a bare number is seconds"

/* One phase from its words; on error a message in msg. */
static int parse_phase(char **w, int n, struct phase *p, char *msg, size_t len)
{
	const char *k = w[0];
	uint64_t x, y, z;
	int64_t t;

	memset(p, 0, sizeof(*p));
	if (!strcasecmp(k, "idle") || !strcasecmp(k, "loop")) {
		p->kind = !strcasecmp(k, "idle") ? PH_IDLE : PH_LOOP;
		if (n != 1)
			goto syntax;
		return 0;
	}
	if (!strcasecmp(k, "wait") || !strcasecmp(k, "hold")) {
		p->kind = !strcasecmp(k, "wait") ? PH_WAIT : PH_HOLD;
		if (n != 2)
			goto syntax;
		if (parse_time(w[1], &p->dur_ns) < 0) {
			snprintf(msg, len, "%s: bad time '%s' (expected %s)", k, w[1], TIME_HINT);
			return -EINVAL;
		}
		return 0;
	}
	if (!strcasecmp(k, "alloc")) {
		p->kind = PH_ALLOC;
		if (n != 4)
			goto syntax;
		if (parse_mem(w[1], PS_REQUIRED, &x) < 0 || x == 0) {
			snprintf(msg, len, "alloc: bad rate '%s' (expected %s)", w[1], RATE_HINT);
			return -EINVAL;
		}
		p->rate = (double)x;
		if (!strcasecmp(w[2], "until") && !strcasecmp(w[3], "full")) {
			p->full = true;
			return 0;
		}
		if (strcasecmp(w[2], "to"))
			goto syntax;
		if (parse_mem(w[3], PS_NO, &y) < 0) {
			snprintf(msg, len, "alloc: bad size '%s' (expected %s)", w[3], MEM_HINT);
			return -EINVAL;
		}
		p->a = (double)y;
		return 0;
	}
	if (!strcasecmp(k, "free")) {
		p->kind = PH_FREE;
		if (n == 1)
			return 0;
		if (n != 2)
			goto syntax;
		if (parse_mem(w[1], PS_REQUIRED, &x) < 0 || x == 0) {
			snprintf(msg, len, "free: bad rate '%s' (expected %s)", w[1], RATE_HINT);
			return -EINVAL;
		}
		p->rate = (double)x;
		return 0;
	}
	if (!strcasecmp(k, "release") || !strcasecmp(k, "cache")) {
		p->kind = !strcasecmp(k, "release") ? PH_RELEASE : PH_CACHE;
		if (n != 2)
			goto syntax;
		if (parse_mem(w[1], PS_NO, &x) < 0) {
			snprintf(msg, len, "%s: bad size '%s' (expected %s)", k, w[1], MEM_HINT);
			return -EINVAL;
		}
		p->a = (double)x;
		return 0;
	}
	if (!strcasecmp(k, "periodic") || !strcasecmp(k, "randomwalk")) {
		bool per = !strcasecmp(k, "periodic");

		p->kind = per ? PH_PERIODIC : PH_RANDOMWALK;
		if (n != 4 && !(n == 6 && !strcasecmp(w[4], "for")))
			goto syntax;
		if (parse_mem(w[1], PS_NO, &x) < 0) {
			snprintf(msg, len, "%s: bad size '%s' (expected %s)", k, w[1], MEM_HINT);
			return -EINVAL;
		}
		if (per ? parse_mem(w[2], PS_NO, &y) < 0 : parse_time(w[2], &t) < 0) {
			snprintf(msg, len, "%s: bad %s '%s' (expected %s)", k, per ? "size" : "time",
				 w[2], per ? MEM_HINT : TIME_HINT);
			return -EINVAL;
		}
		if (per ? parse_time(w[3], &t) < 0 : parse_mem(w[3], PS_NO, &z) < 0) {
			snprintf(msg, len, "%s: bad %s '%s' (expected %s)", k, per ? "time" : "size",
				 w[3], per ? TIME_HINT : MEM_HINT);
			return -EINVAL;
		}
		if (n == 6 && (parse_time(w[5], &p->dur_ns) < 0 || p->dur_ns == 0)) {
			snprintf(msg, len, "%s: bad time after 'for': '%s' (expected %s)", k, w[5],
				 TIME_HINT);
			return -EINVAL;
		}
		p->period_ns = t;
		if (t <= 0) {
			snprintf(msg, len, "%s: the period must be above 0", k);
			return -EINVAL;
		}
		if (per) {
			p->a = (double)x;
			p->b = (double)y;
			if (x >= y) {
				snprintf(msg, len, "periodic: LOW (%s) must be below HIGH (%s)", w[1], w[2]);
				return -EINVAL;
			}
		} else {
			p->a = (double)x;
			p->b = (double)z;
			if (x == 0 || z == 0) {
				snprintf(msg, len, "randomwalk: STEP and MAX must be above 0");
				return -EINVAL;
			}
		}
		return 0;
	}
	snprintf(msg, len, "unknown phase '%s' (known: idle, wait, hold, alloc, free, release,"
		 " periodic, randomwalk, cache, loop)", k);
	return -EINVAL;

syntax:
	{
		static const struct { enum ph_kind k; const char *usage; } usage[] = {
			{PH_IDLE, "idle"}, {PH_LOOP, "loop"}, {PH_WAIT, "wait TIME"},
			{PH_HOLD, "hold TIME"},
			{PH_ALLOC, "alloc RATE to SIZE, or alloc RATE until full"},
			{PH_FREE, "free, or free RATE"}, {PH_RELEASE, "release SIZE"},
			{PH_CACHE, "cache SIZE"},
			{PH_PERIODIC, "periodic LOW HIGH PERIOD [for TIME]"},
			{PH_RANDOMWALK, "randomwalk STEP PERIOD MAX [for TIME]"},
		};
		for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++)
			if (usage[i].k == p->kind)
				snprintf(msg, len, "expected '%s'", usage[i].usage);
	}
	return -EINVAL;
}

/* Does the phase let time pass (so that a loop cannot spin)? */
static bool phase_takes_time(const struct phase *p)
{
	switch (p->kind) {
	case PH_WAIT: case PH_HOLD: return p->dur_ns > 0;
	case PH_ALLOC: return true;
	case PH_FREE: return p->rate > 0;
	case PH_PERIODIC: case PH_RANDOMWALK: return true;
	default: return false;
	}
}

static bool phase_endless(const struct phase *p)
{
	return (p->kind == PH_PERIODIC || p->kind == PH_RANDOMWALK) && p->dur_ns == 0;
}

/* ---- the loader -------------------------------------------------------------- */

struct loader {
	struct sim *s;
	const char *path;
	FILE *f;
	struct mc_errlist e;
	bool nomem;

	char *buf;                  /* getline's */
	size_t bufcap;
	int lineno;

	int pending_line;           /* a key line handed to inih, 0: none */
	bool pending_seen;          /* inih called the handler for it */
	char pending_text[SHOW_LEN + 4];

	enum skind sect;
	ssize_t spec;               /* index into s->specs (guest, group, churn) */
	char secname[MC_NAME_LEN + 16];
	bool in_workload;           /* an indented line continues a workload */
};

#define FILE_ERR(ld, ...) mc_errlist_add(&(ld)->e, __VA_ARGS__)

static void key_err(struct loader *ld, int line, const char *sec, const char *key,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void key_err(struct loader *ld, int line, const char *sec, const char *key,
		    const char *fmt, ...)
{
	char msg[480], shown[SHOW_LEN + 4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	FILE_ERR(ld, "%s:%d: [%s] %s: %s", ld->path, line, sec, show(key, shown), msg);
}

static struct spec *cur_spec(struct loader *ld)
{
	if (ld->sect == SK_DEFAULTS)
		return &ld->s->defaults;
	if ((ld->sect == SK_GUEST || ld->sect == SK_GROUP || ld->sect == SK_CHURN) &&
	    ld->spec >= 0)
		return &ld->s->specs[ld->spec];
	return NULL;
}

static void finish_line(struct loader *ld)
{
	if (ld->pending_line && !ld->pending_seen)
		FILE_ERR(ld, "%s:%d: %s%s%s cannot parse '%s' (expected key = value)",
			 ld->path, ld->pending_line,
			 ld->sect < SK_COUNT ? "[" : "", ld->sect < SK_COUNT ? ld->secname : "",
			 ld->sect < SK_COUNT ? "]:" : "", ld->pending_text);
	ld->pending_line = 0;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

/* Guest names: printable, no spaces or '/', short enough for a suffix. */
static bool valid_name(const char *n)
{
	if (!*n)
		return false;
	for (; *n; n++)
		if ((unsigned char)*n <= ' ' || *n == 0x7f || *n == '/')
			return false;
	return true;
}

static void spec_init(struct spec *sp, enum skind kind)
{
	memset(sp, 0, sizeof(*sp));
	sp->kind = kind;
	sp->stop_ns = -1;
	sp->until_ns = -1;
	sp->balloon = true;
}

static void start_section(struct loader *ld, char *text)
{
	struct sim *s = ld->s;
	char shown[SHOW_LEN + 4], shown2[SHOW_LEN + 4];
	char *close = strchr(text, ']'), *inner, *name = NULL, *colon, *rest;
	enum skind k;

	ld->sect = SK_INVALID;
	ld->spec = -1;
	if (!close) {
		FILE_ERR(ld, "%s:%d: missing ']' in section header '%s'", ld->path, ld->lineno,
			 show(text, shown));
		snprintf(ld->secname, sizeof(ld->secname), "?");
		return;
	}
	*close = '\0';
	rest = (char *)skip_spaces(close + 1);
	inner = trim(text + 1);
	mc_strlcpy(ld->secname, inner, sizeof(ld->secname));
	/* For messages: a tab may sit before the ':' (no other control
	 * character gets through the checks below, but escape them all). */
	for (char *c = ld->secname; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	if (*rest && *rest != ';' && *rest != '#') {
		FILE_ERR(ld, "%s:%d: [%s]: unexpected text after ']': '%s'", ld->path,
			 ld->lineno, show(ld->secname, shown), show(rest, shown2));
		return;
	}
	colon = strchr(inner, ':');
	if (colon) {
		*colon = '\0';
		name = trim(colon + 1);
		inner = trim(inner);
	}
	for (k = 0; k < SK_COUNT; k++)
		if (!strcasecmp(inner, skind_names[k]))
			break;
	if (k == SK_COUNT || (name && k <= SK_DEFAULTS) ||
	    (!name && (k == SK_GUEST || k == SK_GROUP))) {
		FILE_ERR(ld, "%s:%d: [%s]: unknown section (known: [sim], [host], [defaults],"
			 " [guest:NAME], [group:NAME], [churn], [churn:NAME])",
			 ld->path, ld->lineno, show(ld->secname, shown));
		return;
	}
	if (k == SK_SIM || k == SK_HOST || k == SK_DEFAULTS) {
		ld->sect = k;
		return;
	}
	if (!name)
		name = "churn";
	if (!valid_name(name) || strlen(name) > MC_NAME_LEN - 12) {
		FILE_ERR(ld, "%s:%d: [%s]: bad name '%s' (printable, no spaces or '/', at most"
			 " %d characters)", ld->path, ld->lineno, show(ld->secname, shown),
			 show(name, shown), MC_NAME_LEN - 12);
		return;
	}
	for (size_t i = 0; i < s->nspecs; i++)
		if (s->specs[i].kind == k && !strcmp(s->specs[i].name, name)) {
			FILE_ERR(ld, "%s:%d: [%s]: duplicate section (first at line %d)",
				 ld->path, ld->lineno, show(ld->secname, shown), s->specs[i].line);
			return;
		}
	{
		struct spec *n = realloc(s->specs, (s->nspecs + 1) * sizeof(*n));

		if (!n) {
			ld->nomem = true;
			return;
		}
		s->specs = n;
		spec_init(&n[s->nspecs], k);
		mc_strlcpy(n[s->nspecs].name, name, sizeof(n[s->nspecs].name));
		mc_strlcpy(n[s->nspecs].secname, ld->secname, sizeof(n[s->nspecs].secname));
		n[s->nspecs].line = ld->lineno;
		ld->spec = (ssize_t)s->nspecs++;
		ld->sect = k;
	}
}

/* Appends the ';'-separated phases of text (from line `line`) to sp. */
static void add_phases(struct loader *ld, struct spec *sp, char *text, int line)
{
	char *save = NULL, *seg, shown[SHOW_LEN + 4];

	for (seg = strtok_r(text, ";", &save); seg; seg = strtok_r(NULL, ";", &save)) {
		char copy[256], *w[8], *ws = NULL, *tok, msg[300];
		int n = 0;

		seg = trim(seg);
		if (!*seg)
			continue;
		mc_strlcpy(copy, seg, sizeof(copy));
		for (tok = strtok_r(copy, " \t", &ws); tok && n < 8; tok = strtok_r(NULL, " \t", &ws))
			w[n++] = tok;
		if (tok) {
			key_err(ld, line, sp->secname, "workload", "phase '%s': too many words",
				show(seg, shown));
			continue;
		}
		if (sp->nph >= MAX_PHASES) {
			key_err(ld, line, sp->secname, "workload", "more than %d phases", MAX_PHASES);
			return;
		}
		if (sp->nph == sp->cph) {
			size_t c = sp->cph ? 2 * sp->cph : 8;
			struct phase *p = realloc(sp->ph, c * sizeof(*p));

			if (!p) {
				ld->nomem = true;
				return;
			}
			sp->ph = p;
			sp->cph = c;
		}
		if (parse_phase(w, n, &sp->ph[sp->nph], msg, sizeof(msg)) < 0) {
			/* msg quotes the words as written: escape them too. */
			for (char *c = msg; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					*c = '?';
			key_err(ld, line, sp->secname, "workload", "phase '%s': %s",
				show(seg, shown), msg);
			continue;
		}
		sp->ph[sp->nph++].line = line;
	}
}

static int find_key(enum skind sect, const char *name)
{
	for (int k = 0; k < K_NKEYS; k++)
		if ((keydefs[k].sections & SEC(sect)) && !strcasecmp(name, keydefs[k].name))
			return k;
	return -1;
}

static void known_keys(enum skind sect, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int k = 0; k < K_NKEYS && o < len; k++)
		if (keydefs[k].sections & SEC(sect))
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "",
					      keydefs[k].name);
}

/* One "key = value" of the current section. */
static void on_kv(struct loader *ld, const char *name, const char *value)
{
	struct sim *s = ld->s;
	struct spec *sp = cur_spec(ld);
	char shown[SHOW_LEN + 4], buf[400];
	int k, *seen, line = ld->lineno;
	const char *sec = ld->secname, *bad = NULL;
	uint64_t u;
	int64_t t;
	double d;
	bool b;

	ld->in_workload = false;
	if (ld->nomem || ld->sect == SK_INVALID)
		return;    /* the section header was reported already */
	if (ld->sect == SK_NONE) {
		FILE_ERR(ld, "%s:%d: %s: key outside any section (put it under [sim], [host],"
			 " [guest:NAME], ...)", ld->path, line, show(name, shown));
		return;
	}
	if (!*name) {
		FILE_ERR(ld, "%s:%d: [%s]: missing key name before '='", ld->path, line, sec);
		return;
	}
	k = find_key(ld->sect, name);
	if (k < 0) {
		known_keys(ld->sect, buf, sizeof(buf));
		key_err(ld, line, sec, name, "unknown key (known: %s)", buf);
		return;
	}
	seen = sp ? &sp->keyline[k] : &s->glob_line[k];
	if (*seen) {
		key_err(ld, line, sec, keydefs[k].name, "set twice (first at line %d)", *seen);
		return;
	}
	*seen = line;
	if (!*value) {
		key_err(ld, line, sec, keydefs[k].name, "empty value");
		return;
	}
	switch (k) {
	case K_SPEED:
		if (parse_double(value, &d) < 0 || d < 1 || d > MAX_SPEED)
			bad = "a number from 1 to 1000: how many times faster than real time";
		else
			s->speed = d;
		break;
	case K_DURATION:
		if (parse_time(value, &t) < 0 || t <= 0)
			bad = TIME_HINT_POS;
		else
			s->duration_ns = t;
		break;
	case K_SEED:
		if (mc_parse_u64(value, &u) < 0)
			bad = "a whole number";
		else
			s->seed = u;
		break;
	case K_PERIOD:
		if (mc_parse_u64(value, &u) < 0 || u > MAX_PERIOD_S)
			bad = "whole seconds, 0 to 3600; 0: statistics never refreshed";
		else
			s->period_s = (int)u;
		break;
	case K_HMEMORY: case K_OVERHEAD: case K_BUDGET:
		if (parse_mem(value, PS_NO, &u) < 0 || (k == K_HMEMORY && u == 0))
			bad = k == K_HMEMORY ? MEM_HINT_POS : MEM_HINT;
		else if (k == K_HMEMORY)
			s->host_kib = u;
		else if (k == K_OVERHEAD)
			s->overhead_kib = u;
		else
			s->budget_kib = u;
		break;
	case K_MAX: case K_MEMORY: case K_KERNEL: case K_SWAP: case K_RSS: case K_CACHE:
	case K_MINGUAR: {
		bool nonzero = k == K_MAX || k == K_MEMORY || k == K_KERNEL;

		if (parse_mem(value, PS_NO, &u) < 0 || (nonzero && u == 0)) {
			bad = nonzero ? MEM_HINT_POS : MEM_HINT;
			break;
		}
		switch (k) {
		case K_MAX: sp->max_kib = u; break;
		case K_MEMORY: sp->mem_kib = u; break;
		case K_KERNEL: sp->kernel_kib = u; break;
		case K_SWAP: sp->swap_kib = u; break;
		case K_RSS: sp->rss_kib = u; break;
		case K_CACHE: sp->cache_kib = u; break;
		default: sp->minguar_kib = u; break;
		}
		break;
	}
	case K_BRATE:
		if (parse_mem(value, PS_OPTIONAL, &u) < 0 || u == 0)
			bad = "a rate above 0 such as 256M/s";
		else
			sp->brate_kib_s = u;
		break;
	case K_WORKLOAD:
		break;     /* the phases are added by workload_line */
	case K_STUCK: case K_NOSTATS: case K_BALLOON: case K_PAUSED:
		if (parse_bool(value, &b) < 0)
			bad = "true or false";
		else if (k == K_STUCK)
			sp->stuck = b;
		else if (k == K_NOSTATS)
			sp->nostats = b;
		else if (k == K_BALLOON)
			sp->balloon = b;
		else
			sp->paused = b;
		break;
	case K_LIAR:
		if (!strcasecmp(value, "starving"))
			sp->liar = LIAR_STARVING;
		else if (!strcasecmp(value, "idle"))
			sp->liar = LIAR_IDLE;
		else if (!strcasecmp(value, "junk"))
			sp->liar = LIAR_JUNK;
		else if (parse_bool(value, &b) == 0)
			sp->liar = b ? LIAR_STARVING : LIAR_NO;
		else
			bad = "starving, idle, junk or no";
		break;
	case K_START: case K_STOP: case K_STAGGER: case K_LIFETIME: case K_FROM: case K_UNTIL:
		if (parse_time(value, &t) < 0 || (k == K_LIFETIME && t == 0)) {
			bad = k == K_LIFETIME ? TIME_HINT_POS : TIME_HINT;
			break;
		}
		switch (k) {
		case K_START: sp->start_ns = t; break;
		case K_STOP: sp->stop_ns = t; break;
		case K_STAGGER: sp->stagger_ns = t; break;
		case K_LIFETIME: sp->lifetime_ns = t; break;
		case K_FROM: sp->from_ns = t; break;
		default: sp->until_ns = t; break;
		}
		break;
	case K_COUNT:
		if (mc_parse_u64(value, &u) < 0 || u == 0 || u > MAX_GUESTS)
			bad = "a whole number from 1 to 100000";
		else
			sp->count = u;
		break;
	case K_RATE:
		if (parse_double(value, &d) < 0 || d <= 0 || d > 1e6)
			bad = "guest starts per second of simulated time, above 0";
		else
			sp->rate = d;
		break;
	default:
		break;
	}
	if (bad) {
		key_err(ld, line, sec, keydefs[k].name, "bad value '%s' (expected %s)",
			show(value, shown), bad);
		if (sp)
			sp->bad = true;   /* no cross-field checks on top of this */
	}
}

/* inih handler: every key except workload. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;

	(void)section;   /* ours is ld->sect: inih truncates long names */
	ld->pending_seen = true;
	on_kv(ld, name, value);
	return 1;
}

/* Cuts a workload text at a comment: '#' at the start or after a space. */
static char *strip_comment(char *val)
{
	for (char *hash = val; (hash = strchr(hash, '#')); hash++)
		if (hash == val || hash[-1] == ' ' || hash[-1] == '\t') {
			*hash = '\0';
			break;
		}
	return val;
}

/* "workload = ..." (or ':'): handled here, not by inih, because ';' separates
 * phases (inih would take " ;" for a comment) and a schedule may be longer
 * than inih's line limit. A '#' at the start or after a space starts a
 * comment. Returns true when the line was a workload line. */
static bool workload_line(struct loader *ld, char *s)
{
	size_t klen = strcspn(s, "=:");
	char key[16], *val;
	struct spec *sp;

	if (!s[klen] || klen >= sizeof(key))
		return false;
	memcpy(key, s, klen);
	key[klen] = '\0';
	if (strcasecmp(trim(key), "workload"))
		return false;
	val = trim(strip_comment(s + klen + 1));
	on_kv(ld, "workload", val);   /* section, duplicates, empty value */
	sp = cur_spec(ld);
	if (!sp || sp->keyline[K_WORKLOAD] != ld->lineno)
		return true;          /* reported by on_kv */
	add_phases(ld, sp, val, ld->lineno);
	ld->in_workload = true;
	return true;
}

/* inih's reader: one physical line. Section headers, comments, workloads
 * and their continuation lines are handled here and hidden from inih. */
static char *read_line(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	char shown[SHOW_LEN + 4];
	ssize_t n;
	char *s;
	bool indented;

	finish_line(ld);
	if (ld->nomem || num < 3)
		return NULL;
	n = getline(&ld->buf, &ld->bufcap, ld->f);
	if (n < 0)
		return NULL;
	ld->lineno++;
	while (n > 0 && (ld->buf[n - 1] == '\n' || ld->buf[n - 1] == '\r'))
		ld->buf[--n] = '\0';
	s = ld->buf;
	if (ld->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;   /* UTF-8 byte order mark */
	indented = *s == ' ' || *s == '\t';
	if (strlen(ld->buf) != (size_t)n) {
		FILE_ERR(ld, "%s:%d: the line contains a NUL byte", ld->path, ld->lineno);
		ld->in_workload = false;
		s = "";
	} else if (!*(s = trim(s))) {
		ld->in_workload = false;    /* a blank line ends a workload */
	} else if (*s == ';' || *s == '#') {
		s = "";                     /* comments may sit among workload lines */
	} else if (indented && ld->in_workload) {
		struct spec *sp = cur_spec(ld);

		if (sp)
			add_phases(ld, sp, strip_comment(s), ld->lineno);
		s = "";
	} else if (*s == '[') {
		ld->in_workload = false;
		start_section(ld, s);
		s = "";
	} else if (workload_line(ld, s)) {
		s = "";
	} else if (strlen(s) + 2 > (size_t)num) {
		FILE_ERR(ld, "%s:%d: line too long (at most %d characters): '%s'",
			 ld->path, ld->lineno, num - 2, show(s, shown));
		ld->in_workload = false;
		s = "";
	} else {
		ld->pending_line = ld->lineno;
		ld->pending_seen = false;
		show(s, ld->pending_text);
	}
	snprintf(str, (size_t)num, "%s\n", s);
	return str;
}

/* ---- checking the scenario and building its guests -------------------------- */

/* The line to blame for key k of sp: where it was set, else the header. */
static int kline(const struct spec *sp, int k)
{
	return sp->keyline[k] ? sp->keyline[k] : sp->line;
}

static void spec_inherit(struct loader *ld, struct spec *sp, const struct spec *def)
{
	for (int k = K_MAX; k <= K_MINGUAR; k++) {
		if (sp->keyline[k] || !def->keyline[k])
			continue;
		switch (k) {
		case K_MAX: sp->max_kib = def->max_kib; break;
		case K_MEMORY: sp->mem_kib = def->mem_kib; break;
		case K_KERNEL: sp->kernel_kib = def->kernel_kib; break;
		case K_SWAP: sp->swap_kib = def->swap_kib; break;
		case K_BRATE: sp->brate_kib_s = def->brate_kib_s; break;
		case K_RSS: sp->rss_kib = def->rss_kib; break;
		case K_CACHE: sp->cache_kib = def->cache_kib; break;
		case K_STUCK: sp->stuck = def->stuck; break;
		case K_NOSTATS: sp->nostats = def->nostats; break;
		case K_LIAR: sp->liar = def->liar; break;
		case K_BALLOON: sp->balloon = def->balloon; break;
		case K_PAUSED: sp->paused = def->paused; break;
		case K_MINGUAR: sp->minguar_kib = def->minguar_kib; break;
		case K_WORKLOAD:
			if (def->nph) {
				sp->ph = malloc(def->nph * sizeof(*sp->ph));
				if (!sp->ph) {
					ld->nomem = true;
					break;
				}
				memcpy(sp->ph, def->ph, def->nph * sizeof(*sp->ph));
				sp->nph = sp->cph = def->nph;
			}
			break;
		default:
			break;
		}
		sp->keyline[k] = -def->keyline[k];  /* inherited: blame [defaults] */
	}
}

/* Cross-field checks of one guest-like section (after inheritance). */
static void spec_check(struct loader *ld, struct spec *sp)
{
	struct sim *s = ld->s;
	char a[32], b[32];
	const char *sec = sp->secname;
	int ln;

	/* An inherited key is blamed on its [defaults] line. */
#define BLAME(k) (ln = kline(sp, k), ln < 0 ? -ln : ln)
#define SECOF(k) (sp->keyline[k] < 0 ? "defaults" : sec)
	if (!sp->keyline[K_MAX])
		sp->max_kib = DEF_MAX_KIB;
	if (!sp->keyline[K_MEMORY])
		sp->mem_kib = sp->max_kib;
	if (!sp->keyline[K_KERNEL]) {
		sp->kernel_kib = sp->max_kib * KERNEL_PCT / 100;
		if (sp->kernel_kib < KERNEL_MIN_KIB)
			sp->kernel_kib = KERNEL_MIN_KIB;
	}
	if (!sp->keyline[K_SWAP])
		sp->swap_kib = DEF_SWAP_KIB;
	if (!sp->keyline[K_BRATE])
		sp->brate_kib_s = DEF_BALLOON_RATE_KIB_S;
	if (!sp->keyline[K_CACHE])
		sp->cache_kib = DEF_CACHE_KIB;
	if (sp->bad || ld->s->defaults.bad)
		;   /* a value was rejected: comparing with it would mislead */
	else if (sp->mem_kib > sp->max_kib)
		key_err(ld, BLAME(K_MEMORY), SECOF(K_MEMORY), "memory",
			"%s is above max %s", fmt_kib(sp->mem_kib, a), fmt_kib(sp->max_kib, b));
	else if (sp->kernel_kib >= sp->mem_kib && sp->keyline[K_KERNEL])
		key_err(ld, BLAME(K_KERNEL), SECOF(K_KERNEL), "kernel",
			"the guest kernel (%s) must be below the starting balloon memory %s",
			fmt_kib(sp->kernel_kib, a), fmt_kib(sp->mem_kib, b));
	else if (sp->kernel_kib >= sp->mem_kib)
		key_err(ld, BLAME(K_MEMORY), SECOF(K_MEMORY), "memory",
			"%s must be above the guest kernel's %s (5%% of max, at least 48M;"
			" set kernel to change it)", fmt_kib(sp->mem_kib, a),
			fmt_kib(sp->kernel_kib, b));
	else if (sp->rss_kib > sp->max_kib - sp->kernel_kib)
		key_err(ld, BLAME(K_RSS), SECOF(K_RSS), "rss",
			"%s does not fit in max %s minus the kernel", fmt_kib(sp->rss_kib, a),
			fmt_kib(sp->max_kib, b));
	if (!sp->bad && sp->minguar_kib > sp->max_kib)
		key_err(ld, BLAME(K_MINGUAR), SECOF(K_MINGUAR), "min_guarantee",
			"%s is above max %s", fmt_kib(sp->minguar_kib, a), fmt_kib(sp->max_kib, b));

	for (size_t i = 0; i < sp->nph; i++) {
		const struct phase *p = &sp->ph[i];
		const char *wsec = SECOF(K_WORKLOAD);

		if (p->kind == PH_LOOP && i + 1 < sp->nph)
			key_err(ld, p->line, wsec, "workload", "'loop' must be the last phase");
		else if (p->kind == PH_IDLE && i + 1 < sp->nph)
			key_err(ld, p->line, wsec, "workload", "'idle' ends the schedule: the"
				" phases after it never run (use 'wait TIME' to pause)");
		else if (phase_endless(p) && i + 1 < sp->nph)
			key_err(ld, p->line, wsec, "workload", "'%s' without 'for TIME' never"
				" ends: the phases after it never run",
				p->kind == PH_PERIODIC ? "periodic" : "randomwalk");
		else if (p->kind == PH_LOOP) {
			bool timed = false;

			for (size_t j = 0; j < i; j++)
				timed |= phase_takes_time(&sp->ph[j]);
			if (!timed)
				key_err(ld, p->line, wsec, "workload", "'loop' needs a phase that"
					" takes time before it");
		}
	}

	switch (sp->kind) {
	case SK_GUEST:
		sp->count = 1;
		break;
	case SK_GROUP:
		if (!sp->keyline[K_COUNT])
			FILE_ERR(ld, "%s:%d: [%s] count: missing (how many guests the group has)",
				 ld->path, sp->line, sec);
		break;
	case SK_CHURN:
		if (!sp->keyline[K_RATE])
			FILE_ERR(ld, "%s:%d: [%s] rate: missing (guest starts per second)",
				 ld->path, sp->line, sec);
		if (!sp->keyline[K_LIFETIME])
			sp->lifetime_ns = DEF_LIFETIME_NS;
		if (sp->until_ns < 0 || sp->until_ns > s->duration_ns)
			sp->until_ns = s->duration_ns;
		if (sp->until_ns <= sp->from_ns) {
			FILE_ERR(ld, "%s:%d: [%s] until: must be after from (and before the end)",
				 ld->path, kline(sp, K_UNTIL), sec);
			sp->count = 0;
		} else {
			double c = (double)(sp->until_ns - sp->from_ns) / MC_NS_PER_S * sp->rate;

			sp->count = c > 1e15 ? (uint64_t)1e15 : (uint64_t)c;
		}
		break;
	default:
		break;
	}
	if (sp->stop_ns >= 0 && sp->stop_ns <= sp->start_ns)
		key_err(ld, kline(sp, K_STOP), sec, "stop", "must be after start");
#undef BLAME
#undef SECOF
}

static int cmp_uuid(const void *a, const void *b)
{
	const struct guest *x = *(struct guest *const *)a, *y = *(struct guest *const *)b;

	return memcmp(x->uuid, y->uuid, MC_UUID_LEN);
}

static int cmp_event(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->stop != y->stop)
		return x->stop ? -1 : 1;   /* stops first: fewer guests at once */
	return x->gi < y->gi ? -1 : x->gi > y->gi;
}

static unsigned digits(uint64_t n)
{
	unsigned d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

static void destroy_guests(struct sim *s)
{
	for (size_t i = 0; i < s->ng; i++)
		pthread_mutex_destroy(&s->g[i].lock);
	free(s->g);
	s->g = NULL;
	s->ng = 0;
}

/* Instances, UUID index and timeline. Returns 0 or <0 (errors reported). */
static int build_guests(struct loader *ld)
{
	struct sim *s = ld->s;
	size_t total = 0, k = 0, ne = 0;

	for (size_t i = 0; i < s->nspecs; i++) {
		struct spec *sp = &s->specs[i];

		if (sp->count > MAX_GUESTS - total) {
			FILE_ERR(ld, "%s:%d: [%s]: too many guests: %" PRIu64 " here, %zu before"
				 " (a scenario has at most %d in all, churn included)", ld->path,
				 sp->line, sp->secname, sp->count, total, MAX_GUESTS);
			return -EINVAL;
		}
		total += sp->count;
	}
	if (!total)
		return 0;
	s->g = calloc(total, sizeof(*s->g));
	s->by_uuid = calloc(total, sizeof(*s->by_uuid));
	s->ev = calloc(2 * total, sizeof(*s->ev));
	if (!s->g || !s->by_uuid || !s->ev)
		return -ENOMEM;
	for (size_t i = 0; i < s->nspecs; i++) {
		struct spec *sp = &s->specs[i];
		unsigned w = digits(sp->count) < 4 ? 4 : digits(sp->count);

		sp->first = k;
		sp->n = sp->count;
		for (uint64_t j = 0; j < sp->count; j++, k++) {
			struct guest *g = &s->g[k];

			pthread_mutex_init(&g->lock, NULL);
			s->ng = k + 1;
			g->sp = sp;
			atomic_init(&g->state, GS_PENDING);
			if (sp->kind == SK_GUEST)
				mc_strlcpy(g->res.name, sp->name, sizeof(g->res.name));
			else if (snprintf(g->res.name, sizeof(g->res.name), "%s-%0*" PRIu64,
					  sp->name, (int)w, j + 1) >= (int)sizeof(g->res.name))
				return -EINVAL;   /* cannot happen: names are checked */
			name_uuid(g->res.name, g->uuid);
			s->by_uuid[k] = g;
			if (sp->kind == SK_CHURN) {
				g->start_ns = sp->from_ns +
					(int64_t)((double)j * MC_NS_PER_S / sp->rate);
				g->stop_ns = g->start_ns + sp->lifetime_ns;
			} else {
				g->start_ns = sp->start_ns + (int64_t)j * sp->stagger_ns;
				g->stop_ns = sp->stop_ns < 0 ? -1
					: sp->stop_ns + (int64_t)j * sp->stagger_ns;
			}
			if (g->start_ns > 0 && g->start_ns < s->duration_ns)
				s->ev[ne++] = (struct event){g->start_ns, (uint32_t)k, false};
			if (g->stop_ns >= 0 && g->stop_ns < s->duration_ns &&
			    g->start_ns < s->duration_ns)
				s->ev[ne++] = (struct event){g->stop_ns, (uint32_t)k, true};
		}
	}
	qsort(s->by_uuid, s->ng, sizeof(*s->by_uuid), cmp_uuid);
	for (size_t i = 1; i < s->ng; i++)
		if (!memcmp(s->by_uuid[i - 1]->uuid, s->by_uuid[i]->uuid, MC_UUID_LEN)) {
			const struct guest *a = s->by_uuid[i - 1], *b = s->by_uuid[i];

			if (a->sp->line > b->sp->line) {
				const struct guest *t = a;

				a = b;
				b = t;
			}
			FILE_ERR(ld, "%s:%d: [%s]: guest name %s is also used by [%s] (line %d)",
				 ld->path, b->sp->line, b->sp->secname, b->res.name,
				 a->sp->secname, a->sp->line);
			return -EINVAL;
		}
	qsort(s->ev, ne, sizeof(*s->ev), cmp_event);
	s->nev = ne;
	return 0;
}

/* The scenario from f, or from the file s->path when f is NULL. */
static int load(struct sim *s, FILE *f, char *err, size_t errlen)
{
	const char *path = s->path;
	struct loader ld = {
		.s = s, .path = path, .f = f, .e = {.buf = err, .cap = err ? errlen : 0},
		.sect = SK_NONE, .spec = -1,
	};
	int rc = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!f)
		ld.f = fopen(path, "re");
	if (!ld.f) {
		rc = -errno;
		mc_errlist_add(&ld.e, "cannot read %s: %s", path, strerror(errno));
		return rc;
	}
	if (ini_parse_stream(read_line, &ld, on_key, &ld) == -2)
		ld.nomem = true;
	finish_line(&ld);
	if (ferror(ld.f) && !ld.nomem) {
		rc = -EIO;
		mc_errlist_init(&ld.e, err, errlen);   /* only this problem */
		mc_errlist_add(&ld.e, "cannot read %s", path);
	}
	if (!f)
		fclose(ld.f);
	free(ld.buf);
	if (!rc && !ld.nomem) {
		if (s->glob_line[K_DURATION] == 0)
			s->duration_ns = DEF_DURATION_NS;
		if (s->overhead_kib >= s->host_kib)
			FILE_ERR(&ld, "%s:%d: [host] overhead: must be below the host memory",
				 path, s->glob_line[K_OVERHEAD] ? s->glob_line[K_OVERHEAD]
				 : s->glob_line[K_HMEMORY]);
		for (size_t i = 0; i < s->nspecs && !ld.nomem; i++) {
			spec_inherit(&ld, &s->specs[i], &s->defaults);
			spec_check(&ld, &s->specs[i]);
		}
		if (!ld.e.n && !ld.nomem) {
			rc = build_guests(&ld);
			if (rc == -ENOMEM)
				ld.nomem = true;
		}
	}
	if (ld.nomem) {
		rc = -ENOMEM;
		mc_errlist_init(&ld.e, err, errlen);   /* only this problem */
		mc_errlist_add(&ld.e, "%s: out of memory", path);
	} else if (!rc && ld.e.n) {
		rc = -EINVAL;
	}
	errlist_sort(&ld.e, path);
	mc_errlist_finish(&ld.e);
	return rc;
}

/* ---- the balloon and the host ------------------------------------------------ */

static double bal_at(const struct guest *g, int64_t t)
{
	double d;

	if (g->b_rate <= 0 || t <= g->b_t0)
		return g->b_a0;
	d = g->b_rate * (double)(t - g->b_t0);
	if (g->b_a0 < g->b_teff)
		return g->b_a0 + d < g->b_teff ? g->b_a0 + d : g->b_teff;
	return g->b_a0 - d > g->b_teff ? g->b_a0 - d : g->b_teff;
}

/* Where the balloon comes to rest. */
static double bal_final(const struct guest *g)
{
	return g->b_rate > 0 ? g->b_teff : g->b_a0;
}

/* When a moving balloon reaches its target. */
static int64_t bal_reach(const struct guest *g)
{
	return g->b_t0 + (int64_t)(dabs(g->b_teff - g->b_a0) / g->b_rate) + 1;
}

/* A moving balloon is the line c + slope * t until it arrives. */
static double bal_slope(const struct guest *g)
{
	return g->b_teff > g->b_a0 ? g->b_rate : -g->b_rate;
}

static double bal_c(const struct guest *g)
{
	return g->b_a0 - bal_slope(g) * (double)g->b_t0;
}

static void host_note(struct sim *s, double sum)
{
	double f = (double)s->host_kib - (double)s->overhead_kib - sum;
	uint64_t v = f > 0 ? (uint64_t)(f + 0.5) : 0;

	if (v < s->min_free)
		s->min_free = v;
}

/* The moving balloons: a binary min-heap by arrival time (hlock held). */
static void heap_set(struct sim *s, size_t i, struct guest *g)
{
	s->mv[i] = g;
	g->b_mv = i;
}

static void heap_sift(struct sim *s, size_t i)
{
	struct guest *g = s->mv[i];
	int64_t r = g->b_reach;

	while (i > 0 && s->mv[(i - 1) / 2]->b_reach > r) {
		heap_set(s, i, s->mv[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->nmv)
			break;
		if (c + 1 < s->nmv && s->mv[c + 1]->b_reach < s->mv[c]->b_reach)
			c++;
		if (s->mv[c]->b_reach >= r)
			break;
		heap_set(s, i, s->mv[c]);
		i = c;
	}
	heap_set(s, i, g);
}

static void heap_remove(struct sim *s, struct guest *g)
{
	size_t i = g->b_mv;

	if (--s->nmv > i) {
		heap_set(s, i, s->mv[s->nmv]);
		heap_sift(s, i);
	}
	g->b_moving = false;
	s->mv_c -= bal_c(g);
	s->mv_slope -= bal_slope(g);
	if (!s->nmv)
		s->mv_c = s->mv_slope = 0;   /* no drift from rounding */
}

/* Brings the host accounting to `now` (hlock held). The sum of balloons is
 * linear between two arrivals, so the lowest free memory since the last
 * evaluation is at an arrival or at now; arrived balloons leave the heap. */
static void host_eval(struct sim *s, int64_t now)
{
	double sum;

	if (now < s->h_last)
		now = s->h_last;
	while (s->nmv && s->mv[0]->b_reach <= now) {
		struct guest *g = s->mv[0];

		host_note(s, s->settled + s->mv_c + s->mv_slope * (double)g->b_reach);
		heap_remove(s, g);
		s->settled += bal_final(g);
	}
	sum = s->settled + s->mv_c + s->mv_slope * (double)now;
	host_note(s, sum);
	s->h_last = now;
	s->h_sum = sum;
}

/* Sum of all balloons at h_last (hlock held). */
static double host_sum(struct sim *s)
{
	return s->settled + s->mv_c + s->mv_slope * (double)s->h_last;
}

/* Counts g's balloon in the host (hlock held; g's balloon fields set). */
static int host_add(struct sim *s, struct guest *g)
{
	if (g->b_rate > 0 && g->b_a0 != g->b_teff) {
		if (s->nmv == s->cmv) {
			size_t c = s->cmv ? 2 * s->cmv : 64;
			struct guest **m = realloc(s->mv, c * sizeof(*m));

			if (!m)
				return -ENOMEM;
			s->mv = m;
			s->cmv = c;
		}
		g->b_reach = bal_reach(g);
		g->b_moving = true;
		heap_set(s, s->nmv++, g);
		heap_sift(s, s->nmv - 1);
		s->mv_c += bal_c(g);
		s->mv_slope += bal_slope(g);
	} else {
		s->settled += bal_final(g);
	}
	return 0;
}

static void host_remove(struct sim *s, struct guest *g)
{
	if (g->b_moving)
		heap_remove(s, g);
	else
		s->settled -= bal_final(g);
}

/* ---- the guest model ----------------------------------------------------------- */

static uint64_t kib_u(double v)
{
	return v > 0 ? (uint64_t)(v + 0.5) : 0;
}

static double guest_free(const struct guest *g)
{
	double f = g->a - (double)g->sp->kernel_kib - (g->rss - g->swapped) - g->cache;

	return f > 0 ? f : 0;
}

static void take_snap(struct guest *g)
{
	double free = guest_free(g);

	g->snap.unused = kib_u(free);
	g->snap.usable = kib_u(free + g->cache);
	g->snap.total = kib_u(g->a - (double)g->sp->kernel_kib / 4);
	g->snap.caches = kib_u(g->cache);
	g->snap.swap_in = (uint64_t)g->sw_in;
	g->snap.swap_out = (uint64_t)g->sw_out;
	g->snap.major = (uint64_t)g->major;
	g->snap.minor = (uint64_t)g->minor;
	g->snap.last_update = LAST_UPDATE_EPOCH + (uint64_t)(g->t / MC_NS_PER_S);
}

/* The workload's memory becomes v; freed memory leaves swap in proportion. */
static void rss_set(struct guest *g, double v)
{
	if (v < 0)
		v = 0;
	if (v < g->rss) {
		g->swapped = g->rss > 0 ? g->swapped * (v / g->rss) : 0;
	} else {
		g->minor += (v - g->rss) / PAGE_KIB;
	}
	g->rss = v;
}

static void workload_end(struct guest *g)
{
	g->finished = true;
	g->res.workload_done = !g->killed;
}

/* Demand above the balloon: drop cache, then swap, then the OOM killer. */
static void pressure(struct guest *g)
{
	double need = (double)g->sp->kernel_kib + (g->rss - g->swapped) + g->cache - g->a;
	double d;

	if (need <= 0)
		return;
	d = dmin(g->cache, need);
	g->cache -= d;
	need -= d;
	if (need <= 0)
		return;
	d = dmin(dmax((double)g->sp->swap_kib - g->swapped, 0), need);
	g->swapped += d;
	g->sw_out += d;
	g->res.swapped_kib += (uint64_t)d;
	need -= d;
	if (need <= EPS_KIB)
		return;
	mc_debug("sim: %s: out of memory (balloon %" PRIu64 " MiB, workload %" PRIu64
		 " MiB, swap full): workload killed", g->res.name,
		 kib_u(g->a) / KIB_PER_MIB, kib_u(g->rss) / KIB_PER_MIB);
	g->rss = 0;
	g->swapped = 0;
	g->killed = true;
	g->res.oom_kills++;
	workload_end(g);
}

static void next_phase(struct guest *g)
{
	g->phase++;
	g->ph_ns = 0;
}

/* Runs the schedule for dt ns. Returns true when the workload was busy
 * (touching its memory) for some of that time. */
static bool workload_run(struct guest *g, int64_t dt)
{
	const struct spec *sp = g->sp;
	bool active = false;
	int guard = 0;

	while (dt > 0 && !g->finished) {
		const struct phase *p;
		int64_t use;

		if (g->phase >= sp->nph) {
			workload_end(g);
			break;
		}
		if (++guard > MAX_TRANSITIONS)
			break;     /* instant phases only: the rest of dt is idle */
		p = &sp->ph[g->phase];
		switch (p->kind) {
		case PH_IDLE:
			workload_end(g);
			break;
		case PH_WAIT:
		case PH_HOLD:
			use = p->dur_ns - g->ph_ns < dt ? p->dur_ns - g->ph_ns : dt;
			g->ph_ns += use;
			dt -= use;
			active |= p->kind == PH_HOLD && use > 0;
			if (g->ph_ns >= p->dur_ns)
				next_phase(g);
			break;
		case PH_ALLOC:
		case PH_FREE: {
			double goal = p->kind == PH_FREE ? 0
				: p->full ? (double)(sp->max_kib - sp->kernel_kib) : p->a;
			double gap = dabs(goal - g->rss), need_ns;

			if (p->kind == PH_FREE && p->rate <= 0) {
				rss_set(g, 0);
				next_phase(g);
				break;
			}
			if ((p->kind == PH_ALLOC && g->rss >= goal) ||
			    (p->kind == PH_FREE && g->rss <= 0)) {
				next_phase(g);
				break;
			}
			need_ns = gap / p->rate * (double)MC_NS_PER_S;
			use = need_ns < (double)dt ? (int64_t)need_ns + 1 : dt;
			if (use >= need_ns) {
				rss_set(g, goal);
			} else {
				double d = p->rate * (double)use / MC_NS_PER_S;

				rss_set(g, g->rss + (p->kind == PH_ALLOC ? d : -d));
			}
			g->ph_ns += use;
			dt -= use;
			active = true;
			break;
		}
		case PH_RELEASE:
			rss_set(g, g->rss - p->a);
			next_phase(g);
			break;
		case PH_CACHE:
			g->cache_target = p->a;
			next_phase(g);
			break;
		case PH_LOOP:
			g->phase = 0;
			g->ph_ns = 0;
			break;
		case PH_PERIODIC: {
			int64_t pos;
			double x;

			use = p->dur_ns && p->dur_ns - g->ph_ns < dt ? p->dur_ns - g->ph_ns : dt;
			g->ph_ns += use;
			dt -= use;
			active = true;
			/* A triangle wave starting at LOW. */
			pos = g->ph_ns % p->period_ns;
			x = (double)pos / (double)p->period_ns;
			x = x < 0.5 ? 2 * x : 2 - 2 * x;
			rss_set(g, p->a + (p->b - p->a) * x);
			if (p->dur_ns && g->ph_ns >= p->dur_ns)
				next_phase(g);
			break;
		}
		case PH_RANDOMWALK: {
			int64_t ticks;

			use = p->dur_ns && p->dur_ns - g->ph_ns < dt ? p->dur_ns - g->ph_ns : dt;
			ticks = (g->ph_ns + use) / p->period_ns - g->ph_ns / p->period_ns;
			for (; ticks > 0; ticks--) {
				double v = g->rss + p->a * (2 * rng_double(&g->rng) - 1);

				rss_set(g, v < 0 ? 0 : v > p->b ? p->b : v);
			}
			g->ph_ns += use;
			dt -= use;
			active = true;
			if (p->dur_ns && g->ph_ns >= p->dur_ns)
				next_phase(g);
			break;
		}
		}
	}
	return active;
}

/* One integration step of g, from g->t to end (<= SIM_STEP_NS). */
static void guest_step(struct sim *s, struct guest *g, int64_t end)
{
	int64_t dt = end - g->t;
	double dts = (double)dt / MC_NS_PER_S, a = bal_at(g, end), free;
	bool active;

	g->moved += dabs(a - g->a);
	g->held += a * dts;
	g->a = a;
	if (kib_u(a) > g->res.peak_actual_kib)
		g->res.peak_actual_kib = kib_u(a);

	active = workload_run(g, dt);
	pressure(g);
	if (active && g->swapped > 0 && !g->killed) {
		double in = dmin(g->swapped, dmax(REFAULT_FRAC_S * g->swapped,
						  REFAULT_MIN_KIB_S) * dts);

		g->swapped -= in;
		g->sw_in += in;
		g->major += in / PAGE_KIB;
		pressure(g);     /* no room: something else goes out (thrashing) */
	}
	free = guest_free(g);
	if (free > 0 && g->cache < g->cache_target)
		g->cache += dmin(dmin(CACHE_GROW_KIB_S * dts, g->cache_target - g->cache), free);
	if (guest_free(g) + g->cache < (double)s->low_kib)
		g->below_ns += (double)dt;
	g->minor += MINOR_BASE_S * dts;
	g->t = end;
}

/* Brings g's model to `until` (g->lock held). */
static void guest_advance(struct sim *s, struct guest *g, int64_t until)
{
	if (atomic_load(&g->state) != GS_RUNNING)
		return;
	if (g->stop_ns >= 0 && until > g->stop_ns)
		until = g->stop_ns;
	if (g->t >= until)
		return;
	if (g->sp->paused) {
		g->t = until;    /* a paused guest neither runs nor reports */
		return;
	}
	while (g->t < until) {
		int64_t end = g->t + SIM_STEP_NS;

		if (end > until)
			end = until;
		if (g->next_snap >= 0 && g->next_snap < end)
			end = g->next_snap > g->t ? g->next_snap : g->t;
		if (end > g->t)
			guest_step(s, g, end);
		if (g->next_snap >= 0 && g->t >= g->next_snap) {
			take_snap(g);
			g->next_snap += (int64_t)g->period_s * MC_NS_PER_S;
		}
	}
}

/* A guest boots at t (g->lock held). */
static void guest_boot(struct sim *s, struct guest *g, int64_t t)
{
	const struct spec *sp = g->sp;
	double mem = (double)sp->mem_kib;
	uint64_t x = s->seed ^ fnv1a(g->res.name, 0xcbf29ce484222325ULL);

	g->t = t;
	g->a = mem;
	g->target_kib = sp->mem_kib;
	g->b_a0 = mem;
	g->b_t0 = t;
	g->b_teff = dmax(mem, (double)sp->kernel_kib);
	g->b_rate = sp->stuck || sp->paused || !sp->balloon ? 0
		: (double)sp->brate_kib_s / MC_NS_PER_S;
	g->rss = (double)sp->rss_kib;
	g->cache_target = (double)sp->cache_kib;
	g->cache = 0;
	g->cache = dmin(g->cache_target, guest_free(g));
	g->rng = splitmix64(&x);
	g->lrng = splitmix64(&x);
	g->period_s = s->period_s;
	g->next_snap = g->period_s > 0 ? t + (int64_t)g->period_s * MC_NS_PER_S : -1;
	g->res.peak_actual_kib = sp->mem_kib;
	g->res.final_actual_kib = sp->mem_kib;
	if (!sp->nph)
		workload_end(g);
	pressure(g);
	take_snap(g);
	atomic_store(&g->state, GS_RUNNING);
}

/* ---- the timeline ---------------------------------------------------------------- */

static void deliver(struct sim *s, enum mc_hv_event ev, const struct guest *g)
{
	static const uint8_t zero[MC_UUID_LEN];

	if (atomic_load(&s->stop_flag) || !s->hv.cb.event)
		return;
	s->hv.cb.event(s->hv.cb.opaque, ev, g ? g->uuid : zero, g ? g->res.name : "");
}

static void start_guest(struct sim *s, struct guest *g, int64_t t)
{
	pthread_mutex_lock(&g->lock);
	guest_boot(s, g, t);
	pthread_mutex_lock(&s->hlock);
	host_eval(s, t);
	if (host_add(s, g) < 0) {
		/* Out of memory for the moving list: account it at rest. */
		s->settled += bal_final(g);
	}
	host_note(s, host_sum(s));
	pthread_mutex_unlock(&s->hlock);
	pthread_mutex_unlock(&g->lock);
	atomic_fetch_add(&s->starts, 1);
}

static void stop_guest(struct sim *s, struct guest *g, int64_t t)
{
	pthread_mutex_lock(&g->lock);
	guest_advance(s, g, t);
	g->res.final_actual_kib = kib_u(g->a);
	pthread_mutex_lock(&s->hlock);
	host_eval(s, t);
	host_remove(s, g);
	pthread_mutex_unlock(&s->hlock);
	atomic_store(&g->state, GS_GONE);
	pthread_mutex_unlock(&g->lock);
	atomic_fetch_add(&s->stops, 1);
}

static void *sim_main(void *arg)
{
	struct sim *s = arg;

	deliver(s, MC_HV_EV_CONNECTED, NULL);
	for (;;) {
		int64_t next, now;
		bool stop;

		pthread_mutex_lock(&s->lock);
		for (;;) {
			struct timespec ts;

			stop = s->stopping;
			if (stop)
				break;
			next = s->ev_next < s->nev ? s->ev[s->ev_next].t : s->duration_ns;
			if (next > s->duration_ns)
				next = s->duration_ns;
			if (sim_now(s) >= next)
				break;
			ts = mc_ns_to_ts(s->t0 + next);
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		}
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
		now = sim_now(s);
		while (s->ev_next < s->nev && s->ev[s->ev_next].t <= now) {
			const struct event *e = &s->ev[s->ev_next++];
			struct guest *g = &s->g[e->gi];

			if (e->stop) {
				if (atomic_load(&g->state) != GS_RUNNING)
					continue;
				stop_guest(s, g, e->t);
				deliver(s, MC_HV_EV_STOPPED, g);
			} else {
				start_guest(s, g, e->t);
				deliver(s, MC_HV_EV_STARTED, g);
			}
		}
		if (now >= s->duration_ns) {
			deliver(s, MC_HV_EV_END, NULL);
			break;
		}
	}
	return NULL;
}

/* ---- ops ------------------------------------------------------------------------- */

struct mc_hv_dom {
	struct sim *s;
	struct guest *g;
};

static struct guest *find_guest(struct sim *s, const uint8_t uuid[MC_UUID_LEN])
{
	size_t lo = 0, hi = s->ng;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(s->by_uuid[mid]->uuid, uuid, MC_UUID_LEN);

		if (c == 0)
			return s->by_uuid[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int no_domain(const uint8_t uuid[MC_UUID_LEN])
{
	char u[MC_UUID_STR_LEN];

	mc_uuid_format(uuid, u);
	mc_hv_set_error("sim: no running domain with UUID %s", u);
	return -ENOENT;
}

static int sim_start(struct mc_hv *hv, bool retry)
{
	struct sim *s = hv->priv;
	pthread_attr_t attr;
	int rc;

	(void)retry;
	if (atomic_load(&s->started)) {
		mc_hv_set_error("sim: already started");
		return -EALREADY;
	}
	s->t0 = mc_now_ns();
	atomic_store(&s->freeze_ns, s->duration_ns);
	/* Guests running from the beginning are there before anyone looks,
	 * like the domains a libvirt connection finds. */
	for (size_t i = 0; i < s->ng; i++)
		if (s->g[i].start_ns <= 0)
			start_guest(s, &s->g[i], 0);
	atomic_store(&s->started, true);

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES);
	rc = pthread_create(&s->thread, &attr, sim_main, s);
	pthread_attr_destroy(&attr);
	if (rc) {
		mc_hv_set_error("sim: cannot start the timeline thread: %s", strerror(rc));
		return -rc;
	}
	s->thread_running = true;
	return 0;
}

static void sim_stop(struct mc_hv *hv)
{
	struct sim *s = hv->priv;
	int64_t now;

	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	atomic_store(&s->stop_flag, true);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->thread_running) {
		pthread_join(s->thread, NULL);
		s->thread_running = false;
	}
	/* The simulated clock stops with the backend: results describe the
	 * run up to here. */
	now = sim_now(s);
	if (now < atomic_load(&s->freeze_ns))
		atomic_store(&s->freeze_ns, now);
}

static void free_specs(struct sim *s)
{
	for (size_t i = 0; i < s->nspecs; i++)
		free(s->specs[i].ph);
	free(s->specs);
	free(s->defaults.ph);
	s->specs = NULL;
	s->nspecs = 0;
}

static void sim_free(struct sim *s)
{
	destroy_guests(s);
	free(s->by_uuid);
	free(s->ev);
	free_specs(s);
	free(s->mv);
	free(s->rg);
	free(s->path);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->hlock);
	pthread_mutex_destroy(&s->rlock);
	free(s);
}

static void sim_destroy(struct mc_hv *hv)
{
	struct sim *s;

	if (!hv)
		return;
	s = hv->priv;
	sim_stop(hv);
	sim_free(s);
}

static void fill_info(const struct guest *g, struct mc_dom_info *out)
{
	const struct spec *sp = g->sp;

	memset(out, 0, sizeof(*out));
	memcpy(out->uuid, g->uuid, MC_UUID_LEN);
	mc_strlcpy(out->name, g->res.name, sizeof(out->name));
	out->state = sp->paused ? MC_DOM_PAUSED : MC_DOM_RUNNING;
	out->max_kib = sp->max_kib;
	out->cur_kib = g->target_kib;
	out->min_guarantee_kib = sp->minguar_kib;
	out->has_balloon = sp->balloon;
}

static int sim_list(struct mc_hv *hv, struct mc_dom_info **out, size_t *n)
{
	struct sim *s = hv->priv;
	struct mc_dom_info *v;
	size_t cap = 0, k = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < s->ng; i++)
		cap += atomic_load(&s->g[i].state) == GS_RUNNING;
	cap += 64;     /* guests starting meanwhile */
	v = calloc(cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->ng && k < cap; i++) {
		struct guest *g = &s->g[i];

		if (atomic_load(&g->state) != GS_RUNNING)
			continue;
		pthread_mutex_lock(&g->lock);
		if (atomic_load(&g->state) == GS_RUNNING)
			fill_info(g, &v[k++]);
		pthread_mutex_unlock(&g->lock);
	}
	*out = v;
	*n = k;
	return 0;
}

static int sim_dom_open(struct mc_hv *hv, const uint8_t uuid[MC_UUID_LEN],
			struct mc_hv_dom **out)
{
	struct sim *s = hv->priv;
	struct guest *g = find_guest(s, uuid);
	struct mc_hv_dom *d;

	*out = NULL;
	if (!g || atomic_load(&g->state) != GS_RUNNING)
		return no_domain(uuid);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->s = s;
	d->g = g;
	*out = d;
	return 0;
}

static void sim_dom_close(struct mc_hv_dom *d)
{
	free(d);
}

/* Locks d's guest and brings it to now; -ENOENT (unlocked) if it is gone. */
static int dom_lock(struct mc_hv_dom *d)
{
	pthread_mutex_lock(&d->g->lock);
	if (atomic_load(&d->g->state) != GS_RUNNING) {
		pthread_mutex_unlock(&d->g->lock);
		return no_domain(d->g->uuid);
	}
	guest_advance(d->s, d->g, sim_now(d->s));
	return 0;
}

static int sim_dom_info(struct mc_hv_dom *d, struct mc_dom_info *out)
{
	int r = dom_lock(d);

	if (r < 0) {
		memset(out, 0, sizeof(*out));
		return r;
	}
	fill_info(d->g, out);
	pthread_mutex_unlock(&d->g->lock);
	return 0;
}

static void put(struct mc_stats *st, enum mc_stat t, uint64_t v)
{
	st->val[t] = v;
	st->present |= 1u << t;
}

/* What a lying guest says instead of its snapshot. */
static void lie(struct guest *g, struct snap *sn, uint64_t actual)
{
	switch (g->sp->liar) {
	case LIAR_STARVING:
		sn->unused = sn->usable = LIAR_STARVING_KIB;
		sn->caches = 0;
		break;
	case LIAR_IDLE:
		sn->unused = sn->usable = actual > g->sp->kernel_kib
			? actual - g->sp->kernel_kib : 0;
		sn->caches = 0;
		break;
	case LIAR_JUNK:
		switch (splitmix64(&g->lrng) % 6) {
		case 0:   /* more free memory than the balloon holds */
			sn->unused = sn->usable = actual * 3 + KIB_PER_GIB;
			break;
		case 1:   /* a figure no machine has */
			sn->usable = 1ULL << 50;
			break;
		case 2:   /* counters running backwards */
			sn->swap_in /= 2;
			sn->major /= 2;
			break;
		case 3:   /* the clock going backwards */
			sn->last_update -= 3600;
			break;
		case 4:   /* plausible, and wrong */
			sn->unused = splitmix64(&g->lrng) % (actual + 1);
			sn->usable = sn->unused + splitmix64(&g->lrng) % (actual - sn->unused + 1);
			sn->caches = sn->usable - sn->unused;
			break;
		default:  /* nothing at all */
			sn->unused = sn->usable = sn->caches = sn->total = 0;
			break;
		}
		break;
	default:
		break;
	}
}

static int sim_dom_stats(struct mc_hv_dom *d, struct mc_stats *out)
{
	struct guest *g = d->g;
	const struct spec *sp = g->sp;
	struct snap sn;
	uint64_t actual;
	int r;

	memset(out, 0, sizeof(*out));
	r = dom_lock(d);
	if (r < 0)
		return r;
	if (!sp->balloon)
		goto out;     /* no balloon device: nothing to report */
	actual = kib_u(g->a);
	put(out, MC_STAT_ACTUAL, actual);
	if (sp->nostats)
		goto out;
	sn = g->snap;
	lie(g, &sn, actual);
	put(out, MC_STAT_UNUSED, sn.unused);
	put(out, MC_STAT_USABLE, sn.usable);
	put(out, MC_STAT_AVAILABLE, sn.total);
	put(out, MC_STAT_DISK_CACHES, sn.caches);
	put(out, MC_STAT_SWAP_IN, sn.swap_in);
	put(out, MC_STAT_SWAP_OUT, sn.swap_out);
	put(out, MC_STAT_MAJOR_FAULT, sn.major);
	put(out, MC_STAT_MINOR_FAULT, sn.minor);
	put(out, MC_STAT_LAST_UPDATE, sn.last_update);
out:
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int sim_dom_set_period(struct mc_hv_dom *d, int period_s)
{
	struct guest *g = d->g;
	int r;

	if (period_s < 0 || period_s > MAX_PERIOD_S) {
		mc_hv_set_error("sim: invalid stats period %d s", period_s);
		return -EINVAL;
	}
	r = dom_lock(d);
	if (r < 0)
		return r;
	g->period_s = period_s;
	g->next_snap = period_s > 0 ? g->t + (int64_t)period_s * MC_NS_PER_S : -1;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static int sim_set_memory(struct mc_hv *hv, const uint8_t uuid[MC_UUID_LEN], uint64_t kib)
{
	struct sim *s = hv->priv;
	struct guest *g = find_guest(s, uuid);
	int64_t now;
	int r = 0;

	if (!g)
		return no_domain(uuid);
	pthread_mutex_lock(&g->lock);
	if (atomic_load(&g->state) != GS_RUNNING) {
		pthread_mutex_unlock(&g->lock);
		return no_domain(uuid);
	}
	if (!g->sp->balloon) {
		mc_hv_set_error("sim: %s has no balloon device", g->res.name);
		r = -ENOTSUP;
		goto out;
	}
	if (kib == 0 || kib > g->sp->max_kib) {
		mc_hv_set_error("sim: %s: invalid balloon target %" PRIu64 " KiB (maximum %"
				PRIu64 " KiB)", g->res.name, kib, g->sp->max_kib);
		r = -EINVAL;
		goto out;
	}
	now = sim_now(s);
	guest_advance(s, g, now);
	pthread_mutex_lock(&s->hlock);
	host_eval(s, now);
	host_remove(s, g);
	g->b_a0 = bal_at(g, g->t);
	g->b_t0 = g->t;
	g->b_teff = dmax((double)kib, (double)g->sp->kernel_kib);
	g->target_kib = kib;
	if (host_add(s, g) < 0) {
		/* No room to track the move: the balloon stays where it is. */
		g->b_teff = g->b_a0;
		s->settled += bal_final(g);
		mc_hv_set_error("sim: out of memory");
		r = -ENOMEM;
	}
	host_note(s, host_sum(s));
	pthread_mutex_unlock(&s->hlock);
out:
	pthread_mutex_unlock(&g->lock);
	return r;
}

static int sim_host_mem(struct mc_hv *hv, struct mc_host_mem *out)
{
	struct sim *s = hv->priv;
	uint64_t used;
	double sum;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->hlock);
	host_eval(s, sim_now(s));
	sum = s->h_sum;
	pthread_mutex_unlock(&s->hlock);
	used = s->overhead_kib + kib_u(sum);
	out->total_kib = s->host_kib;
	out->free_kib = used < s->host_kib ? s->host_kib - used : 0;
	out->has_total = true;
	return 0;
}

static const struct mc_hv_ops sim_ops = {
	.name = "sim",
	.start = sim_start,
	.stop = sim_stop,
	.destroy = sim_destroy,
	.list = sim_list,
	.dom_open = sim_dom_open,
	.dom_close = sim_dom_close,
	.dom_info = sim_dom_info,
	.dom_stats = sim_dom_stats,
	.dom_set_period = sim_dom_set_period,
	.set_memory = sim_set_memory,
	.host_mem = sim_host_mem,
};

/* ---- public ---------------------------------------------------------------------- */

static int sim_create(const char *scenario_path, FILE *f, uint64_t low_kib,
		      const struct mc_hv_callbacks *cb, struct mc_hv **out,
		      char *err, size_t errlen)
{
	struct sim *s;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = mc_cond_init_monotonic(&s->cond);
	if (rc < 0) {
		free(s);
		return rc;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->hlock, NULL);
	pthread_mutex_init(&s->rlock, NULL);
	atomic_init(&s->started, false);
	atomic_init(&s->stop_flag, false);
	atomic_init(&s->freeze_ns, 0);
	atomic_init(&s->starts, 0);
	atomic_init(&s->stops, 0);
	s->speed = DEF_SPEED;
	s->duration_ns = DEF_DURATION_NS;
	s->seed = 1;
	s->period_s = DEF_PERIOD_S;
	s->host_kib = DEF_HOST_KIB;
	s->overhead_kib = DEF_OVERHEAD_KIB;
	s->low_kib = low_kib;
	spec_init(&s->defaults, SK_DEFAULTS);
	mc_strlcpy(s->defaults.secname, "defaults", sizeof(s->defaults.secname));
	s->path = strdup(scenario_path ? scenario_path : "");
	if (!s->path) {
		sim_free(s);
		return -ENOMEM;
	}
	rc = load(s, f, err, errlen);
	if (rc < 0) {
		sim_free(s);
		return rc;
	}
	s->min_free = s->host_kib - s->overhead_kib;
	s->hv.ops = &sim_ops;
	s->hv.priv = s;
	if (cb)
		s->hv.cb = *cb;
	*out = &s->hv;
	return 0;
}

int mc_hv_sim_create(const char *scenario_path, uint64_t low_kib,
		     const struct mc_hv_callbacks *cb, struct mc_hv **out,
		     char *err, size_t errlen)
{
	return sim_create(scenario_path, NULL, low_kib, cb, out, err, errlen);
}

int mc_hv_sim_create_stream(FILE *f, const char *name, uint64_t low_kib,
			    const struct mc_hv_callbacks *cb, struct mc_hv **out,
			    char *err, size_t errlen)
{
	return sim_create(name, f, low_kib, cb, out, err, errlen);
}

double mc_hv_sim_speed(struct mc_hv *hv)
{
	return ((struct sim *)hv->priv)->speed;
}

int64_t mc_hv_sim_duration_ms(struct mc_hv *hv)
{
	return ((struct sim *)hv->priv)->duration_ns / MC_NS_PER_MS;
}

uint64_t mc_hv_sim_budget_kib(struct mc_hv *hv)
{
	return ((struct sim *)hv->priv)->budget_kib;
}

const struct mc_sim_result *mc_hv_sim_result(struct mc_hv *hv)
{
	struct sim *s = hv->priv;
	struct mc_sim_result *r = &s->result;
	int64_t now = sim_now(s);
	size_t n = 0, k = 0;

	pthread_mutex_lock(&s->rlock);
	for (size_t i = 0; i < s->ng; i++)
		n += atomic_load(&s->g[i].state) != GS_PENDING;
	n += 64;   /* guests starting meanwhile */
	if (n > s->crg) {
		struct mc_sim_guest_result *v = realloc(s->rg, n * sizeof(*v));

		if (v) {
			s->rg = v;
			s->crg = n;
		}
	}
	for (size_t i = 0; i < s->ng && k < s->crg; i++) {
		struct guest *g = &s->g[i];
		struct mc_sim_guest_result *o = &s->rg[k];

		if (atomic_load(&g->state) == GS_PENDING)
			continue;
		pthread_mutex_lock(&g->lock);
		if (atomic_load(&g->state) == GS_RUNNING) {
			guest_advance(s, g, now);
			g->res.final_actual_kib = kib_u(g->a);
		}
		*o = g->res;
		o->moved_kib = kib_u(g->moved);
		o->held_kib_s = kib_u(g->held);
		o->below_low_ms = (int64_t)(g->below_ns / MC_NS_PER_MS);
		pthread_mutex_unlock(&g->lock);
		k++;
	}
	pthread_mutex_lock(&s->hlock);
	host_eval(s, now);
	r->host_min_free_kib = s->min_free;
	pthread_mutex_unlock(&s->hlock);
	r->nguests = k;
	r->guests = s->rg;
	r->host_total_kib = s->host_kib;
	r->budget_kib = s->budget_kib;
	r->duration_ms = now / MC_NS_PER_MS;
	r->starts = atomic_load(&s->starts);
	r->stops = atomic_load(&s->stops);
	pthread_mutex_unlock(&s->rlock);
	return r;
}
