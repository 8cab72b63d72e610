/* The configuration file: every key, units, per-domain sections, every kind
 * of invalid file (reported with file, line and key), precedence of the
 * command line, the effective configuration printed and read back. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "memcoord/config.h"

static char tmpdir[] = "/tmp/mc-config-test-XXXXXX";
static int nfiles;

/* Write len bytes to a new file in tmpdir; returns its path (static storage). */
static const char *write_file_n(const char *text, size_t len)
{
	static char paths[8][128];
	char *path = paths[nfiles++ % 8];
	int fd;
	FILE *f;

	snprintf(path, 128, "%s/memcoord-XXXXXX", tmpdir);
	fd = mkstemp(path);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		perror("mkstemp");
		exit(1);
	}
	fwrite(text, 1, len, f);
	fclose(f);
	return path;
}

static const char *write_file(const char *text)
{
	return write_file_n(text, strlen(text));
}

static char err[8192];

/* Defaults, then the file. */
static int load(struct mc_config *c, const char *text, const char **pathp)
{
	const char *path = write_file(text);
	int rc;

	mc_config_free(c);
	mc_config_defaults(c);
	rc = mc_config_load_file(c, path, err, sizeof(err));
	if (pathp)
		*pathp = path;
	unlink(path);
	return rc;
}

static enum mc_args_result build(struct mc_config *c, ...)
{
	char *argv[32] = {"memcoord"};
	int argc = 1;
	va_list ap;
	char *a;
	FILE *sink = fopen("/dev/null", "w");
	enum mc_args_result r;

	va_start(ap, c);
	while ((a = va_arg(ap, char *)) && argc < 31)
		argv[argc++] = a;
	va_end(ap);
	mc_config_free(c);
	r = mc_config_build(c, argc, argv, sink, err, sizeof(err));
	fclose(sink);
	return r;
}

