/* Command-line parsing and validation (the file: test_config_file.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "memcoord/config.h"

/* Parse a NULL-terminated list of arguments into c (defaults first). */
static enum mc_args_result parse(struct mc_config *c, char *err, size_t errlen, ...)
{
	char *argv[32] = {"memcoord"};
	int argc = 1;
	va_list ap;
	char *a;
	FILE *sink = fopen("/dev/null", "w");
	enum mc_args_result r;

	va_start(ap, errlen);
	while ((a = va_arg(ap, char *)) && argc < 31)
		argv[argc++] = a;
	va_end(ap);
	mc_config_free(c);
	mc_config_defaults(c);
	err[0] = '\0';
	r = mc_config_parse_args(c, argc, argv, sink, err, errlen);
	fclose(sink);
	/* parse_args checks each option; cross-field checks are validate's. */
	if (r == MC_ARGS_OK && mc_config_validate(c, err, errlen) < 0)
		r = MC_ARGS_BAD;
	return r;
}

#define BAD(...) do { \
	CHECK(parse(&c, err, sizeof(err), __VA_ARGS__, NULL) == MC_ARGS_BAD); \
	CHECK(err[0] != '\0'); \
	printf("  rejected:%s\n", err); \
} while (0)

int main(void)
{
	struct mc_config c;
	char err[256];

	mc_config_defaults(&c);
	CHECK(strcmp(c.policy, "balance") == 0);
	CHECK(c.interval_ms == 1000);
	CHECK(c.stats_period_s == 1);
	CHECK(c.params.seed.loaded_kib == 100 * 1024);
	CHECK(c.params.seed.free_kib == 300 * 1024);
	CHECK(c.floor_kib == 200 * 1024);
	CHECK(!c.host_reserve_set);
	CHECK(c.uri == NULL);
	CHECK(c.weight == MC_DEF_WEIGHT);
	CHECK(c.log_level == MC_LOG_INFO);
	CHECK(c.resync_s == MC_DEF_RESYNC_S);
	CHECK(c.params.bal.low_kib == MC_DEF_LOW_MIB * 1024);
	CHECK(c.params.bal.target_kib == MC_DEF_TARGET_MIB * 1024);
	CHECK(c.params.bal.high_kib == MC_DEF_HIGH_MIB * 1024);
	CHECK(c.params.bal.shrink_step_kib == MC_DEF_SHRINK_STEP_MIB * 1024);
	CHECK(c.params.bal.cooldown_ms == MC_DEF_COOLDOWN_MS);
	CHECK(c.params.bal.horizon_ms == MC_DEF_HORIZON_MS);
	CHECK(c.params.bal.stale_samples == MC_DEF_STALE_SAMPLES);
	CHECK(c.params.bal.stuck_ms == MC_DEF_STUCK_MS);
	CHECK(c.params.bal.stuck_recheck_ms == MC_DEF_STUCK_RECHECK_MS);
	CHECK(c.params.bal.swap_pressure_kib_s == MC_DEF_SWAP_PRESSURE_KIB_S);
	CHECK(c.params.bal.fault_pressure_s == MC_DEF_FAULT_PRESSURE_S);
	CHECK(c.params.bal.budget_kib == 0);
	CHECK(c.config_path == NULL && !c.config_explicit && !c.check_config);
	CHECK(c.doms == NULL && c.ndoms == 0);
	CHECK(mc_config_validate(&c, err, sizeof(err)) == 0);
	printf("defaults (and they validate)\n");

	CHECK(parse(&c, err, sizeof(err), "-c", "test:///default", "--policy", "seed",
		    "--interval", "0.5", "--stats-period", "2", "--loaded-threshold", "64",
		    "--free-threshold", "256", "--floor", "300", "--host-reserve", "0",
		    "--dry-run", "--once", "-v", "-v", NULL) == MC_ARGS_OK);
	CHECK(c.uri && strcmp(c.uri, "test:///default") == 0);
	CHECK(c.interval_ms == 500);
	CHECK(c.stats_period_s == 2);
	CHECK(c.params.seed.loaded_kib == 64 * 1024);
	CHECK(c.params.seed.free_kib == 256 * 1024);
	CHECK(c.floor_kib == 300 * 1024);
	CHECK(c.host_reserve_set && c.host_reserve_kib == 0);
	CHECK(c.dry_run && c.once && c.verbose == 2);
	printf("every option\n");

	CHECK(parse(&c, err, sizeof(err), "--config", "/nonexistent/x.conf", "--check-config",
		    "--budget", "4096", "--log-level", "warning", NULL) == MC_ARGS_OK);
	CHECK(c.config_path && strcmp(c.config_path, "/nonexistent/x.conf") == 0);
	CHECK(c.config_explicit && c.check_config);
	CHECK(c.params.bal.budget_kib == 4096ULL * 1024);
	CHECK(c.log_level == MC_LOG_WARNING);
	CHECK(parse(&c, err, sizeof(err), "--config=a.conf", "--config", "b.conf", "--budget", "0",
		    "--log-level", "DEBUG", NULL) == MC_ARGS_OK);
	CHECK(c.config_path && strcmp(c.config_path, "b.conf") == 0);   /* the last one */
	CHECK(c.params.bal.budget_kib == 0 && c.log_level == MC_LOG_DEBUG);
	for (size_t i = 0; i < 5; i++) {
		static const char *const names[] = {"error", "warning", "notice", "info", "debug"};
		static const enum mc_log_level levels[] = {MC_LOG_ERR, MC_LOG_WARNING,
			MC_LOG_NOTICE, MC_LOG_INFO, MC_LOG_DEBUG};

		CHECK(parse(&c, err, sizeof(err), "--log-level", (char *)names[i], NULL) == MC_ARGS_OK);
		CHECK(c.log_level == levels[i]);
	}
	if (mc_policy_find("balance")) {
		CHECK(parse(&c, err, sizeof(err), "--policy", "balance", NULL) == MC_ARGS_OK);
		CHECK(strcmp(c.policy, "balance") == 0);
	}
	CHECK(parse(&c, err, sizeof(err), "--sim", "s.scn", "--trace", "t.csv", NULL) == MC_ARGS_OK);
	CHECK(c.sim_path && strcmp(c.sim_path, "s.scn") == 0);
	CHECK(c.trace_path && strcmp(c.trace_path, "t.csv") == 0);
	printf("--config, --check-config, --budget, --log-level, --sim, --trace\n");

	/* The original program's form: memory_coordinator <interval>. */
	CHECK(parse(&c, err, sizeof(err), "--policy", "seed", "2", NULL) == MC_ARGS_OK);
	CHECK(c.interval_ms == 2000);
	CHECK(parse(&c, err, sizeof(err), "--interval", "2", NULL) == MC_ARGS_OK);
	CHECK(c.interval_ms == 2000);
	CHECK(parse(&c, err, sizeof(err), "--interval=3", NULL) == MC_ARGS_OK);
	CHECK(c.interval_ms == 3000);
	printf("positional interval equals --interval\n");

	CHECK(parse(&c, err, sizeof(err), "--help", NULL) == MC_ARGS_EXIT);
	CHECK(parse(&c, err, sizeof(err), "--version", NULL) == MC_ARGS_EXIT);
	printf("help and version\n");

	printf("bad input:\n");
	BAD("--bogus");
	BAD("-x");
	CHECK(strstr(err, "unknown option '-x' (") != NULL);
	/* A negative INTERVAL is named whole, however getopt split it up
	 * (it once named the program itself, or the option before it). */
	BAD("-25");
	CHECK(strstr(err, "INTERVAL: '-25' is not a positive number of seconds") != NULL);
	BAD("--policy", "seed", "-2");
	CHECK(strstr(err, "INTERVAL: '-2' is not a positive number") != NULL);
	BAD("--dry-run", "-1.5");
	CHECK(strstr(err, "INTERVAL: '-1.5' is not a positive number") != NULL);
	BAD("-c", "-2", "-25");
	CHECK(strstr(err, "INTERVAL: '-25' is not") != NULL);
	BAD("-xv");
	CHECK(strstr(err, "unknown option '-x' in '-xv'") != NULL);
	BAD("-vx");
	CHECK(strstr(err, "unknown option '-x' in '-vx'") != NULL);
	BAD("--verbose=1");
	CHECK(strstr(err, "unknown option '--verbose=1'") != NULL);
	BAD("--interval");
	BAD("--interval", "0");
	BAD("--interval", "0.0");
	BAD("--interval", "-1");
	BAD("--interval", "abc");
	BAD("--interval", "1.2345");
	BAD("--interval", "1e3");
	BAD("0");
	BAD("2", "3");
	BAD("--interval", "2", "2");
	BAD("--stats-period", "0");
	BAD("--stats-period", "1.5");
	BAD("--loaded-threshold", "-5");
	BAD("--loaded-threshold", "ten");
	BAD("--loaded-threshold", "0");
	BAD("--free-threshold", "99999999999999999999999");
	BAD("--floor", "12MiB");
	BAD("--host-reserve", "");
	BAD("-c", "");
	BAD("--policy", "nosuch");
	CHECK(strstr(err, "known: seed") != NULL);
	if (mc_policy_find("balance"))
		CHECK(strstr(err, "known: seed, balance") != NULL);
	BAD("--config", "");
	BAD("--config");
	BAD("--budget", "-1");
	BAD("--budget", "1G");
	BAD("--log-level", "loud");
	CHECK(strstr(err, "error, warning, notice, info or debug") != NULL);
	BAD("--log-level");
	BAD("--sim", "");
	BAD("--trace", "");
	BAD("--check-config=yes");
	/* FREE must exceed LOADED. */
	BAD("--loaded-threshold", "300", "--free-threshold", "300");
	BAD("--loaded-threshold", "400");
	CHECK(strstr(err, "greater") != NULL);

	/* Cross-field and range checks: every problem reported, one per line. */
	mc_config_free(&c);
	mc_config_defaults(&c);
	c.params.bal.low_kib = c.params.bal.target_kib;
	CHECK(mc_config_validate(&c, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "[balance] low/target/high") != NULL);
	printf("  rejected: %s\n", err);
	mc_config_defaults(&c);
	c.params.bal.high_kib = c.params.bal.target_kib;
	CHECK(mc_config_validate(&c, err, sizeof(err)) == -EINVAL);
	mc_config_defaults(&c);
	c.params.bal.shrink_step_kib = 0;
	c.params.bal.cooldown_ms = 0;
	c.params.bal.horizon_ms = -1;
	c.params.bal.stuck_ms = 0;
	c.params.bal.stuck_recheck_ms = 0;
	c.params.bal.stale_samples = 0;
	c.weight = MC_MAX_WEIGHT + 1;
	{
		char big[2048];
		int lines = 1;

		CHECK(mc_config_validate(&c, big, sizeof(big)) == -EINVAL);
		for (const char *p = big; *p; p++)
			lines += *p == '\n';
		CHECK(lines == 7);
		CHECK(strstr(big, "[balance] shrink_step") && strstr(big, "[balance] cooldown") &&
		      strstr(big, "[balance] horizon") && strstr(big, "[balance] stuck:") &&
		      strstr(big, "[balance] stuck_recheck") && strstr(big, "[balance] stale_samples") &&
		      strstr(big, "[defaults] weight: 1001"));
		printf("  rejected (%d problems):\n%s\n", lines, big);
		/* A small buffer: cut at a line, and says how many are missing. */
		CHECK(mc_config_validate(&c, err, 120) == -EINVAL);
		CHECK(strlen(err) < 120 && strstr(err, "not shown)") != NULL);
	}
	mc_config_defaults(&c);
	c.weight = 0;
	CHECK(mc_config_validate(&c, err, sizeof(err)) == -EINVAL);
	{
		struct mc_dom_cfg doms[3] = {
			{.key = "a", .has_floor = true, .floor_kib = 2048, .has_max = true,
			 .max_kib = 1024, .line = 4},
			{.key = "b", .has_weight = true, .weight = 0, .line = 9},
			{.key = "a", .line = 12},
		};

		mc_config_defaults(&c);
		c.doms = doms;
		c.ndoms = 3;
		CHECK(mc_config_validate(&c, err, sizeof(err)) == -EINVAL);
		CHECK(strstr(err, "line 4: [domain:a] floor/max: floor 2 MiB is above max 1 MiB") != NULL);
		CHECK(strstr(err, "line 9: [domain:b] weight: 0") != NULL);
		CHECK(strstr(err, "line 12: [domain:a]: duplicate section (first at line 4)") != NULL);
		doms[0].floor_kib = 1024;   /* floor == max is fine */
		doms[1].weight = MC_MAX_WEIGHT;
		mc_strlcpy(doms[2].key, "c", sizeof(doms[2].key));
		CHECK(mc_config_validate(&c, err, sizeof(err)) == 0);
		c.doms = NULL;
		c.ndoms = 0;
	}
	printf("validation: watermarks, times, counts, weights, domain sections\n");

	mc_config_free(&c);
	CHECK(mc_config_default_reserve_kib(1024ULL * 1024) == 512 * 1024);           /* 1 GiB host */
	CHECK(mc_config_default_reserve_kib(100ULL * 1024 * 1024) == 2ULL * 1024 * 1024); /* 100 GiB */
	printf("host reserve default: max(512 MiB, 2%%)\n");

	printf("%s\n", check_failures ? "FAILED" : "all config checks passed");
	return check_failures ? 1 : 0;
}
