/* memcoord — the INI configuration file: reading it (libinih) and printing
 * the effective configuration in the same format.
 *
 * libinih splits "key = value" lines (whitespace, inline "; comments");
 * Debian's build does not pass line numbers to the handler, so the lines are
 * fed to it through our own reader, which counts them, reads section headers
 * itself (inih truncates section names at 50 characters, and a domain name
 * may be longer), strips leading whitespace (so that an indented key is a
 * key, never a continuation of the previous value), and notices a line inih
 * could not parse (it calls the handler for no such line).
 *
 * Every problem is reported, one line each: "FILE:LINE: [section] key: message". */
#include "memcoord/errlist.h"
#include "memcoord/config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "memcoord/util.h"

/* Largest memory figure accepted: 64 TiB, in KiB (beyond any real host). */
#define MAX_MEM_KIB (64ULL * 1024 * 1024 * 1024)
/* Longest time accepted: one day, in ms. */
#define MAX_TIME_MS (86400LL * 1000)
#define MAX_STALE_SAMPLES 1000000
#define MAX_FAULTS_S 1000000000ULL
#define SHOW_LEN 48           /* at most this much of a bad value is echoed */

/* ---- the error list ------------------------------------------------------ */


/* A value from the file, safe to echo: printable, and not too long. */
static const char *show(const char *s, char out[SHOW_LEN + 4])
{
	size_t i;

	for (i = 0; s[i] && i < SHOW_LEN; i++)
		out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (s[i])
		memcpy(out + i, "...", 3), i += 3;
	out[i] = '\0';
	return out;
}

/* ---- values -------------------------------------------------------------- */

/* A decimal "123", "1.5" or ".5": value = whole + frac / fscale. Returns the
 * end, or NULL if there is no digit. Whole parts beyond 10^15 set *huge. */
static const char *parse_decimal(const char *s, uint64_t *whole, uint64_t *frac,
				 uint64_t *fscale, bool *huge, bool *toofine)
{
	const char *p = s;
	bool digits = false;

	*whole = 0, *frac = 0, *fscale = 1, *huge = false, *toofine = false;
	for (; *p >= '0' && *p <= '9'; p++, digits = true) {
		if (*whole > 1000000000000000ULL)
			*huge = true;
		else
			*whole = *whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		for (; *p >= '0' && *p <= '9'; p++, digits = true) {
			if (*fscale >= 1000000000ULL) {
				if (*p != '0')
					*toofine = true;
				continue;
			}
			*frac = *frac * 10 + (uint64_t)(*p - '0');
			*fscale *= 10;
		}
	}
	return digits ? p : NULL;
}