static int count_lines(const char *s)
{
	int n = *s ? 1 : 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The file is rejected, and err holds the line "PATH:<expect>" (expect
 * starts with the line number) among exactly nerr lines. */
static void expect_bad(const char *text, int nerr, const char *expect)
{
	struct mc_config c = {0};
	const char *path;
	char want[512];
	int rc = load(&c, text, &path);

	snprintf(want, sizeof(want), "%s:%s", path, expect);
	CHECK(rc == -EINVAL);
	if (!strstr(err, want) || count_lines(err) != nerr) {
		fprintf(stderr, "  file:\n%s\n  want (%d line%s): %s\n  got: %s\n", text, nerr,
			nerr == 1 ? "" : "s", want, err);
		check_failures++;
	} else {
		printf("  %s\n", err);
	}
	mc_config_free(&c);
}

static const char full_file[] =
	"; memcoord test configuration\n"
	"# both comment styles\n"
	"[daemon]\n"
	"uri = test:///default\n"
	"policy = seed\n"
	"interval = 0.5\n"
	"stats_period = 2\n"
	"dry_run = yes\n"
	"log_level = debug\n"
	"resync = 30\n"
	"\n"
	"[host]\n"
	"reserve = 1G\n"
	"budget = 8GiB\n"
	"\n"
	"[defaults]\n"
	"floor = 256M\n"
	"weight = 3\n"
	"\n"
	"[seed]\n"
	"loaded = 64\n"
	"free = 256MiB\n"
	"\n"
	"[balance]\n"
	"low = 100M\n"
	"target = 200M\n"
	"high = 300M\n"
	"shrink_step = 32M\n"
	"cooldown = 5\n"
	"horizon = 1500ms\n"
	"stuck = 2.5s\n"
	"stuck_recheck = 120\n"
	"stale_samples = 7\n"
	"swap_pressure = 2M\n"
	"fault_pressure = 50\n"
	"\n"
	"[domain:web1]\n"
	"floor = 300M\n"
	"max = 4G\n"
	"weight = 10\n"
	"exclude = no\n"
	"\n"
	"[domain:6695EB01-F6A4-8304-79AA-97F2502E193F]\n"
	"exclude = true\n";

static const uint8_t uuid_b[MC_UUID_LEN] = {
	0x66, 0x95, 0xeb, 0x01, 0xf6, 0xa4, 0x83, 0x04,
	0x79, 0xaa, 0x97, 0xf2, 0x50, 0x2e, 0x19, 0x3f,
};

static void test_full_file(void)
{
	struct mc_config c = {0};
	const struct mc_balance_params *b = &c.params.bal;
	const char *path;

	CHECK(load(&c, full_file, &path) == 0);
	CHECK(err[0] == '\0');
	CHECK(c.config_path && strcmp(c.config_path, path) == 0);
	CHECK(c.uri && strcmp(c.uri, "test:///default") == 0);
	CHECK(strcmp(c.policy, "seed") == 0);
	CHECK(c.interval_ms == 500);
	CHECK(c.stats_period_s == 2);
	CHECK(c.dry_run);
	CHECK(c.log_level == MC_LOG_DEBUG);
	CHECK(c.resync_s == 30);
	CHECK(c.host_reserve_set && c.host_reserve_kib == 1024 * 1024);
	CHECK(b->budget_kib == 8ULL * 1024 * 1024);
	CHECK(c.floor_kib == 256 * 1024);
	CHECK(c.weight == 3);
	CHECK(c.params.seed.loaded_kib == 64 * 1024);
	CHECK(c.params.seed.free_kib == 256 * 1024);
	CHECK(b->low_kib == 100 * 1024 && b->target_kib == 200 * 1024 && b->high_kib == 300 * 1024);
	CHECK(b->shrink_step_kib == 32 * 1024);
	CHECK(b->cooldown_ms == 5000 && b->horizon_ms == 1500);
	CHECK(b->stuck_ms == 2500 && b->stuck_recheck_ms == 120000);
	CHECK(b->stale_samples == 7);
	CHECK(b->swap_pressure_kib_s == 2048);
	CHECK(b->fault_pressure_s == 50);
	CHECK(c.ndoms == 2);
	if (c.ndoms == 2) {
		const struct mc_dom_cfg *d = &c.doms[0];

		CHECK(strcmp(d->key, "web1") == 0 && !d->by_uuid && d->line == 37);
		CHECK(d->has_floor && d->floor_kib == 300 * 1024);
		CHECK(d->has_max && d->max_kib == 4ULL * 1024 * 1024);
		CHECK(d->has_weight && d->weight == 10);
		CHECK(!d->exclude);
		d = &c.doms[1];
		CHECK(d->by_uuid && memcmp(d->uuid, uuid_b, MC_UUID_LEN) == 0 && d->line == 43);
		CHECK(!d->has_floor && !d->has_max && !d->has_weight && d->exclude);
	}
	CHECK(mc_config_validate(&c, err, sizeof(err)) == 0);
	mc_config_free(&c);
	printf("a file with every key\n");
}

static void test_precedence(void)
{
	struct mc_config c = {0};
	const char *path = write_file(full_file);

	CHECK(build(&c, "--config", path, NULL) == MC_ARGS_OK);
	CHECK(c.interval_ms == 500 && c.floor_kib == 256 * 1024 && c.dry_run);
	CHECK(c.config_explicit && !c.check_config);
	CHECK(build(&c, "--config", path, "-c", "test:///other", "--interval", "2",
		    "--floor", "100", "--budget", "0", "--log-level", "error",
		    "--stats-period", "5", "--host-reserve", "64", "--loaded-threshold", "10",
		    "--free-threshold", "20", "--check-config", NULL) == MC_ARGS_OK);
	CHECK(c.uri && strcmp(c.uri, "test:///other") == 0);
	CHECK(c.interval_ms == 2000 && c.floor_kib == 100 * 1024);
	CHECK(c.params.bal.budget_kib == 0 && c.log_level == MC_LOG_ERR);
	CHECK(c.stats_period_s == 5 && c.host_reserve_kib == 64 * 1024);
	CHECK(c.params.seed.loaded_kib == 10 * 1024 && c.params.seed.free_kib == 20 * 1024);
	CHECK(c.check_config);
	/* What the command line does not set stays as the file has it. */
	CHECK(c.dry_run && c.resync_s == 30 && c.weight == 3 && c.ndoms == 2);
	CHECK(c.params.bal.low_kib == 100 * 1024);
	/* The positional INTERVAL overrides the file too. */
	CHECK(build(&c, "--config", path, "3", NULL) == MC_ARGS_OK);
	CHECK(c.interval_ms == 3000);
	/* A bad command line is reported before the file is read. */
	CHECK(build(&c, "--config", path, "--interval", "0", NULL) == MC_ARGS_BAD);
	CHECK(strstr(err, "--interval") != NULL);
	/* A command line that contradicts the file is caught by validation. */
	CHECK(build(&c, "--config", path, "--loaded-threshold", "300", NULL) == MC_ARGS_BAD);
	CHECK(strstr(err, "must be greater than loaded") != NULL);
	CHECK(build(&c, "--config", path, "--help", NULL) == MC_ARGS_EXIT);
	unlink(path);
	mc_config_free(&c);
	printf("command line over the file\n");
}

struct mem_case {
	const char *text;
	uint64_t kib;   /* 0 with bad: rejected */
	bool bad;
};

static void test_units(void)
{
	static const struct mem_case mem[] = {
		{"128", 128 * 1024, false}, {"512M", 512 * 1024, false},
		{"512MiB", 512 * 1024, false}, {"512m", 512 * 1024, false},
		{"2G", 2 * 1024 * 1024, false}, {"2GiB", 2 * 1024 * 1024, false},
		{"1T", 1024ULL * 1024 * 1024, false}, {"1048576K", 1024 * 1024, false},
		{"100KiB", 100, false}, {"1.5G", 1536 * 1024, false}, {"0.5M", 512, false},
		{"0", 0, false}, {"64T", 64ULL << 30, false}, {"100 M", 100 * 1024, false},
		{".5G", 512 * 1024, false},
		{"12x", 0, true}, {"-1", 0, true}, {"M", 0, true}, {"1.5K", 0, true},
		{"65T", 0, true}, {"1e3", 0, true}, {"0x10", 0, true}, {"1MB", 0, true},
		{"1M/s", 0, true}, {"99999999999999999999999", 0, true}, {".", 0, true},
		{"1.2.3", 0, true}, {"1Mi", 0, true},
	};
	static const struct { const char *text; int64_t ms; } times[] = {
		{"5", 5000}, {"0.5", 500}, {"250ms", 250}, {"2s", 2000}, {"1.25", 1250},
		{"86400", 86400000}, {"1 ms", 1}, {"0.001", 1}, {"1.500", 1500},
		{"86401", -1}, {"0", -1}, {"0ms", -1}, {"0.0001", -1}, {"1.5ms", -1},
		{"5m", -1}, {"-1", -1}, {"abc", -1}, {"1h", -1}, {"s", -1},
	};
	static const struct { const char *text; int v; } bools[] = {
		{"true", 1}, {"yes", 1}, {"on", 1}, {"1", 1}, {"TRUE", 1}, {"Yes", 1},
		{"false", 0}, {"no", 0}, {"off", 0}, {"0", 0}, {"Off", 0},
		{"2", -1}, {"y", -1}, {"enabled", -1},
	};
	struct mc_config c = {0};
	char text[256];

	for (size_t i = 0; i < sizeof(mem) / sizeof(mem[0]); i++) {
		snprintf(text, sizeof(text), "[defaults]\nfloor = %s\n", mem[i].text);
		if (mem[i].bad) {
			CHECK(load(&c, text, NULL) == -EINVAL);
			CHECK(strstr(err, ":2: [defaults] floor: '") != NULL);
		} else {
			CHECK(load(&c, text, NULL) == 0);
			if (c.floor_kib != mem[i].kib) {
				fprintf(stderr, "floor = %s -> %llu KiB, want %llu\n", mem[i].text,
					(unsigned long long)c.floor_kib,
					(unsigned long long)mem[i].kib);
				check_failures++;
			}
		}
	}
	/* Rates: memory per second, with an optional "/s". */
	CHECK(load(&c, "[balance]\nswap_pressure = 1M\n", NULL) == 0);
	CHECK(c.params.bal.swap_pressure_kib_s == 1024);
	CHECK(load(&c, "[balance]\nswap_pressure = 512K/s\n", NULL) == 0);
	CHECK(c.params.bal.swap_pressure_kib_s == 512);
	CHECK(load(&c, "[balance]\nswap_pressure = 2MiB/s\n", NULL) == 0);
	CHECK(c.params.bal.swap_pressure_kib_s == 2048);
	CHECK(load(&c, "[balance]\nswap_pressure = 0\n", NULL) == -EINVAL);
	CHECK(load(&c, "[balance]\nswap_pressure = fast\n", NULL) == -EINVAL);
	CHECK(strstr(err, "is not a memory rate") != NULL);

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		snprintf(text, sizeof(text), "[balance]\ncooldown = %s\n", times[i].text);
		if (times[i].ms < 0) {
			CHECK(load(&c, text, NULL) == -EINVAL);
			CHECK(strstr(err, ":2: [balance] cooldown: '") != NULL);
		} else {
			CHECK(load(&c, text, NULL) == 0);
			if (c.params.bal.cooldown_ms != times[i].ms) {
				fprintf(stderr, "cooldown = %s -> %lld ms, want %lld\n", times[i].text,
					(long long)c.params.bal.cooldown_ms, (long long)times[i].ms);
				check_failures++;
			}
		}
	}
	CHECK(load(&c, "[daemon]\ninterval = 250ms\n", NULL) == 0 && c.interval_ms == 250);
	CHECK(load(&c, "[daemon]\nstats_period = 2000ms\n", NULL) == 0 && c.stats_period_s == 2);
	CHECK(load(&c, "[daemon]\nstats_period = 1.5\n", NULL) == -EINVAL);
	CHECK(strstr(err, "stats_period: '1.5' is not a whole number of seconds") != NULL);
	CHECK(load(&c, "[daemon]\nresync = 0\n", NULL) == -EINVAL);
	CHECK(load(&c, "[daemon]\nconnections = 2\n", NULL) == 0 && c.connections == 2);
	CHECK(load(&c, "[daemon]\nconnections = 0\n", NULL) == -EINVAL);
	CHECK(load(&c, "[daemon]\nconnections = 17\n", NULL) == -EINVAL);
	CHECK(strstr(err, "connections") != NULL);

	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		snprintf(text, sizeof(text), "[daemon]\ndry_run = %s\n", bools[i].text);
		if (bools[i].v < 0) {
			CHECK(load(&c, text, NULL) == -EINVAL);
			CHECK(strstr(err, "is not a boolean") != NULL);
		} else {
			CHECK(load(&c, text, NULL) == 0);
			CHECK(c.dry_run == (bools[i].v == 1));
		}
	}
	CHECK(load(&c, "[balance]\nstale_samples = 1\nfault_pressure = 1\n", NULL) == 0);
	CHECK(c.params.bal.stale_samples == 1 && c.params.bal.fault_pressure_s == 1);
	CHECK(load(&c, "[balance]\nstale_samples = 0\n", NULL) == -EINVAL);
	CHECK(load(&c, "[balance]\nstale_samples = 1.5\n", NULL) == -EINVAL);
	CHECK(load(&c, "[defaults]\nweight = 1000\n", NULL) == 0 && c.weight == 1000);
	CHECK(load(&c, "[defaults]\nweight = 0\n", NULL) == -EINVAL);
	CHECK(load(&c, "[host]\nreserve = 0\n", NULL) == 0);
	CHECK(c.host_reserve_set && c.host_reserve_kib == 0);
	CHECK(load(&c, "[daemon]\nlog_level = WARNING\n", NULL) == 0);
	CHECK(c.log_level == MC_LOG_WARNING);
	/* Leading whitespace, inline comments, ':' as separator, a BOM, CRLF. */
	CHECK(load(&c, "\xEF\xBB\xBF[daemon]\r\n  interval = 2 ; seconds\r\n\t[seed]\n"
		   "  loaded: 50\n  ; an indented comment\n", NULL) == 0);
	CHECK(c.interval_ms == 2000 && c.params.seed.loaded_kib == 50 * 1024);
	/* Section and key names are not case-sensitive. */
	CHECK(load(&c, "[Daemon]\nInterval = 3\n[ balance ]\nLOW = 1M\n", NULL) == 0);
	CHECK(c.interval_ms == 3000 && c.params.bal.low_kib == 1024);
	/* An empty file and a file of comments are valid. */
	CHECK(load(&c, "", NULL) == 0);
	CHECK(load(&c, "# nothing\n\n;\n", NULL) == 0);
	mc_config_free(&c);
	printf("units, suffixes, booleans, syntax\n");
}

