/* memcoord — configuration: defaults, the command line, validation, and the
 * build sequence (defaults, file, command line). The INI file itself is read
 * and printed by config_file.c. */
#include "memcoord/errlist.h"
#include "memcoord/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "memcoord/metrics.h"
#include "memcoord/util.h"

/* Largest memory value accepted on the command line: 1 PiB in MiB. Anything
 * above is a typo, and keeps KiB arithmetic far from overflow. */
#define MAX_MIB (1024ULL * 1024 * 1024)
/* Longest interval or period: one day. */
#define MAX_SECONDS 86400

void mc_config_defaults(struct mc_config *c)
{
	struct mc_balance_params *b = &c->params.bal;

	memset(c, 0, sizeof(*c));
	mc_strlcpy(c->policy, MC_DEF_POLICY, sizeof(c->policy));
	c->interval_ms = MC_DEF_INTERVAL_MS;
	c->stats_period_s = MC_DEF_STATS_PERIOD_S;
	c->params.seed.loaded_kib = mc_mib_to_kib(MC_DEF_LOADED_MIB);
	c->params.seed.free_kib = mc_mib_to_kib(MC_DEF_FREE_MIB);
	b->low_kib = mc_mib_to_kib(MC_DEF_LOW_MIB);
	b->target_kib = mc_mib_to_kib(MC_DEF_TARGET_MIB);
	b->high_kib = mc_mib_to_kib(MC_DEF_HIGH_MIB);
	b->shrink_step_kib = mc_mib_to_kib(MC_DEF_SHRINK_STEP_MIB);
	b->shrink_pct = MC_DEF_SHRINK_PCT;
	b->cooldown_ms = MC_DEF_COOLDOWN_MS;
	b->horizon_ms = MC_DEF_HORIZON_MS;
	b->stale_samples = MC_DEF_STALE_SAMPLES;
	b->stuck_ms = MC_DEF_STUCK_MS;
	b->stuck_recheck_ms = MC_DEF_STUCK_RECHECK_MS;
	b->swap_pressure_kib_s = MC_DEF_SWAP_PRESSURE_KIB_S;
	b->fault_pressure_s = MC_DEF_FAULT_PRESSURE_S;
	b->budget_kib = 0;
	b->host_reserve_kib = 0;    /* filled in from host_reserve_kib at start */
	c->floor_kib = mc_mib_to_kib(MC_DEF_FLOOR_MIB);
	c->weight = MC_DEF_WEIGHT;
	c->log_level = MC_LOG_INFO;
	c->log_target = MC_LOG_TARGET_AUTO;
	c->resync_s = MC_DEF_RESYNC_S;
	c->connections = MC_DEF_CONNECTIONS;
}

void mc_config_free(struct mc_config *c)
{
	if (!c)
		return;
	free(c->uri);
	c->uri = NULL;
	free(c->config_path);
	c->config_path = NULL;
	free(c->sim_path);
	c->sim_path = NULL;
	free(c->trace_path);
	c->trace_path = NULL;
	free(c->control_socket);
	c->control_socket = NULL;
	free(c->metrics_listen);
	c->metrics_listen = NULL;
	free(c->doms);
	c->doms = NULL;
	c->ndoms = 0;
}

/* dst is treated as uninitialised; on failure it owns nothing (free-able). */
int mc_config_copy(struct mc_config *dst, const struct mc_config *src)
{
	*dst = *src;
	dst->uri = NULL;
	dst->config_path = NULL;
	dst->sim_path = NULL;
	dst->trace_path = NULL;
	dst->control_socket = NULL;
	dst->metrics_listen = NULL;
	dst->doms = NULL;
	dst->ndoms = 0;
	if (src->uri && !(dst->uri = strdup(src->uri)))
		goto nomem;
	if (src->config_path && !(dst->config_path = strdup(src->config_path)))
		goto nomem;
	if (src->sim_path && !(dst->sim_path = strdup(src->sim_path)))
		goto nomem;
	if (src->trace_path && !(dst->trace_path = strdup(src->trace_path)))
		goto nomem;
	if (src->control_socket && !(dst->control_socket = strdup(src->control_socket)))
		goto nomem;
	if (src->metrics_listen && !(dst->metrics_listen = strdup(src->metrics_listen)))
		goto nomem;
	if (src->ndoms) {
		dst->doms = calloc(src->ndoms, sizeof(*dst->doms));
		if (!dst->doms)
			goto nomem;
		memcpy(dst->doms, src->doms, src->ndoms * sizeof(*dst->doms));
		dst->ndoms = src->ndoms;
	}
	return 0;
nomem:
	mc_config_free(dst);
	return -ENOMEM;
}