static const char *skip_spaces(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Memory: a bare number is MiB; K, M, G, T (optionally followed by "iB")
 * are binary units. With per_second, an optional "/s" may follow.
 * 0, -EINVAL (syntax), -ERANGE (above 64 TiB) or -EDOM (not whole KiB). */
static int parse_mem(const char *s, bool per_second, uint64_t *kib)
{
	uint64_t whole, frac, fscale, mult = 1024, f;
	bool huge, toofine, unit = true;
	const char *p = parse_decimal(s, &whole, &frac, &fscale, &huge, &toofine);

	if (!p)
		return -EINVAL;
	p = skip_spaces(p);
	switch (*p) {
	case 'k': case 'K': mult = 1; break;
	case 'm': case 'M': mult = 1024; break;
	case 'g': case 'G': mult = 1024ULL * 1024; break;
	case 't': case 'T': mult = 1024ULL * 1024 * 1024; break;
	default: unit = false; break;
	}
	if (unit && strncasecmp(++p, "ib", 2) == 0)
		p += 2;
	if (per_second && strncmp(p, "/s", 2) == 0)
		p += 2;
	if (*p)
		return -EINVAL;
	if (huge || whole > MAX_MEM_KIB / mult)
		return -ERANGE;
	f = frac * mult;  /* frac < 10^9 < 2^30 and mult <= 2^30: no overflow */
	if (toofine || f % fscale)
		return -EDOM;
	*kib = whole * mult + f / fscale;
	return *kib > MAX_MEM_KIB ? -ERANGE : 0;
}

/* Time: a bare number is seconds (decimals allowed), or a number followed
 * by "s" or "ms". 0, -EINVAL, -ERANGE (above a day) or -EDOM (not whole ms). */
static int parse_time(const char *s, int64_t *ms)
{
	uint64_t whole, frac, fscale, mult = 1000, f, v;
	bool huge, toofine;
	const char *p = parse_decimal(s, &whole, &frac, &fscale, &huge, &toofine);

	if (!p)
		return -EINVAL;
	p = skip_spaces(p);
	if (strcmp(p, "ms") == 0)
		mult = 1, p += 2;
	else if (strcmp(p, "s") == 0)
		p++;
	if (*p)
		return -EINVAL;
	if (huge || whole > (uint64_t)MAX_TIME_MS / mult)
		return -ERANGE;
	f = frac * mult;
	if (toofine || f % fscale)
		return -EDOM;
	v = whole * mult + f / fscale;
	if (v > (uint64_t)MAX_TIME_MS)
		return -ERANGE;
	*ms = (int64_t)v;
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

static const struct {
	const char *name;
	enum mc_log_level level;
} log_levels[] = {
	{"error", MC_LOG_ERR}, {"warning", MC_LOG_WARNING}, {"notice", MC_LOG_NOTICE},
	{"info", MC_LOG_INFO}, {"debug", MC_LOG_DEBUG},
};

static const char *log_level_name(enum mc_log_level l)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (log_levels[i].level == l)
			return log_levels[i].name;
	return "info";
}

/* The policy names mc_policy_find knows, for messages ("seed, balance"). */
static const char *known_policies(char *buf, size_t len)
{
	static const char *const names[] = {"seed", "balance"};
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (mc_policy_find(names[i]) && n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", names[i]);
	return buf;
}

/* ---- the sections and their keys ---------------------------------------- */

enum ktype {
	K_URI,       /* char *, NULL = unset (a URI or a path) */
	K_POLICY,    /* char[32], a name mc_policy_find knows */
	K_LOGLEVEL,  /* enum mc_log_level */
	K_LOGTARGET, /* enum mc_log_target */
	K_BOOL,      /* bool */
	K_MEM,       /* uint64_t KiB */
	K_RATE,      /* uint64_t KiB per second */
	K_MS_INT,    /* int, ms */
	K_MS,        /* int64_t, ms */
	K_SEC_INT,   /* int, whole seconds */
	K_U32,       /* uint32_t count */
	K_U64,       /* uint64_t count */
};

#define NO_FLAG ((size_t)-1)

struct keydef {
	const char *name;
	enum ktype type;
	size_t off;        /* in struct mc_config, or mc_dom_cfg for [domain:] */
	size_t flag_off;   /* a bool set when the key is given; NO_FLAG if none */
	uint64_t min, max; /* in the field's unit */
	const char *doc;   /* the comment printed above the key */
};

#define CF(m) offsetof(struct mc_config, m)
#define DF(m) offsetof(struct mc_dom_cfg, m)
#define MEM_DOC "MiB, or a K/M/G/T suffix"
#define TIME_DOC "seconds (decimals allowed), or an ms suffix"

static const struct keydef daemon_keys[] = {
	{"uri", K_URI, CF(uri), NO_FLAG, 0, 0,
	 "libvirt URI (unset: $LIBVIRT_DEFAULT_URI, else qemu:///system)"},
	{"policy", K_POLICY, CF(policy), NO_FLAG, 0, 0,
	 "decision policy: seed or balance"},
	{"interval", K_MS_INT, CF(interval_ms), NO_FLAG, 1, MAX_TIME_MS,
	 "decision interval; " TIME_DOC},
	{"stats_period", K_SEC_INT, CF(stats_period_s), NO_FLAG, 1, 86400,
	 "guest balloon statistics period, whole seconds"},
	{"dry_run", K_BOOL, CF(dry_run), NO_FLAG, 0, 0,
	 "decide and log \"would set\", change nothing: true or false"},
	{"log_level", K_LOGLEVEL, CF(log_level), NO_FLAG, 0, 0,
	 "error, warning, notice, info or debug (-v on the command line: debug)"},
	{"log_target", K_LOGTARGET, CF(log_target), NO_FLAG, 0, 0,
	 "where log lines go: stderr, syslog, or auto (stderr; syslog when stderr"
	 " is closed or /dev/null)"},
	{"resync", K_SEC_INT, CF(resync_s), NO_FLAG, 1, 86400,
	 "full domain listing (repairs missed events) every this many whole seconds"},
	{"control_socket", K_URI, CF(control_socket), NO_FLAG, 0, 0,
	 "status socket path (unset: /run/memcoord/memcoord.sock; none: no socket)"},
	{"metrics_listen", K_URI, CF(metrics_listen), NO_FLAG, 0, 0,
	 "Prometheus metrics on ADDR:PORT, or PORT on 127.0.0.1 (unset: off)"},
	{"metrics_allow_remote", K_BOOL, CF(metrics_allow_remote), NO_FLAG, 0, 0,
	 "allow a non-loopback metrics_listen address: true or false"},
	{"connections", K_U32, CF(connections), NO_FLAG, 1, MC_MAX_CONNECTIONS,
	 "libvirt connections the collectors' calls are spread over (1..16; 1: one shared)"},
};

static const struct keydef host_keys[] = {
	{"reserve", K_MEM, CF(host_reserve_kib), CF(host_reserve_set), 0, MAX_MEM_KIB,
	 "host memory never granted to guests; " MEM_DOC
	 " (unset: max(512 MiB, 2% of host RAM))"},
	{"budget", K_MEM, CF(params.bal.budget_kib), NO_FLAG, 0, MAX_MEM_KIB,
	 "cap on the sum of all guests' balloons (balance policy); " MEM_DOC "; 0 = none"},
};

static const struct keydef defaults_keys[] = {
	{"floor", K_MEM, CF(floor_kib), NO_FLAG, 0, MAX_MEM_KIB,
	 "no guest is shrunk below this (nor below its <min_guarantee>); " MEM_DOC},
	{"weight", K_U32, CF(weight), NO_FLAG, 1, MC_MAX_WEIGHT,
	 "share of memory under contention, 1..1000"},
};

static const struct keydef seed_keys[] = {
	{"loaded", K_MEM, CF(params.seed.loaded_kib), NO_FLAG, 1, MAX_MEM_KIB,
	 "unused memory at or below which a guest is loaded; " MEM_DOC},
	{"free", K_MEM, CF(params.seed.free_kib), NO_FLAG, 1, MAX_MEM_KIB,
	 "unused memory at or above which a guest wastes memory (> loaded); " MEM_DOC},
};

static const struct keydef balance_keys[] = {
	{"low", K_MEM, CF(params.bal.low_kib), NO_FLAG, 0, MAX_MEM_KIB,
	 "grow a guest whose headroom falls below this; " MEM_DOC},
	{"target", K_MEM, CF(params.bal.target_kib), NO_FLAG, 1, MAX_MEM_KIB,
	 "headroom a grow restores (low < target < high); " MEM_DOC},
	{"high", K_MEM, CF(params.bal.high_kib), NO_FLAG, 1, MAX_MEM_KIB,
	 "headroom above this is surplus; " MEM_DOC},
	{"shrink_step", K_MEM, CF(params.bal.shrink_step_kib), NO_FLAG, 1, MAX_MEM_KIB,
	 "most a guest is shrunk by in one decision; " MEM_DOC},
	{"shrink_pct", K_U32, CF(params.bal.shrink_pct), NO_FLAG, 0, 100,
	 "or this per cent of the surplus above target, when larger (0..100)"},
	{"cooldown", K_MS, CF(params.bal.cooldown_ms), NO_FLAG, 1, MAX_TIME_MS,
	 "no shrink this long after a grow; " TIME_DOC},
	{"horizon", K_MS, CF(params.bal.horizon_ms), NO_FLAG, 1, MAX_TIME_MS,
	 "a grow covers the predicted use over this long; " TIME_DOC},
	{"stuck", K_MS, CF(params.bal.stuck_ms), NO_FLAG, 1, MAX_TIME_MS,
	 "a balloon not at its target this long after a change is stuck; " TIME_DOC},
	{"stuck_recheck", K_MS, CF(params.bal.stuck_recheck_ms), NO_FLAG, 1, MAX_TIME_MS,
	 "a stuck guest is tried again after this; " TIME_DOC},
	{"stale_samples", K_U32, CF(params.bal.stale_samples), NO_FLAG, 1, MAX_STALE_SAMPLES,
	 "this many samples without a new guest timestamp: stale (a count)"},
	{"swap_pressure", K_RATE, CF(params.bal.swap_pressure_kib_s), NO_FLAG, 1, MAX_MEM_KIB,
	 "swap in + out at or above this is pressure; memory per second (1M = 1 MiB/s)"},
	{"fault_pressure", K_U64, CF(params.bal.fault_pressure_s), NO_FLAG, 1, MAX_FAULTS_S,
	 "major page faults per second at or above this are pressure (a count)"},
};

static const struct keydef domain_keys[] = {
	{"floor", K_MEM, DF(floor_kib), DF(has_floor), 0, MAX_MEM_KIB,
	 "never shrink this guest below this; " MEM_DOC " (unset: [defaults] floor)"},
	{"max", K_MEM, DF(max_kib), DF(has_max), 1, MAX_MEM_KIB,
	 "never grow this guest above this; " MEM_DOC " (unset: its <memory>)"},
	{"weight", K_U32, DF(weight), DF(has_weight), 1, MC_MAX_WEIGHT,
	 "share under contention, 1..1000 (unset: [defaults] weight)"},
	{"exclude", K_BOOL, DF(exclude), NO_FLAG, 0, 0,
	 "never act on this guest: true or false"},
};

enum sect { S_DAEMON, S_HOST, S_DEFAULTS, S_SEED, S_BALANCE, S_DOMAIN, S_COUNT,
	    S_NONE, S_INVALID };

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_KEYS_PER_SECTION 16

static const struct {
	const char *name;
	const struct keydef *keys;
	size_t nkeys;
} sections[S_COUNT] = {
	[S_DAEMON] = {"daemon", daemon_keys, NKEYS(daemon_keys)},
	[S_HOST] = {"host", host_keys, NKEYS(host_keys)},
	[S_DEFAULTS] = {"defaults", defaults_keys, NKEYS(defaults_keys)},
	[S_SEED] = {"seed", seed_keys, NKEYS(seed_keys)},
	[S_BALANCE] = {"balance", balance_keys, NKEYS(balance_keys)},
	[S_DOMAIN] = {"domain", domain_keys, NKEYS(domain_keys)},
};

/* ---- the loader ---------------------------------------------------------- */

struct loader {
	const char *path;
	FILE *f;
	struct mc_config *c;
	struct mc_errlist e;
	bool nomem;
	int read_errno;             /* a read error (EISDIR, EIO) */

	char *buf;                  /* getline's */
	size_t bufcap;
	int lineno;

	int pending_line;           /* a key line handed to inih, 0: none */
	bool pending_seen;          /* inih called the handler for it */
	char pending_text[SHOW_LEN + 4];

	enum sect sect;
	char secname[MC_NAME_LEN + 16];   /* as written, for messages */
	ssize_t dom;                /* index into c->doms; -1: scratch */
	struct mc_dom_cfg scratch;  /* a duplicate section's values: checked, dropped */
	int seen[S_COUNT][MAX_KEYS_PER_SECTION];  /* line a key was set on */
};

_Static_assert(NKEYS(balance_keys) <= MAX_KEYS_PER_SECTION, "seen[] too small");
_Static_assert(NKEYS(daemon_keys) <= MAX_KEYS_PER_SECTION, "seen[] too small");

#define FILE_ERR(ld, ...) mc_errlist_add(&(ld)->e, __VA_ARGS__)

/* The previous key line: if inih did not call the handler for it, inih
 * could not parse it (no '=' or ':' before any comment). */
static void finish_line(struct loader *ld)
{
	if (ld->pending_line && !ld->pending_seen)
		FILE_ERR(ld, "%s:%d: %s%s%scannot parse '%s' (expected key = value)",
			 ld->path, ld->pending_line,
			 ld->sect < S_COUNT ? "[" : "", ld->sect < S_COUNT ? ld->secname : "",
			 ld->sect < S_COUNT ? "]: " : "", ld->pending_text);
	ld->pending_line = 0;
}

static bool same_key(const struct mc_dom_cfg *a, const struct mc_dom_cfg *b)
{
	if (a->by_uuid != b->by_uuid)
		return false;
	return a->by_uuid ? memcmp(a->uuid, b->uuid, MC_UUID_LEN) == 0
			  : strcmp(a->key, b->key) == 0;
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

static void start_domain(struct loader *ld, char *key)
{
	struct mc_dom_cfg d = {0};
	char shown[SHOW_LEN + 4];
	struct mc_dom_cfg *n;

	ld->sect = S_INVALID;
	if (!*key) {
		FILE_ERR(ld, "%s:%d: [%s]: missing the domain name or UUID ([domain:NAME])",
			 ld->path, ld->lineno, ld->secname);
		return;
	}
	if (strlen(key) >= MC_NAME_LEN) {
		FILE_ERR(ld, "%s:%d: [domain:%s]: domain name too long (at most %d characters)",
			 ld->path, ld->lineno, show(key, shown), MC_NAME_LEN - 1);
		return;
	}
	mc_strlcpy(d.key, key, sizeof(d.key));
	d.by_uuid = mc_uuid_parse(key, d.uuid) == 0;
	d.line = ld->lineno;
	memset(ld->seen[S_DOMAIN], 0, sizeof(ld->seen[S_DOMAIN]));
	ld->sect = S_DOMAIN;
	for (size_t i = 0; i < ld->c->ndoms; i++)
		if (same_key(&ld->c->doms[i], &d)) {
			FILE_ERR(ld, "%s:%d: [%s]: duplicate section (first at line %d)",
				 ld->path, ld->lineno, ld->secname, ld->c->doms[i].line);
			ld->scratch = d;
			ld->dom = -1;
			return;
		}
	n = realloc(ld->c->doms, (ld->c->ndoms + 1) * sizeof(*n));
	if (!n) {
		ld->nomem = true;
		ld->sect = S_INVALID;
		return;
	}
	ld->c->doms = n;
	ld->dom = (ssize_t)ld->c->ndoms;
	n[ld->c->ndoms++] = d;
}

/* A "[name]" line (s starts at '['). */
static void start_section(struct loader *ld, char *s)
{
	char shown[SHOW_LEN + 4];
	char *end = strchr(s, ']'), *name, *rest;

	ld->sect = S_INVALID;
	ld->secname[0] = '\0';
	if (!end) {
		FILE_ERR(ld, "%s:%d: cannot parse section header '%s' (missing ']')",
			 ld->path, ld->lineno, show(s, shown));
		return;
	}
	*end = '\0';
	rest = trim(end + 1);
	name = trim(s + 1);
	mc_strlcpy(ld->secname, show(name, shown), sizeof(ld->secname));
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			FILE_ERR(ld, "%s:%d: [%s]: the section name contains control characters",
				 ld->path, ld->lineno, ld->secname);
			return;
		}
	if (*rest && *rest != ';' && *rest != '#') {
		FILE_ERR(ld, "%s:%d: [%s]: unexpected text after ']': '%s'",
			 ld->path, ld->lineno, ld->secname, show(rest, shown));
		return;
	}
	for (int i = 0; i < S_DOMAIN; i++)
		if (strcasecmp(name, sections[i].name) == 0) {
			ld->sect = (enum sect)i;
			return;
		}
	if (strncasecmp(name, "domain:", 7) == 0) {
		if (strlen(name) < sizeof(ld->secname))
			snprintf(ld->secname, sizeof(ld->secname), "domain:%s", trim(name + 7));
		start_domain(ld, trim(name + 7));
		return;
	}
	FILE_ERR(ld, "%s:%d: [%s]: unknown section (known: daemon, host, defaults, seed,"
		 " balance, domain:NAME, domain:UUID)", ld->path, ld->lineno, ld->secname);
}

/* inih's reader: one physical line per call, counted. Section headers,
 * comments, blank and overlong lines are handled here and handed to inih
 * as blank lines; key lines go to inih without their leading whitespace. */
static char *read_line(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	char shown[SHOW_LEN + 4];
	ssize_t n;
	char *s;

	finish_line(ld);
	if (ld->nomem || num < 3)
		return NULL;
	errno = 0;
	n = getline(&ld->buf, &ld->bufcap, ld->f);
	if (n < 0) {
		if (errno == ENOMEM)
			ld->nomem = true;
		else if (ferror(ld->f))
			ld->read_errno = errno ? errno : EIO;
		return NULL;
	}
	ld->lineno++;
	while (n > 0 && (ld->buf[n - 1] == '\n' || ld->buf[n - 1] == '\r'))
		ld->buf[--n] = '\0';
	s = ld->buf;
	if (ld->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;   /* UTF-8 byte order mark */
	while (*s == ' ' || *s == '\t')
		s++;
	if (strlen(s) != (size_t)(n - (s - ld->buf))) {
		FILE_ERR(ld, "%s:%d: the line contains a NUL byte", ld->path, ld->lineno);
		s = "";
	} else if (*s == '[') {
		start_section(ld, s);
		s = "";
	} else if (*s == ';' || *s == '#') {
		s = "";
	} else if (*s && strlen(s) + 2 > (size_t)num) {
		FILE_ERR(ld, "%s:%d: line too long (at most %d characters): '%s'",
			 ld->path, ld->lineno, num - 2, show(s, shown));
		s = "";
	} else if (*s) {
		ld->pending_line = ld->lineno;
		ld->pending_seen = false;
		show(s, ld->pending_text);
	}
	snprintf(str, (size_t)num, "%s\n", s);
	return str;
}

static void key_err(struct loader *ld, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void key_err(struct loader *ld, const char *key, const char *fmt, ...)
{
	char msg[400], shown[SHOW_LEN + 4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	FILE_ERR(ld, "%s:%d: [%s] %s: %s", ld->path, ld->lineno, ld->secname,
		 show(key, shown), msg);
}

static void key_list(const struct keydef *keys, size_t n, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", keys[i].name);
}

/* Parse value for k and store it at base + k->off. */
static void set_value(struct loader *ld, const struct keydef *k, void *base,
		      const char *value)
{
	char shown[SHOW_LEN + 4], known[64];
	char *field = (char *)base + k->off;
	const char *v = show(value, shown);
	uint64_t u = 0;
	int64_t ms = 0;
	bool b;
	int rc;

	switch (k->type) {
	case K_URI: {
		char *dup;

		for (const char *p = value; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				key_err(ld, k->name, "'%s' contains control characters", v);
				return;
			}
		dup = strdup(value);
		if (!dup) {
			ld->nomem = true;
			return;
		}
		free(*(char **)field);
		*(char **)field = dup;
		break;
	}
	case K_POLICY:
		if (!mc_policy_find(value) || strlen(value) >= sizeof(ld->c->policy)) {
			key_err(ld, k->name, "unknown policy '%s' (known: %s)", v,
				known_policies(known, sizeof(known)));
			return;
		}
		mc_strlcpy(field, value, sizeof(ld->c->policy));
		break;
	case K_LOGLEVEL: {
		size_t i, n = sizeof(log_levels) / sizeof(log_levels[0]);

		for (i = 0; i < n; i++)
			if (strcasecmp(value, log_levels[i].name) == 0)
				break;
		if (i == n) {
			key_err(ld, k->name, "unknown log level '%s'"
				" (error, warning, notice, info or debug)", v);
			return;
		}
		*(enum mc_log_level *)field = log_levels[i].level;
		break;
	}
	case K_LOGTARGET:
		if (mc_log_target_parse(value, (enum mc_log_target *)field) < 0) {
			key_err(ld, k->name, "unknown log target '%s' (stderr, syslog or auto)", v);
			return;
		}
		break;
	case K_BOOL:
		if (parse_bool(value, &b) < 0) {
			key_err(ld, k->name, "'%s' is not a boolean"
				" (true/false, yes/no, on/off, 1/0)", v);
			return;
		}
		*(bool *)field = b;
		break;
	case K_MEM:
	case K_RATE:
		rc = parse_mem(value, k->type == K_RATE, &u);
		if (rc == -EINVAL) {
			key_err(ld, k->name, k->type == K_RATE
				? "'%s' is not a memory rate (e.g. 1M meaning 1 MiB/s, 512K)"
				: "'%s' is not a memory size (e.g. 128, 512M, 2G)", v);
			return;
		}
		if (rc == -EDOM) {
			key_err(ld, k->name, "'%s' is not a whole number of KiB", v);
			return;
		}
		if (rc == -ERANGE || u > k->max) {
			key_err(ld, k->name, "'%s' is too large (at most 64T)", v);
			return;
		}
		if (u < k->min) {
			key_err(ld, k->name, "'%s' must be greater than 0", v);
			return;
		}
		*(uint64_t *)field = u;
		break;
	case K_MS:
	case K_MS_INT:
	case K_SEC_INT:
		rc = parse_time(value, &ms);
		if (rc == -EINVAL) {
			key_err(ld, k->name, k->type == K_SEC_INT
				? "'%s' is not a whole number of seconds (e.g. 1, 60)"
				: "'%s' is not a time (e.g. 2, 0.5, 250ms)", v);
			return;
		}
		if (rc == -EDOM) {
			key_err(ld, k->name, "'%s' is not a whole number of milliseconds", v);
			return;
		}
		if (rc == -ERANGE) {
			key_err(ld, k->name, "'%s' is too long (at most one day, 86400 s)", v);
			return;
		}
		if (k->type == K_SEC_INT) {
			if (ms % 1000) {
				key_err(ld, k->name, "'%s' is not a whole number of seconds", v);
				return;
			}
			ms /= 1000;
		}
		if ((uint64_t)ms < k->min) {
			key_err(ld, k->name, "'%s' must be greater than 0", v);
			return;
		}
		if (k->type == K_MS)
			*(int64_t *)field = ms;
		else
			*(int *)field = (int)ms;
		break;
	case K_U32:
	case K_U64:
		rc = mc_parse_u64(value, &u);
		if (rc == -EINVAL) {
			key_err(ld, k->name, "'%s' is not a whole number", v);
			return;
		}
		if (rc < 0 || u < k->min || u > k->max) {
			key_err(ld, k->name, "'%s' is out of range (%llu..%llu)", v,
				(unsigned long long)k->min, (unsigned long long)k->max);
			return;
		}
		if (k->type == K_U32)
			*(uint32_t *)field = (uint32_t)u;
		else
			*(uint64_t *)field = u;
		break;
	}
	if (k->flag_off != NO_FLAG)
		*((bool *)((char *)base + k->flag_off)) = true;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;
	const struct keydef *keys, *k = NULL;
	char known[200];
	size_t nkeys, i;
	void *base;

	(void)section;   /* ours is ld->sect: inih truncates long names */
	ld->pending_seen = true;
	if (ld->nomem || ld->sect == S_INVALID)
		return 1;    /* the section header was reported already */
	if (ld->sect == S_NONE) {
		char shown[SHOW_LEN + 4];

		FILE_ERR(ld, "%s:%d: %s: key outside any section (put it under [daemon],"
			 " [balance], ...)", ld->path, ld->lineno, show(name, shown));
		return 1;
	}
	if (!*name) {
		FILE_ERR(ld, "%s:%d: [%s]: missing key name before '='",
			 ld->path, ld->lineno, ld->secname);
		return 1;
	}
	keys = sections[ld->sect].keys;
	nkeys = sections[ld->sect].nkeys;
	for (i = 0; i < nkeys; i++)
		if (strcasecmp(name, keys[i].name) == 0) {
			k = &keys[i];
			break;
		}
	if (!k) {
		key_list(keys, nkeys, known, sizeof(known));
		key_err(ld, name, "unknown key (known: %s)", known);
		return 1;
	}
	if (ld->seen[ld->sect][i]) {
		key_err(ld, k->name, "set twice (first at line %d)", ld->seen[ld->sect][i]);
		return 1;
	}
	ld->seen[ld->sect][i] = ld->lineno;
	if (!*value) {
		key_err(ld, k->name, "empty value");
		return 1;
	}
	/* "key =;x" gives the value ";x", "key = ;x" a comment: a value
	 * cannot start with ';' and mean the same in both (--check-config's
	 * output would read back empty). Found by fuzzing. */
	if (*value == ';') {
		key_err(ld, k->name, "a value cannot start with ';' (that starts a comment)");
		return 1;
	}
	if (ld->sect == S_DOMAIN)
		base = ld->dom >= 0 ? (void *)&ld->c->doms[ld->dom] : (void *)&ld->scratch;
	else
		base = ld->c;
	set_value(ld, k, base, value);
	return 1;
}

int mc_config_load_stream(struct mc_config *c, FILE *f, const char *name,
			  char *err, size_t errlen)
{
	struct loader ld = {
		.path = name, .f = f, .c = c, .e = {.buf = err, .cap = err ? errlen : 0},
		.sect = S_NONE, .dom = -1,
	};
	int rc = 0;

	if (err && errlen)
		err[0] = '\0';
	/* Only a failure of inih's own allocation matters here: a line it
	 * cannot parse is found by finish_line. */
	if (ini_parse_stream(read_line, &ld, on_key, &ld) == -2)
		ld.nomem = true;
	finish_line(&ld);
	if (ld.read_errno && !ld.nomem) {
		rc = -ld.read_errno;
		mc_errlist_init(&ld.e, err, errlen);   /* only this problem */
		mc_errlist_add(&ld.e, "cannot read %s: %s", name, strerror(-rc));
	} else if (ld.nomem) {
		rc = -ENOMEM;
		mc_errlist_init(&ld.e, err, errlen);   /* only this problem */
		mc_errlist_add(&ld.e, "%s: out of memory", name);
	} else if (ld.e.n) {
		rc = -EINVAL;
	} else {
		/* Where the keys checked together were set, for
		 * validation's message should they contradict each other. */
		static const char *const wm[] = {"low", "target", "high"};
		static const char *const seed[] = {"loaded", "free"};

		for (size_t j = 0; j < 3; j++)
			for (size_t i = 0; i < NKEYS(balance_keys); i++)
				if (!strcmp(balance_keys[i].name, wm[j]))
					c->wm_line[j] = ld.seen[S_BALANCE][i];
		for (size_t j = 0; j < 2; j++)
			for (size_t i = 0; i < NKEYS(seed_keys); i++)
				if (!strcmp(seed_keys[i].name, seed[j]))
					c->seed_line[j] = ld.seen[S_SEED][i];
	}
	free(ld.buf);
	mc_errlist_finish(&ld.e);
	return rc;
}

int mc_config_load_file(struct mc_config *c, const char *path, char *err, size_t errlen)
{
	struct mc_errlist e;
	FILE *f;
	int rc;

	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		mc_errlist_init(&e, err, err ? errlen : 0);
		mc_errlist_add(&e, "cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = mc_config_load_stream(c, f, path, err, errlen);
	fclose(f);
	if (rc == 0 && (!c->config_path || strcmp(c->config_path, path) != 0)) {
		char *p = strdup(path);

		if (!p) {
			mc_errlist_init(&e, err, err ? errlen : 0);
			mc_errlist_add(&e, "%s: out of memory", path);
			return -ENOMEM;
		}
		free(c->config_path);
		c->config_path = p;
	}
	return rc;
}

/* ---- printing ------------------------------------------------------------ */

/* The largest binary unit that represents kib exactly: "512M", "2G", "100K". */
static const char *fmt_mem(uint64_t kib, char buf[32])
{
	static const struct { char unit; uint64_t kib; } units[] = {
		{'T', 1024ULL * 1024 * 1024}, {'G', 1024ULL * 1024}, {'M', 1024},
	};

	if (kib == 0) {
		snprintf(buf, 32, "0");
		return buf;
	}
	for (size_t i = 0; i < 3; i++)
		if (kib % units[i].kib == 0) {
			snprintf(buf, 32, "%llu%c", (unsigned long long)(kib / units[i].kib),
				 units[i].unit);
			return buf;
		}
	snprintf(buf, 32, "%lluK", (unsigned long long)kib);
	return buf;
}

/* Seconds with no more decimals than needed: "1", "0.5", "1.25". */
static const char *fmt_ms(int64_t ms, char buf[32])
{
	int n;

	if (ms % 1000 == 0) {
		snprintf(buf, 32, "%lld", (long long)(ms / 1000));
		return buf;
	}
	n = snprintf(buf, 32, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	return buf;
}

static void print_key(FILE *out, const struct keydef *k, const void *base)
{
	const char *field = (const char *)base + k->off;
	bool set = k->flag_off == NO_FLAG || *(const bool *)((const char *)base + k->flag_off);
	char buf[32];
	const char *v = buf;

	switch (k->type) {
	case K_URI:
		v = *(char *const *)field;
		set = v != NULL;
		if (!v)
			v = "";
		break;
	case K_POLICY:
		v = field;
		break;
	case K_LOGLEVEL:
		v = log_level_name(*(const enum mc_log_level *)field);
		break;
	case K_LOGTARGET:
		v = mc_log_target_name(*(const enum mc_log_target *)field);
		break;
	case K_BOOL:
		v = *(const bool *)field ? "true" : "false";
		break;
	case K_MEM:
	case K_RATE:
		fmt_mem(*(const uint64_t *)field, buf);
		break;
	case K_MS:
		fmt_ms(*(const int64_t *)field, buf);
		break;
	case K_MS_INT:
		fmt_ms(*(const int *)field, buf);
		break;
	case K_SEC_INT:
		snprintf(buf, sizeof(buf), "%d", *(const int *)field);
		break;
	case K_U32:
		snprintf(buf, sizeof(buf), "%u", *(const uint32_t *)field);
		break;
	case K_U64:
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)*(const uint64_t *)field);
		break;
	}
	fprintf(out, "# %s\n", k->doc);
	if (set)
		fprintf(out, "%s = %s\n", k->name, v);
	else
		fprintf(out, "#%s =\n", k->name);
}

void mc_config_print(const struct mc_config *c, FILE *out)
{
	struct mc_config eff = *c;   /* shallow: only to show the effective level */

	if (c->verbose)
		eff.log_level = MC_LOG_DEBUG;
	fprintf(out, "# memcoord %s: the effective configuration (%s", MC_VERSION,
		c->config_path ? "file " : "no configuration file");
	for (const char *p = c->config_path ? c->config_path : ""; *p; p++)
		fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, out);
	fprintf(out, ")\n");
	fprintf(out, "# Memory: a bare number is MiB; K, M, G and T (also KiB, MiB, ...)"
		" are binary units.\n# Times: a bare number is seconds; decimals and the"
		" suffixes s and ms are allowed.\n");
	for (int s = 0; s < S_DOMAIN; s++) {
		fprintf(out, "\n[%s]\n", sections[s].name);
		for (size_t i = 0; i < sections[s].nkeys; i++)
			print_key(out, &sections[s].keys[i], &eff);
	}
	for (size_t d = 0; d < c->ndoms; d++) {
		fprintf(out, "\n# a domain %s\n[domain:%s]\n",
			c->doms[d].by_uuid ? "by UUID" : "by name", c->doms[d].key);
		for (size_t i = 0; i < NKEYS(domain_keys); i++)
			print_key(out, &domain_keys[i], &c->doms[d]);
	}
}