static void test_domains(void)
{
	static const uint8_t uuid_a[MC_UUID_LEN] = {0xaa, 1, 2, 3};
	struct mc_config c = {0};
	const struct mc_dom_cfg *d;

	CHECK(load(&c,
		   "[domain:web1]\nweight = 5\n"
		   "[domain:6695eb01-f6a4-8304-79aa-97f2502e193f]\nweight = 7\nfloor = 1G\n"
		   "[domain:db]\nexclude = on\nmax = 2G\n", NULL) == 0);
	CHECK(c.ndoms == 3);
	d = mc_config_find_domain(&c, uuid_a, "web1");
	CHECK(d && strcmp(d->key, "web1") == 0 && d->weight == 5);
	/* The UUID section wins over the name section. */
	d = mc_config_find_domain(&c, uuid_b, "web1");
	CHECK(d && d->by_uuid && d->weight == 7 && d->has_floor && d->floor_kib == 1024 * 1024);
	d = mc_config_find_domain(&c, uuid_b, NULL);
	CHECK(d && d->by_uuid);
	d = mc_config_find_domain(&c, NULL, "db");
	CHECK(d && d->exclude && d->has_max && d->max_kib == 2ULL * 1024 * 1024 && !d->has_weight);
	CHECK(mc_config_find_domain(&c, uuid_a, "nosuch") == NULL);
	CHECK(mc_config_find_domain(&c, NULL, NULL) == NULL);
	/* A domain whose name looks like a UUID is matched by UUID only. */
	CHECK(mc_config_find_domain(&c, uuid_a, "6695eb01-f6a4-8304-79aa-97f2502e193f") == NULL);
	/* Names are case-sensitive (libvirt's are). */
	CHECK(mc_config_find_domain(&c, NULL, "WEB1") == NULL);
	/* A long domain name (inih itself keeps only 50 characters). */
	CHECK(load(&c, "[domain:a-very-long-domain-name-that-is-longer-than-fifty-characters]\n"
		   "weight = 2\n", NULL) == 0);
	CHECK(mc_config_find_domain(&c, NULL,
		"a-very-long-domain-name-that-is-longer-than-fifty-characters") != NULL);
	mc_config_free(&c);
	printf("domain sections by name and by UUID\n");
}