uint64_t mc_config_default_reserve_kib(uint64_t total_kib)
{
	uint64_t pct = total_kib / 100 * MC_DEF_RESERVE_PCT;
	uint64_t min = mc_mib_to_kib(MC_DEF_RESERVE_MIN_MIB);

	return pct > min ? pct : min;
}

const struct mc_dom_cfg *mc_config_find_domain(const struct mc_config *c,
					       const uint8_t uuid[MC_UUID_LEN],
					       const char *name)
{
	if (uuid)
		for (size_t i = 0; i < c->ndoms; i++)
			if (c->doms[i].by_uuid &&
			    memcmp(c->doms[i].uuid, uuid, MC_UUID_LEN) == 0)
				return &c->doms[i];
	if (name)
		for (size_t i = 0; i < c->ndoms; i++)
			if (!c->doms[i].by_uuid && strcmp(c->doms[i].key, name) == 0)
				return &c->doms[i];
	return NULL;
}

/* Appends one line to err (validation reports every problem). When err is
 * full, the last line that fits says how many were left out. */

/* "512 MiB", or "1000 KiB" when not a whole number of MiB. */
static const char *kib_str(uint64_t kib, char buf[32])
{
	if (kib % MC_KIB_PER_MIB == 0)
		snprintf(buf, 32, "%llu MiB", (unsigned long long)(kib / MC_KIB_PER_MIB));
	else
		snprintf(buf, 32, "%llu KiB", (unsigned long long)kib);
	return buf;
}

static bool same_domain_key(const struct mc_dom_cfg *a, const struct mc_dom_cfg *b)
{
	if (a->by_uuid != b->by_uuid)
		return false;
	return a->by_uuid ? memcmp(a->uuid, b->uuid, MC_UUID_LEN) == 0
			  : strcmp(a->key, b->key) == 0;
}

/* For keys checked together: at = "FILE:LINE: " at the first of them the
 * file set ("FILE: " if none, "" without a file), lines = " (low at line 2,
 * high at line 5)" naming each one the file set ("" if none). */
static void key_lines(const char *file, const int *line, const char *const *names, size_t n,
		      char *at, size_t atlen, char *lines, size_t lineslen)
{
	int first = 0;

	lines[0] = '\0';
	for (size_t j = 0; j < n; j++) {
		size_t len = strlen(lines);

		if (!line[j])
			continue;
		if (!first || line[j] < first)
			first = line[j];
		snprintf(lines + len, lineslen - len, "%s%s at line %d",
			 len ? ", " : " (", names[j], line[j]);
	}
	if (lines[0])
		snprintf(lines + strlen(lines), lineslen - strlen(lines), ")");
	if (file && first)
		snprintf(at, atlen, "%s:%d: ", file, first);
	else if (file)
		snprintf(at, atlen, "%s: ", file);
	else
		at[0] = '\0';
}

