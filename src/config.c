/* memcoord — configuration defaults, command line and validation. */
#include "memcoord/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcoord/util.h"

/* Largest memory value accepted on the command line: 1 PiB in MiB. Anything
 * above is a typo, and keeps KiB arithmetic far from overflow. */
#define MAX_MIB (1024ULL * 1024 * 1024)
/* Longest interval or period: one day. */
#define MAX_SECONDS 86400

void mc_config_defaults(struct mc_config *c)
{
	memset(c, 0, sizeof(*c));
	mc_strlcpy(c->policy, "seed", sizeof(c->policy));
	c->interval_ms = MC_DEF_INTERVAL_MS;
	c->stats_period_s = MC_DEF_STATS_PERIOD_S;
	c->params.seed.loaded_kib = mc_mib_to_kib(MC_DEF_LOADED_MIB);
	c->params.seed.free_kib = mc_mib_to_kib(MC_DEF_FREE_MIB);
	c->floor_kib = mc_mib_to_kib(MC_DEF_FLOOR_MIB);
	c->resync_s = MC_DEF_RESYNC_S;
}

void mc_config_free(struct mc_config *c)
{
	if (!c)
		return;
	free(c->uri);
	c->uri = NULL;
}

uint64_t mc_config_default_reserve_kib(uint64_t total_kib)
{
	uint64_t pct = total_kib / 100 * MC_DEF_RESERVE_PCT;
	uint64_t min = mc_mib_to_kib(MC_DEF_RESERVE_MIN_MIB);

	return pct > min ? pct : min;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

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
		seterr(err, errlen, "%s: '%s' is not %s number of MiB (0%s..%llu)",
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
	if (whole * 1000 + frac == 0)
		goto bad;
	*ms = (int)(whole * 1000 + frac);
	return 0;
bad:
	seterr(err, errlen, "%s: '%s' is not a positive number of seconds (e.g. 2 or 0.5, at most %d)",
	       opt, s ? s : "", MAX_SECONDS);
	return -EINVAL;
}

static void usage(FILE *out)
{
	fprintf(out,
"Usage: memcoord [OPTIONS] [INTERVAL]\n"
"Moves memory between the running guests of a libvirt host by ballooning.\n"
"\n"
"  -c, --connect URI         libvirt URI (default: $LIBVIRT_DEFAULT_URI,\n"
"                            else qemu:///system)\n"
"      --policy NAME         decision policy: seed (default: seed)\n"
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
"      --dry-run             decide and log \"would set\", change nothing\n"
"      --once                make one decision, then exit\n"
"  -v, --verbose             more logging (repeat for debug)\n"
"  -h, --help                this help\n"
"      --version             print the version\n");
}

enum {
	OPT_POLICY = 1000, OPT_INTERVAL, OPT_STATS_PERIOD, OPT_LOADED, OPT_FREE,
	OPT_FLOOR, OPT_RESERVE, OPT_DRY_RUN, OPT_ONCE, OPT_VERSION,
};

static const struct option long_opts[] = {
	{"connect", required_argument, NULL, 'c'},
	{"policy", required_argument, NULL, OPT_POLICY},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"stats-period", required_argument, NULL, OPT_STATS_PERIOD},
	{"loaded-threshold", required_argument, NULL, OPT_LOADED},
	{"free-threshold", required_argument, NULL, OPT_FREE},
	{"floor", required_argument, NULL, OPT_FLOOR},
	{"host-reserve", required_argument, NULL, OPT_RESERVE},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"once", no_argument, NULL, OPT_ONCE},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

enum mc_args_result mc_config_parse_args(struct mc_config *c, int argc, char **argv,
					 void *outp, char *err, size_t errlen)
{
	FILE *out = outp ? outp : stdout;
	bool interval_opt = false;
	int opt, ms;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":c:vh", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (!*optarg) {
				seterr(err, errlen, "--connect: empty URI");
				return MC_ARGS_BAD;
			}
			free(c->uri);
			c->uri = strdup(optarg);
			if (!c->uri) {
				seterr(err, errlen, "out of memory");
				return MC_ARGS_BAD;
			}
			break;
		case OPT_POLICY:
			if (!mc_policy_find(optarg)) {
				seterr(err, errlen, "--policy: unknown policy '%s' (known: seed)", optarg);
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
				seterr(err, errlen, "--stats-period: '%s' is not a whole number of seconds (1..%d)",
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
			break;
		case OPT_FREE:
			if (parse_mib("--free-threshold", optarg, false,
				      &c->params.seed.free_kib, err, errlen) < 0)
				return MC_ARGS_BAD;
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
		case OPT_DRY_RUN:
			c->dry_run = true;
			break;
		case OPT_ONCE:
			c->once = true;
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
			seterr(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return MC_ARGS_BAD;
		default:
			seterr(err, errlen, "unknown option '%s' (see --help)", argv[optind - 1]);
			return MC_ARGS_BAD;
		}
	}

	/* The original program took the interval as its only argument. */
	if (optind < argc) {
		if (argc - optind > 1) {
			seterr(err, errlen, "unexpected argument '%s' (only one INTERVAL is accepted)",
			       argv[optind + 1]);
			return MC_ARGS_BAD;
		}
		if (interval_opt) {
			seterr(err, errlen, "INTERVAL given both as --interval and as an argument");
			return MC_ARGS_BAD;
		}
		if (parse_seconds_ms("INTERVAL", argv[optind], &ms, err, errlen) < 0)
			return MC_ARGS_BAD;
		c->interval_ms = ms;
	}
	return mc_config_validate(c, err, errlen) < 0 ? MC_ARGS_BAD : MC_ARGS_OK;
}

int mc_config_validate(const struct mc_config *c, char *err, size_t errlen)
{
	if (c->params.seed.free_kib <= c->params.seed.loaded_kib) {
		seterr(err, errlen, "free threshold (%llu MiB) must be greater than loaded threshold (%llu MiB)",
		       (unsigned long long)mc_kib_to_mib(c->params.seed.free_kib),
		       (unsigned long long)mc_kib_to_mib(c->params.seed.loaded_kib));
		return -EINVAL;
	}
	if (c->interval_ms <= 0) {
		seterr(err, errlen, "interval must be positive");
		return -EINVAL;
	}
	if (c->stats_period_s <= 0) {
		seterr(err, errlen, "stats period must be positive");
		return -EINVAL;
	}
	if (!mc_policy_find(c->policy)) {
		seterr(err, errlen, "unknown policy '%s'", c->policy);
		return -EINVAL;
	}
	return 0;
}