static void test_invalid(void)
{
	char text[512], big[400];
	struct mc_config c = {0};

	printf("invalid files:\n");
	/* Wrong types. */
	expect_bad("[balance]\nlow = 12x\n", 1,
		   "2: [balance] low: '12x' is not a memory size (e.g. 128, 512M, 2G)");
	expect_bad("[daemon]\n\ninterval = soon\n", 1,
		   "3: [daemon] interval: 'soon' is not a time (e.g. 2, 0.5, 250ms)");
	expect_bad("[daemon]\ndry_run = maybe\n", 1, "2: [daemon] dry_run: 'maybe' is not a boolean");
	expect_bad("[defaults]\nweight = heavy\n", 1, "2: [defaults] weight: 'heavy' is not a whole number");
	expect_bad("[daemon]\npolicy = magic\n", 1, "2: [daemon] policy: unknown policy 'magic' (known: seed");
	expect_bad("[daemon]\nlog_level = loud\n", 1, "2: [daemon] log_level: unknown log level 'loud'");
	expect_bad("[daemon]\nuri = test:///default\x01\n", 1, "2: [daemon] uri: 'test:///default?' contains control characters");
	/* Out of range. */
	expect_bad("[defaults]\nweight = 1001\n", 1, "2: [defaults] weight: '1001' is out of range (1..1000)");
	expect_bad("[domain:x]\nweight = 0\n", 1, "2: [domain:x] weight: '0' is out of range (1..1000)");
	expect_bad("[host]\nbudget = 65T\n", 1, "2: [host] budget: '65T' is too large (at most 64T)");
	expect_bad("[balance]\nhorizon = 2d\n", 1, "2: [balance] horizon: '2d' is not a time");
	expect_bad("[balance]\nstuck = 100000\n", 1, "2: [balance] stuck: '100000' is too long (at most one day, 86400 s)");
	expect_bad("[balance]\nshrink_step = 0\n", 1, "2: [balance] shrink_step: '0' must be greater than 0");
	expect_bad("[seed]\nloaded = 0\n", 1, "2: [seed] loaded: '0' must be greater than 0");
	expect_bad("[domain:x]\nmax = 0\n", 1, "2: [domain:x] max: '0' must be greater than 0");
	/* Unknown keys and sections. */
	expect_bad("[balance]\nlowish = 1\n", 1, "2: [balance] lowish: unknown key (known: low, target, high,");
	expect_bad("[bogus]\nx = 1\ny = 2\n", 1, "1: [bogus]: unknown section (known: daemon, host,");
	expect_bad("[domain]\nfloor = 1\n", 1, "1: [domain]: unknown section");
	expect_bad("[domain:]\nfloor = 1\n", 1, "1: [domain:]: missing the domain name or UUID");
	expect_bad("[domain:a\tb]\nfloor = 1\n", 1, "1: [domain:a?b]: the section name contains control characters");
	expect_bad("interval = 1\n[daemon]\n", 1, "1: interval: key outside any section");
	/* Duplicates. */
	expect_bad("[domain:a]\nfloor = 1\n\n[domain:a]\nfloor = 2\n", 1,
		   "4: [domain:a]: duplicate section (first at line 1)");
	expect_bad("[domain:6695eb01-f6a4-8304-79aa-97f2502e193f]\n"
		   "[domain:6695EB01-F6A4-8304-79AA-97F2502E193F]\n", 1,
		   "2: [domain:6695EB01-F6A4-8304-79AA-97F2502E193F]: duplicate section (first at line 1)");
	/* ... whose keys are still checked. */
	expect_bad("[domain:a]\n[domain:a]\nfloor = x\n", 2, "3: [domain:a] floor: 'x' is not a memory size");
	expect_bad("[daemon]\ninterval = 1\n[seed]\n[daemon]\ninterval = 2\n", 1,
		   "5: [daemon] interval: set twice (first at line 2)");
	/* Empty values, lines that are not key = value. */
	expect_bad("[daemon]\npolicy =\n", 1, "2: [daemon] policy: empty value");
	/* Found by fuzzing: "key =;x" is the value ";x" but "key = ;x" a
	 * comment, so --check-config printed a file that read back empty. */
	expect_bad("[daemon]\nuri =;test:///default\n", 1, "2: [daemon] uri: a value cannot start with ';'");
	expect_bad("[daemon]\n= 3\n", 1, "2: [daemon]: missing key name before '='");
	expect_bad("[daemon]\njunk\n", 1, "2: [daemon]: cannot parse 'junk' (expected key = value)");
	expect_bad("[daemon]\ninterval ; = 2\n", 1, "2: [daemon]: cannot parse 'interval ; = 2'");
	expect_bad("[daemon\ninterval = 1\n", 1, "1: cannot parse section header '[daemon' (missing ']')");
	expect_bad("[daemon] extra\n", 1, "1: [daemon]: unexpected text after ']': 'extra'");
	expect_bad("[daemon]\nlast line without newline", 1, "2: [daemon]: cannot parse 'last line without newline'");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(text, sizeof(text), "[daemon]\nuri = %s\n", big);
	expect_bad(text, 1, "2: line too long (at most");
	{
		static const char nul[] = "[daemon]\ninterval = 1\0junk\n";
		const char *path = write_file_n(nul, sizeof(nul) - 1);

		mc_config_defaults(&c);
		CHECK(mc_config_load_file(&c, path, err, sizeof(err)) == -EINVAL);
		CHECK(strstr(err, ":2: the line contains a NUL byte") != NULL);
		printf("  %s\n", err);
		mc_config_free(&c);
		unlink(path);
	}

	/* Every problem, not only the first. */
	expect_bad("[daemon]\n"        /* 1 */
		   "interval = 0\n"    /* 2: zero */
		   "policy = x\n"      /* 3: unknown policy */
		   "[balance]\n"       /* 4 */
		   "low = 12x\n"       /* 5: bad size */
		   "bogus = 1\n"       /* 6: unknown key */
		   "nonsense\n"        /* 7: cannot parse */
		   "high = 300M\n"     /* 8: fine */
		   "[nope]\n"          /* 9: unknown section */
		   "[domain:a]\n"      /* 10 */
		   "exclude = perhaps\n", /* 11: bad boolean */
		   7, "11: [domain:a] exclude: 'perhaps' is not a boolean");
	CHECK(strstr(err, ":2: [daemon] interval: '0' must be greater than 0\n") != NULL);
	CHECK(strstr(err, ":3: [daemon] policy: unknown policy 'x'") != NULL);
	CHECK(strstr(err, ":5: [balance] low: '12x'") != NULL);
	CHECK(strstr(err, ":6: [balance] bogus: unknown key") != NULL);
	CHECK(strstr(err, ":7: [balance]: cannot parse 'nonsense'") != NULL);
	CHECK(strstr(err, ":9: [nope]: unknown section") != NULL);
	CHECK(strstr(err, ":8:") == NULL);

	/* Many problems and a small buffer: whole lines, then a count. */
	{
		char small[300];
		char many[2048] = "[balance]\n";
		const char *path;

		for (int i = 0; i < 40; i++)
			strcat(many, "low = bad\n");
		path = write_file(many);
		mc_config_defaults(&c);
		CHECK(mc_config_load_file(&c, path, small, sizeof(small)) == -EINVAL);
		CHECK(strlen(small) < sizeof(small));
		CHECK(strstr(small, "more problems not shown)") != NULL);
		CHECK(strstr(small, ":2: [balance] low: 'bad'") != NULL);
		printf("  truncated: ...%s\n", strrchr(small, '\n'));
		mc_config_free(&c);
		mc_config_defaults(&c);
		CHECK(mc_config_load_file(&c, path, NULL, 0) == -EINVAL);
		mc_config_free(&c);
		unlink(path);
	}
	printf("invalid files: each reported with file, line and key\n");
}