int mc_config_validate(const struct mc_config *c, char *err, size_t errlen)
{
	const struct mc_balance_params *b = &c->params.bal;
	struct mc_errlist e;
	/* Settings only the file can hold are reported with its name. */
	const char *file = c->config_path;
	char fpre[300] = "", b1[32], b2[32], b3[32];

	mc_errlist_init(&e, err, errlen);
	if (file)
		snprintf(fpre, sizeof(fpre), "%s: ", file);

	if (c->compare && !c->sim_path)
		mc_errlist_add(&e, "--compare needs --sim SCENARIO");
	if (c->params.seed.free_kib <= c->params.seed.loaded_kib) {
		static const char *const names[] = {"loaded", "free"};
		char at[300], lines[80];

		/* Set on the command line, or in the file (then named at its
		 * lines, as the other keys of the file are). */
		key_lines(file, c->seed_line, names, 2, at, sizeof(at), lines, sizeof(lines));
		if (lines[0])
			mc_errlist_add(&e, "%s[seed] free/loaded: free threshold (%s) must be greater"
				    " than loaded threshold (%s)%s", at,
				    kib_str(c->params.seed.free_kib, b1),
				    kib_str(c->params.seed.loaded_kib, b2), lines);
		else
			mc_errlist_add(&e, "free threshold (%s) must be greater than loaded threshold (%s)"
				    " ([seed] free/loaded, --free-threshold/--loaded-threshold)",
				    kib_str(c->params.seed.free_kib, b1),
				    kib_str(c->params.seed.loaded_kib, b2));
	}
	if (c->interval_ms <= 0)
		mc_errlist_add(&e, "interval must be positive ([daemon] interval = %d ms)",
			    c->interval_ms);
	if (c->stats_period_s <= 0)
		mc_errlist_add(&e, "stats period must be positive ([daemon] stats_period = %d s)",
			    c->stats_period_s);
	if (c->resync_s <= 0)
		mc_errlist_add(&e, "resync period must be positive ([daemon] resync = %d s)",
			    c->resync_s);
	if (c->connections < 1 || c->connections > MC_MAX_CONNECTIONS)
		mc_errlist_add(&e, "connections must be 1..%d ([daemon] connections = %u)",
			    MC_MAX_CONNECTIONS, c->connections);
	if (!mc_policy_find(c->policy))
		mc_errlist_add(&e, "unknown policy '%s' ([daemon] policy, --policy)", c->policy);
	if (c->log_level < MC_LOG_ERR || c->log_level > MC_LOG_DEBUG)
		mc_errlist_add(&e, "log level %d out of range", (int)c->log_level);
	if (c->weight < 1 || c->weight > MC_MAX_WEIGHT)
		mc_errlist_add(&e, "%s[defaults] weight: %u is out of range (1..%d)",
			    fpre, c->weight, MC_MAX_WEIGHT);

	if (c->metrics_listen) {
		struct sockaddr_storage sa;
		socklen_t salen;
		char msg[300];

		if (mc_metrics_parse_listen(c->metrics_listen, c->metrics_allow_remote,
					    &sa, &salen, msg, sizeof(msg)) < 0)
			mc_errlist_add(&e, "%s (--metrics-listen, [daemon] metrics_listen)", msg);
	}
	if (!(b->low_kib < b->target_kib && b->target_kib < b->high_kib)) {
		/* Only the file sets the watermarks, and the defaults agree
		 * with each other: one of them at least has a line. */
		static const char *const names[] = {"low", "target", "high"};
		char at[300], lines[80];

		key_lines(file, c->wm_line, names, 3, at, sizeof(at), lines, sizeof(lines));
		mc_errlist_add(&e, "%s[balance] low/target/high: low < target < high is required,"
			    " got low %s, target %s, high %s%s", at,
			    kib_str(b->low_kib, b1), kib_str(b->target_kib, b2),
			    kib_str(b->high_kib, b3), lines);
	}
	if (b->shrink_step_kib == 0)
		mc_errlist_add(&e, "%s[balance] shrink_step: must be greater than 0", fpre);
	if (b->cooldown_ms <= 0)
		mc_errlist_add(&e, "%s[balance] cooldown: must be greater than 0 (got %lld ms)",
			    fpre, (long long)b->cooldown_ms);
	if (b->horizon_ms <= 0)
		mc_errlist_add(&e, "%s[balance] horizon: must be greater than 0 (got %lld ms)",
			    fpre, (long long)b->horizon_ms);
	if (b->stuck_ms <= 0)
		mc_errlist_add(&e, "%s[balance] stuck: must be greater than 0 (got %lld ms)",
			    fpre, (long long)b->stuck_ms);
	if (b->stuck_recheck_ms <= 0)
		mc_errlist_add(&e, "%s[balance] stuck_recheck: must be greater than 0 (got %lld ms)",
			    fpre, (long long)b->stuck_recheck_ms);
	if (b->stale_samples < 1)
		mc_errlist_add(&e, "%s[balance] stale_samples: must be at least 1", fpre);

	for (size_t i = 0; i < c->ndoms; i++) {
		const struct mc_dom_cfg *d = &c->doms[i];
		char where[400];

		snprintf(where, sizeof(where), "%s%s%d: [domain:%s]",
			 file ? file : "", file ? ":" : "line ", d->line, d->key);
		if (d->has_floor && d->has_max && d->floor_kib > d->max_kib)
			mc_errlist_add(&e, "%s floor/max: floor %s is above max %s", where,
				    kib_str(d->floor_kib, b1), kib_str(d->max_kib, b2));
		if (d->has_weight && (d->weight < 1 || d->weight > MC_MAX_WEIGHT))
			mc_errlist_add(&e, "%s weight: %u is out of range (1..%d)", where,
				    d->weight, MC_MAX_WEIGHT);
		for (size_t j = 0; j < i; j++)
			if (same_domain_key(&c->doms[j], d)) {
				mc_errlist_add(&e, "%s: duplicate section (first at line %d)",
					    where, c->doms[j].line);
				break;
			}
	}
	mc_errlist_finish(&e);
	return e.n ? -EINVAL : 0;
}

