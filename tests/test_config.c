/* Command-line parsing and validation. */
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
	CHECK(strcmp(c.policy, "seed") == 0);
	CHECK(c.interval_ms == 1000);
	CHECK(c.stats_period_s == 1);
	CHECK(c.params.seed.loaded_kib == 100 * 1024);
	CHECK(c.params.seed.free_kib == 300 * 1024);
	CHECK(c.floor_kib == 200 * 1024);
	CHECK(!c.host_reserve_set);
	CHECK(c.uri == NULL);
	printf("defaults\n");

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
	BAD("--policy", "nosuch");
	BAD("-c", "");
	/* FREE must exceed LOADED. */
	BAD("--loaded-threshold", "300", "--free-threshold", "300");
	BAD("--loaded-threshold", "400");
	CHECK(strstr(err, "greater") != NULL);

	mc_config_free(&c);
	CHECK(mc_config_default_reserve_kib(1024ULL * 1024) == 512 * 1024);           /* 1 GiB host */
	CHECK(mc_config_default_reserve_kib(100ULL * 1024 * 1024) == 2ULL * 1024 * 1024); /* 100 GiB */
	printf("host reserve default: max(512 MiB, 2%%)\n");

	printf("%s\n", check_failures ? "FAILED" : "all config checks passed");
	return check_failures ? 1 : 0;
}