static void test_validate_file(void)
{
	struct mc_config c = {0};
	const char *path;
	char want[300];

	/* Each value is fine; together they contradict: reported by
	 * validation, with the file's name and the line that set low. */
	CHECK(load(&c, "[balance]\nlow = 300M\n", &path) == 0);
	CHECK(mc_config_validate(&c, err, sizeof(err)) == -EINVAL);
	snprintf(want, sizeof(want), "%s:2: [balance] low/target/high: low < target < high is required,"
		 " got low 300 MiB, target %d MiB, high %d MiB (low at line 2)", path,
		 MC_DEF_TARGET_MIB, MC_DEF_HIGH_MIB);
	CHECK(strcmp(err, want) == 0);
	printf("  %s\n", err);

	path = write_file("[balance]\nhigh = 2M\ntarget = 2M\n[daemon]\ninterval = 2\n"
			  "[domain:a]\nfloor = 2G\nmax = 1G\n[balance]\nlow = 1M\n");
	CHECK(build(&c, "--config", path, NULL) == MC_ARGS_BAD);
	/* At the first line of the three, each one's line named. */
	snprintf(want, sizeof(want), "%s:2: [balance] low/target/high", path);
	CHECK(strstr(err, want) != NULL);
	CHECK(strstr(err, "(low at line 10, target at line 3, high at line 2)") != NULL);
	snprintf(want, sizeof(want), "%s:6: [domain:a] floor/max: floor 2048 MiB is above max 1024 MiB", path);
	CHECK(strstr(err, want) != NULL);
	CHECK(count_lines(err) == 2);
	printf("  %s\n", err);
	unlink(path);

	path = write_file("[seed]\nloaded = 300\nfree = 300\n");
	CHECK(build(&c, "--config", path, NULL) == MC_ARGS_BAD);
	CHECK(strstr(err, "must be greater than loaded") != NULL);
	snprintf(want, sizeof(want), "%s:2: [seed] free/loaded: ", path);
	CHECK(strncmp(err, want, strlen(want)) == 0);
	CHECK(strstr(err, "(loaded at line 2, free at line 3)") != NULL);
	/* A threshold from the command line is not the file's. */
	CHECK(build(&c, "--config", path, "--loaded-threshold", "350", NULL) == MC_ARGS_BAD);
	snprintf(want, sizeof(want), "%s:3: [seed] free/loaded: ", path);
	CHECK(strncmp(err, want, strlen(want)) == 0);
	CHECK(strstr(err, "(free at line 3)") != NULL);
	CHECK(build(&c, "--config", path, "--loaded-threshold", "350",
		    "--free-threshold", "320", NULL) == MC_ARGS_BAD);
	CHECK(strncmp(err, "free threshold (320 MiB)", 24) == 0);
	printf("  %s\n", err);
	/* ... and the command line can repair it. */
	CHECK(build(&c, "--config", path, "--free-threshold", "400", NULL) == MC_ARGS_OK);
	unlink(path);
	mc_config_free(&c);
	printf("contradictions found by validation\n");
}