/* ---- command line -------------------------------------------------------- */

static int parse_mib(const char *opt, const char *s, bool allow_zero,
		     uint64_t *kib, char *err, size_t errlen)
{
	uint64_t v;
	int rc = mc_parse_u64(s, &v);

	if (rc == 0 && v > MAX_MIB)
		rc = -ERANGE;
	if (rc == 0 && v == 0 && !allow_zero)
		rc = -ERANGE;
	if (rc < 0) {
		mc_seterr(err, errlen, "%s: '%s' is not %s number of MiB (0%s..%llu)",
		       opt, s, allow_zero ? "a" : "a positive",
		       allow_zero ? "" : " excluded", (unsigned long long)MAX_MIB);
		return -EINVAL;
	}
	*kib = mc_mib_to_kib(v);
	return 0;
}

/* Seconds with up to three decimals ("2", "0.5") -> milliseconds > 0. */
static int parse_seconds_ms(const char *opt, const char *s, int *ms,
			    char *err, size_t errlen)
{
	uint64_t whole = 0, frac = 0;
	int fdigits = 0;
	const char *p = s;

	if (!s || !*s)
		goto bad;
	while (*p >= '0' && *p <= '9') {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > MAX_SECONDS)
			goto bad;
		p++;
	}
	if (p == s && *p != '.')
		goto bad;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (fdigits == 3)
				goto bad;
			frac = frac * 10 + (uint64_t)(*p - '0');
			fdigits++;
			p++;
		}
		if (fdigits == 0)
			goto bad;
		while (fdigits++ < 3)
			frac *= 10;
	}
	if (*p != '\0')
		goto bad;
	if (whole * 1000 + frac == 0 || whole * 1000 + frac > (uint64_t)MAX_SECONDS * 1000)
		goto bad;
	*ms = (int)(whole * 1000 + frac);
	return 0;
bad:
	mc_seterr(err, errlen, "%s: '%s' is not a positive number of seconds (e.g. 2 or 0.5, at most %d)",
	       opt, s ? s : "", MAX_SECONDS);
	return -EINVAL;
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

static const struct {
	const char *name;
	enum mc_log_level level;
} log_levels[] = {
	{"error", MC_LOG_ERR}, {"warning", MC_LOG_WARNING}, {"notice", MC_LOG_NOTICE},
	{"info", MC_LOG_INFO}, {"debug", MC_LOG_DEBUG},
};

static void usage(FILE *out)
{
	char known[64];

	fprintf(out,
"Usage: memcoord [OPTIONS] [INTERVAL]\n"
"Moves memory between the running guests of a libvirt host by ballooning.\n"
"Options override the configuration file.\n"
"\n"
"      --config FILE         configuration file (default:\n"
"                            %s, if it exists)\n"
"      --check-config        validate the configuration, print the effective\n"
"                            configuration and exit (0 valid, 2 invalid)\n"
"  -c, --connect URI         libvirt URI (default: $LIBVIRT_DEFAULT_URI,\n"
"                            else qemu:///system)\n"
"      --policy NAME         decision policy: %s (default: %s)\n"
"      --interval SECONDS    decision interval (default 1); INTERVAL as the\n"
"                            only positional argument means the same\n"
"      --stats-period SECONDS  guest balloon statistics period, whole\n"
"                            seconds (default 1)\n"
"      --loaded-threshold MiB  seed: unused memory at or below which a guest\n"
"                            is loaded (default 100)\n"
"      --free-threshold MiB  seed: unused memory at or above which a guest\n"
"                            wastes memory (default 300; must exceed LOADED)\n"
"      --floor MiB           never shrink a guest below this (default 200),\n"
"                            nor below its <memtune><min_guarantee>\n"
"      --host-reserve MiB    free host memory never granted to guests\n"
"                            (default: max(512 MiB, 2%% of host RAM))\n"
"      --budget MiB          cap on the sum of all guests' balloons\n"
"                            (balance policy; default 0 = none)\n"
"      --dry-run             decide and log \"would set\", change nothing\n"
"      --once                make one decision, then exit\n"
"      --sim SCENARIO        run against a simulated host (a scenario file)\n"
"      --trace FILE.csv      write every decision to a CSV trace\n"
"      --compare             with --sim: run the scenario under the seed and\n"
"                            the balance policy and compare them\n"
"      --control-socket PATH  status socket (default\n"
"                            /run/memcoord/memcoord.sock; none: no socket;\n"
"                            with --sim: none unless given)\n"
"      --metrics-listen ADDR:PORT  serve Prometheus metrics on\n"
"                            http://ADDR:PORT/metrics (PORT alone: on\n"
"                            127.0.0.1; default: off)\n"
"      --metrics-allow-remote  allow a non-loopback --metrics-listen address\n"
"      --log-level LEVEL     error, warning, notice, info or debug\n"
"                            (default info)\n"
"      --log-target TARGET   where log lines go: stderr, syslog or auto\n"
"                            (default auto: stderr, or syslog when stderr\n"
"                            is closed or /dev/null)\n"
"  -v, --verbose             debug logging (same as --log-level debug)\n"
"  -h, --help                this help\n"
"      --version             print the version\n",
		MC_DEFAULT_CONFIG_PATH, known_policies(known, sizeof(known)), MC_DEF_POLICY);
}

enum {
	OPT_POLICY = 1000, OPT_INTERVAL, OPT_STATS_PERIOD, OPT_LOADED, OPT_FREE,
	OPT_FLOOR, OPT_RESERVE, OPT_DRY_RUN, OPT_ONCE, OPT_VERSION, OPT_CONFIG,
	OPT_CHECK_CONFIG, OPT_BUDGET, OPT_LOG_LEVEL, OPT_SIM, OPT_TRACE, OPT_COMPARE,
	OPT_LOG_TARGET,
	OPT_CONTROL_SOCKET, OPT_METRICS_LISTEN, OPT_METRICS_REMOTE,
};