static void test_missing(void)
{
	struct mc_config c = {0};
	char path[256], want[300];

	snprintf(path, sizeof(path), "%s/no-such.conf", tmpdir);
	mc_config_defaults(&c);
	CHECK(mc_config_load_file(&c, path, err, sizeof(err)) == -ENOENT);
	CHECK(build(&c, "--config", path, NULL) == MC_ARGS_BAD);
	snprintf(want, sizeof(want), "cannot read %s: No such file or directory", path);
	CHECK(strcmp(err, want) == 0);
	printf("  %s\n", err);
	/* A directory is not a file. */
	CHECK(build(&c, "--config", tmpdir, NULL) == MC_ARGS_BAD);
	CHECK(strstr(err, "Is a directory") != NULL);
	printf("  %s\n", err);
	if (access(MC_DEFAULT_CONFIG_PATH, F_OK) != 0 && errno == ENOENT) {
		CHECK(build(&c, "--interval", "2", NULL) == MC_ARGS_OK);
		CHECK(c.interval_ms == 2000 && c.config_path == NULL && err[0] == '\0');
		printf("missing --config file is an error; missing default file is not\n");
	} else {
		printf("missing --config file is an error (%s exists here: its absence"
		       " is not tested)\n", MC_DEFAULT_CONFIG_PATH);
	}
	mc_config_free(&c);
}

static bool dom_equal(const struct mc_dom_cfg *a, const struct mc_dom_cfg *b)
{
	return strcmp(a->key, b->key) == 0 && a->by_uuid == b->by_uuid &&
	       (!a->by_uuid || memcmp(a->uuid, b->uuid, MC_UUID_LEN) == 0) &&
	       a->has_floor == b->has_floor && a->has_max == b->has_max &&
	       a->has_weight == b->has_weight &&
	       (!a->has_floor || a->floor_kib == b->floor_kib) &&
	       (!a->has_max || a->max_kib == b->max_kib) &&
	       (!a->has_weight || a->weight == b->weight) && a->exclude == b->exclude;
}

/* Everything the file can hold. */
static bool file_equal(const struct mc_config *a, const struct mc_config *b)
{
	const struct mc_balance_params *x = &a->params.bal, *y = &b->params.bal;
	bool eq = true;

	eq &= (!a->uri && !b->uri) || (a->uri && b->uri && strcmp(a->uri, b->uri) == 0);
	eq &= strcmp(a->policy, b->policy) == 0;
	eq &= a->interval_ms == b->interval_ms && a->stats_period_s == b->stats_period_s;
	eq &= a->dry_run == b->dry_run && a->log_level == b->log_level;
	eq &= a->log_target == b->log_target;
	eq &= a->resync_s == b->resync_s;
	eq &= a->connections == b->connections;
	eq &= a->host_reserve_set == b->host_reserve_set;
	eq &= !a->host_reserve_set || a->host_reserve_kib == b->host_reserve_kib;
	eq &= a->floor_kib == b->floor_kib && a->weight == b->weight;
	eq &= a->params.seed.loaded_kib == b->params.seed.loaded_kib;
	eq &= a->params.seed.free_kib == b->params.seed.free_kib;
	eq &= x->low_kib == y->low_kib && x->target_kib == y->target_kib;
	eq &= x->high_kib == y->high_kib && x->shrink_step_kib == y->shrink_step_kib;
	eq &= x->cooldown_ms == y->cooldown_ms && x->horizon_ms == y->horizon_ms;
	eq &= x->stale_samples == y->stale_samples && x->stuck_ms == y->stuck_ms;
	eq &= x->stuck_recheck_ms == y->stuck_recheck_ms;
	eq &= x->swap_pressure_kib_s == y->swap_pressure_kib_s;
	eq &= x->fault_pressure_s == y->fault_pressure_s && x->budget_kib == y->budget_kib;
	eq &= a->ndoms == b->ndoms;
	for (size_t i = 0; eq && i < a->ndoms; i++)
		eq &= dom_equal(&a->doms[i], &b->doms[i]);
	return eq;
}