static const struct option long_opts[] = {
	{"config", required_argument, NULL, OPT_CONFIG},
	{"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
	{"connect", required_argument, NULL, 'c'},
	{"policy", required_argument, NULL, OPT_POLICY},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"stats-period", required_argument, NULL, OPT_STATS_PERIOD},
	{"loaded-threshold", required_argument, NULL, OPT_LOADED},
	{"free-threshold", required_argument, NULL, OPT_FREE},
	{"floor", required_argument, NULL, OPT_FLOOR},
	{"host-reserve", required_argument, NULL, OPT_RESERVE},
	{"budget", required_argument, NULL, OPT_BUDGET},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"once", no_argument, NULL, OPT_ONCE},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"log-target", required_argument, NULL, OPT_LOG_TARGET},
	{"sim", required_argument, NULL, OPT_SIM},
	{"trace", required_argument, NULL, OPT_TRACE},
	{"compare", no_argument, NULL, OPT_COMPARE},
	{"control-socket", required_argument, NULL, OPT_CONTROL_SOCKET},
	{"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
	{"metrics-allow-remote", no_argument, NULL, OPT_METRICS_REMOTE},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static bool has_control_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Replace *dst by a copy of s. */
static int set_string(char **dst, const char *s, char *err, size_t errlen)
{
	char *n = strdup(s);

	if (!n) {
		mc_seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	free(*dst);
	*dst = n;
	return 0;
}

/* The command-line element getopt stopped in at an unknown short option
 * character (optopt): getopt has moved past it when the character ended its
 * element ("-2", "-vx": argv[optind - 1]) and not when more characters
 * follow ("-25", "-xv": argv[optind]). val_elem is the element holding the
 * previous option's value ("-c -2 -25"), never the one. argv[optind - 1]
 * was not a good guess: "memcoord -25" named the program itself. */
static const char *unknown_short_elem(int argc, char **argv, const char *val_elem)
{
	const char *prev = optind > 0 && optind <= argc ? argv[optind - 1] : NULL;
	size_t n = prev ? strlen(prev) : 0;

	if (prev && prev != val_elem && n > 1 && prev[0] == '-' && prev[1] != '-' &&
	    (unsigned char)prev[n - 1] == optopt)
		return prev;
	return optind < argc ? argv[optind] : prev;
}

/* The message for getopt's unknown option. A negative number never reaches
 * here as an option's value (getopt takes it as that value), so it is the
 * INTERVAL argument: say what is wrong with it rather than "unknown option". */
static void unknown_option(int argc, char **argv, const char *val_elem,
			   char *err, size_t errlen)
{
	const char *e;
	bool in;
	int ms;

	/* A long option (optopt 0), or one given a value it does not take
	 * ("--verbose=1": optopt is its short form, or its code above 255). */
	if (optopt <= 0 || optopt > 255 || strchr("cvh", optopt)) {
		mc_seterr(err, errlen, "unknown option '%s' (see --help)",
			  optind > 0 && optind <= argc ? argv[optind - 1] : "?");
		return;
	}
	e = unknown_short_elem(argc, argv, val_elem);
	if (e && e[0] == '-' && ((e[1] >= '0' && e[1] <= '9') || e[1] == '.')) {
		(void)parse_seconds_ms("INTERVAL", e, &ms, err, errlen);
		return;
	}
	in = e && strlen(e) > 2;
	mc_seterr(err, errlen, "unknown option '-%c'%s%s%s (see --help)", optopt,
		  in ? " in '" : "", in ? e : "", in ? "'" : "");
}

enum mc_args_result mc_config_parse_args(struct mc_config *c, int argc, char **argv,
					 FILE *out, char *err, size_t errlen)
{
	bool interval_opt = false;
	const char *val_elem = NULL;   /* the element of the last option's value */
	int opt, ms;

	if (!out)
		out = stdout;
	opterr = 0;
	optind = 0;     /* full re-initialisation: this may run more than once */
	while ((opt = getopt_long(argc, argv, ":c:vh", long_opts, NULL)) != -1) {
		if (optarg && opt != '?' && opt != ':')
			val_elem = argv[optind - 1];
		switch (opt) {
		case OPT_CONFIG:
			if (!*optarg) {
				mc_seterr(err, errlen, "--config: empty file name");
				return MC_ARGS_BAD;
			}
			if (set_string(&c->config_path, optarg, err, errlen) < 0)
				return MC_ARGS_BAD;
			c->config_explicit = true;
			break;
		case OPT_CHECK_CONFIG:
			c->check_config = true;
			break;
		case OPT_COMPARE:
			c->compare = true;
			break;
		case OPT_SIM:
		case OPT_TRACE:
			if (!*optarg) {
				mc_seterr(err, errlen, "--%s: empty file name",
				       opt == OPT_SIM ? "sim" : "trace");
				return MC_ARGS_BAD;
			}
			if (set_string(opt == OPT_SIM ? &c->sim_path : &c->trace_path,
				       optarg, err, errlen) < 0)
				return MC_ARGS_BAD;
			break;
		case OPT_CONTROL_SOCKET:
			if (!*optarg || has_control_chars(optarg)) {
				mc_seterr(err, errlen, "--control-socket: %s path",
				       *optarg ? "invalid" : "empty");
				return MC_ARGS_BAD;
			}
			if (set_string(&c->control_socket, optarg, err, errlen) < 0)
				return MC_ARGS_BAD;
			break;
		case OPT_METRICS_LISTEN:
			if (!*optarg || has_control_chars(optarg)) {
				mc_seterr(err, errlen, "--metrics-listen: %s address",
				       *optarg ? "invalid" : "empty");
				return MC_ARGS_BAD;
			}
			if (set_string(&c->metrics_listen, optarg, err, errlen) < 0)
				return MC_ARGS_BAD;
			break;
		case OPT_METRICS_REMOTE:
			c->metrics_allow_remote = true;
			break;
		case 'c':
			if (!*optarg || has_control_chars(optarg)) {
				mc_seterr(err, errlen, "--connect: %s URI", *optarg ? "invalid" : "empty");
				return MC_ARGS_BAD;
			}
			if (set_string(&c->uri, optarg, err, errlen) < 0)
				return MC_ARGS_BAD;
			break;
		case OPT_POLICY:
			if (!mc_policy_find(optarg)) {
				char known[64];

				mc_seterr(err, errlen, "--policy: unknown policy '%s' (known: %s)",
				       optarg, known_policies(known, sizeof(known)));
				return MC_ARGS_BAD;
			}
			mc_strlcpy(c->policy, optarg, sizeof(c->policy));
			break;
		case OPT_INTERVAL:
			if (parse_seconds_ms("--interval", optarg, &ms, err, errlen) < 0)
				return MC_ARGS_BAD;
			c->interval_ms = ms;
			interval_opt = true;
			break;
		case OPT_STATS_PERIOD: {
			uint64_t v;

			if (mc_parse_u64(optarg, &v) < 0 || v == 0 || v > MAX_SECONDS) {
				mc_seterr(err, errlen, "--stats-period: '%s' is not a whole number of seconds (1..%d)",
				       optarg, MAX_SECONDS);
				return MC_ARGS_BAD;
			}
			c->stats_period_s = (int)v;
			break;
		}
		case OPT_LOADED:
			if (parse_mib("--loaded-threshold", optarg, false,
				      &c->params.seed.loaded_kib, err, errlen) < 0)
				return MC_ARGS_BAD;
			c->seed_line[0] = 0;   /* no longer the file's */
			break;
		case OPT_FREE:
			if (parse_mib("--free-threshold", optarg, false,
				      &c->params.seed.free_kib, err, errlen) < 0)
				return MC_ARGS_BAD;
			c->seed_line[1] = 0;
			break;
		case OPT_FLOOR:
			if (parse_mib("--floor", optarg, true, &c->floor_kib, err, errlen) < 0)
				return MC_ARGS_BAD;
			break;
		case OPT_RESERVE:
			if (parse_mib("--host-reserve", optarg, true,
				      &c->host_reserve_kib, err, errlen) < 0)
				return MC_ARGS_BAD;
			c->host_reserve_set = true;
			break;
		case OPT_BUDGET:
			if (parse_mib("--budget", optarg, true,
				      &c->params.bal.budget_kib, err, errlen) < 0)
				return MC_ARGS_BAD;
			break;
		case OPT_DRY_RUN:
			c->dry_run = true;
			break;
		case OPT_ONCE:
			c->once = true;
			break;
		case OPT_LOG_LEVEL: {
			size_t i, n = sizeof(log_levels) / sizeof(log_levels[0]);

			for (i = 0; i < n; i++)
				if (strcasecmp(optarg, log_levels[i].name) == 0)
					break;
			if (i == n) {
				mc_seterr(err, errlen, "--log-level: unknown level '%s'"
				       " (error, warning, notice, info or debug)", optarg);
				return MC_ARGS_BAD;
			}
			c->log_level = log_levels[i].level;
			break;
		}
		case OPT_LOG_TARGET:
			if (mc_log_target_parse(optarg, &c->log_target) < 0) {
				mc_seterr(err, errlen, "--log-target: unknown target '%s'"
				       " (stderr, syslog or auto)", optarg);
				return MC_ARGS_BAD;
			}
			break;
		case 'v':
			c->verbose++;
			break;
		case 'h':
			usage(out);
			return MC_ARGS_EXIT;
		case OPT_VERSION:
			fprintf(out, "memcoord %s\n", MC_VERSION);
			return MC_ARGS_EXIT;
		case ':':
			mc_seterr(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return MC_ARGS_BAD;
		default:
			unknown_option(argc, argv, val_elem, err, errlen);
			return MC_ARGS_BAD;
		}
	}

	/* The original program took the interval as its only argument. */
	if (optind < argc) {
		if (argc - optind > 1) {
			mc_seterr(err, errlen, "unexpected argument '%s' (only one INTERVAL is accepted)",
			       argv[optind + 1]);
			return MC_ARGS_BAD;
		}
		if (interval_opt) {
			mc_seterr(err, errlen, "INTERVAL given both as --interval and as an argument");
			return MC_ARGS_BAD;
		}
		if (parse_seconds_ms("INTERVAL", argv[optind], &ms, err, errlen) < 0)
			return MC_ARGS_BAD;
		c->interval_ms = ms;
	}
	return MC_ARGS_OK;
}

/* ---- the whole sequence -------------------------------------------------- */

enum mc_args_result mc_config_build(struct mc_config *c, int argc, char **argv,
				    FILE *out, char *err, size_t errlen)
{
	enum mc_args_result r;
	char *path = NULL;
	bool explicit;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	/* First pass: only to learn --config (and to reject a bad command
	 * line before touching any file). */
	mc_config_defaults(c);
	r = mc_config_parse_args(c, argc, argv, out, err, errlen);
	if (r != MC_ARGS_OK)
		return r;
	explicit = c->config_explicit;
	if (c->config_path) {
		path = c->config_path;
		c->config_path = NULL;
	}
	mc_config_free(c);

	/* Defaults, the file over them, the command line over the file. */
	mc_config_defaults(c);
	rc = mc_config_load_file(c, path ? path : MC_DEFAULT_CONFIG_PATH, err, errlen);
	free(path);
	if (rc == -ENOENT && !explicit) {
		/* No default file: defaults and the command line only. */
		mc_config_free(c);
		mc_config_defaults(c);
		if (err && errlen)
			err[0] = '\0';
	} else if (rc < 0) {
		return MC_ARGS_BAD;
	}
	r = mc_config_parse_args(c, argc, argv, out, err, errlen);
	if (r != MC_ARGS_OK)
		return r;
	return mc_config_validate(c, err, errlen) < 0 ? MC_ARGS_BAD : MC_ARGS_OK;
}