/* Print c, read it back over the defaults, compare. */
static void round_trip(const struct mc_config *c, const char *what)
{
	struct mc_config back;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	const char *path;
	int rc;

	mc_config_print(c, f);
	fclose(f);
	path = write_file(text);
	mc_config_defaults(&back);
	rc = mc_config_load_file(&back, path, err, sizeof(err));
	CHECK(rc == 0);
	if (rc == 0 && !file_equal(c, &back)) {
		fprintf(stderr, "round trip (%s) differs:\n%s\n", what, text);
		check_failures++;
	}
	CHECK(rc != 0 || mc_config_validate(&back, err, sizeof(err)) == 0);
	/* Every section, with each key's unit in a comment. */
	CHECK(strstr(text, "\n[daemon]\n") && strstr(text, "\n[host]\n") &&
	      strstr(text, "\n[defaults]\n") && strstr(text, "\n[seed]\n") &&
	      strstr(text, "\n[balance]\n"));
	for (size_t i = 0; i < c->ndoms; i++) {
		char sec[160];

		snprintf(sec, sizeof(sec), "\n[domain:%s]\n", c->doms[i].key);
		CHECK(strstr(text, sec) != NULL);
	}
	unlink(path);
	mc_config_free(&back);
	printf("print -> load round trip: %s\n", what);
	if (strcmp(what, "every key") == 0)
		printf("----\n%s----\n", text);
	free(text);
}

static void test_round_trip(void)
{
	struct mc_config c = {0};
	const char *path;

	mc_config_defaults(&c);
	round_trip(&c, "defaults");
	CHECK(load(&c, full_file, &path) == 0);
	round_trip(&c, "every key");
	/* Values that need the finer units. */
	CHECK(load(&c, "[balance]\nlow = 1536K\ntarget = 1.5G\nhigh = 2T\nhorizon = 1.25\n"
		   "cooldown = 7ms\nswap_pressure = 100K\n[daemon]\ninterval = 0.001\n"
		   "[host]\nreserve = 0\nbudget = 1\n[domain:x]\nfloor = 0\n", NULL) == 0);
	round_trip(&c, "odd units");
	mc_config_free(&c);
}

static void test_copy(void)
{
	struct mc_config a = {0}, b;

	CHECK(load(&a, full_file, NULL) == 0);
	a.sim_path = strdup("sim.scn");
	a.trace_path = strdup("trace.csv");
	CHECK(mc_config_copy(&b, &a) == 0);
	CHECK(file_equal(&a, &b));
	CHECK(b.uri != a.uri && b.doms != a.doms && b.config_path != a.config_path);
	CHECK(b.sim_path != a.sim_path && strcmp(b.sim_path, "sim.scn") == 0);
	CHECK(b.trace_path != a.trace_path && strcmp(b.trace_path, "trace.csv") == 0);
	b.doms[0].floor_kib = 1;
	b.uri[0] = 'X';
	CHECK(a.doms[0].floor_kib == 300 * 1024 && a.uri[0] == 't');
	mc_config_free(&a);
	/* The copy outlives the original (ASan checks the frees). */
	CHECK(b.ndoms == 2 && strcmp(b.doms[0].key, "web1") == 0);
	CHECK(strcmp(b.uri, "Xest:///default") == 0);
	mc_config_free(&b);
	mc_config_free(&b);   /* free is idempotent */
	mc_config_defaults(&a);
	CHECK(mc_config_copy(&b, &a) == 0 && b.uri == NULL && b.doms == NULL);
	mc_config_free(&b);
	printf("mc_config_copy is deep\n");
}

/* mc_config_load_stream: the same result as the file, messages under the
 * given name, config_path left alone; NUL bytes and an empty buffer. */
static void test_stream(void)
{
	static const char bad[] = "[balance]\nlow = 12x\n[daemon]\nx\0y = 1\n";
	struct mc_config a = {0}, b;
	FILE *f;

	CHECK(load(&a, full_file, NULL) == 0);
	mc_config_defaults(&b);
	f = fmemopen((void *)full_file, strlen(full_file), "r");
	CHECK(f && mc_config_load_stream(&b, f, "<mem>", err, sizeof(err)) == 0);
	fclose(f);
	CHECK(file_equal(&a, &b) && b.config_path == NULL);
	mc_config_free(&b);

	mc_config_defaults(&b);
	f = fmemopen((void *)bad, sizeof(bad) - 1, "r");
	CHECK(f && mc_config_load_stream(&b, f, "<mem>", err, sizeof(err)) == -EINVAL);
	fclose(f);
	CHECK(strstr(err, "<mem>:2: [balance] low: '12x' is not a memory size") != NULL);
	CHECK(strstr(err, "<mem>:4: the line contains a NUL byte") != NULL);
	CHECK(count_lines(err) == 2);
	mc_config_free(&b);

	mc_config_defaults(&b);
	f = fmemopen((void *)"", 0, "r");
	CHECK(f && mc_config_load_stream(&b, f, "<mem>", err, sizeof(err)) == 0);
	fclose(f);
	mc_config_free(&b);
	mc_config_free(&a);
	printf("a configuration from a memory buffer\n");
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_full_file();
	test_precedence();
	test_units();
	test_domains();
	test_invalid();
	test_validate_file();
	test_missing();
	test_round_trip();
	test_copy();
	test_stream();
	rmdir(tmpdir);
	printf("%s\n", check_failures ? "FAILED" : "all config file checks passed");
	return check_failures ? 1 : 0;
}
