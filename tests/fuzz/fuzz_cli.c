/* Fuzz target: the command line (mc_config_parse_args in config.c).
 *
 * The input is split at NUL bytes into the arguments after "memcoord".
 * Any command line: the parser returns OK, EXIT (help, version) or BAD with
 * a message, never crashes, and can run again (getopt's state is reset).
 * An accepted one holds only values in the documented ranges: intervals
 * 1 ms..1 day, periods 1..86400 s, memory within 1 PiB, a known policy and
 * log level, a URI without control characters; validation and printing do
 * not crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcoord/config.h"
#include "memcoord/policy.h"

#include "fuzz.h"

#define MAX_ARGS 64
#define PIB_KIB (1024ULL * 1024 * 1024 * 1024)

static FILE *sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2], *buf, err[1024];
	int argc = 0;
	struct mc_config c;
	enum mc_args_result r;

	if (!sink)
		sink = fopen("/dev/null", "w");
	FUZZ_ASSERT(sink != NULL, "cannot open /dev/null");
	buf = malloc(size + 1);
	FUZZ_ASSERT(buf != NULL, "out of memory");
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = (char *)"memcoord";
	for (char *p = buf; p <= buf + size && argc <= MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	if (size == 0)
		argc = 1;
	argv[argc] = NULL;

	for (int pass = 0; pass < 2; pass++) {
		char *copy[MAX_ARGS + 2];

		/* getopt_long permutes argv: each pass gets the original order. */
		memcpy(copy, argv, sizeof(copy));
		mc_config_defaults(&c);
		err[0] = '\0';
		r = mc_config_parse_args(&c, argc, copy, sink, err, sizeof(err));
		FUZZ_ASSERT(r == MC_ARGS_OK || r == MC_ARGS_EXIT || r == MC_ARGS_BAD, "result %d", r);
		FUZZ_ASSERT(r != MC_ARGS_BAD || err[0], "rejected without a message");
		if (r == MC_ARGS_OK) {
			const struct mc_balance_params *b = &c.params.bal;

			FUZZ_ASSERT(c.interval_ms >= 1 && c.interval_ms <= 86400 * 1000,
				    "interval %d ms", c.interval_ms);
			FUZZ_ASSERT(c.stats_period_s >= 1 && c.stats_period_s <= 86400,
				    "stats period %d s", c.stats_period_s);
			FUZZ_ASSERT(c.params.seed.loaded_kib >= 1024 && c.params.seed.loaded_kib <= PIB_KIB,
				    "loaded %llu KiB", (unsigned long long)c.params.seed.loaded_kib);
			FUZZ_ASSERT(c.params.seed.free_kib >= 1024 && c.params.seed.free_kib <= PIB_KIB,
				    "free %llu KiB", (unsigned long long)c.params.seed.free_kib);
			FUZZ_ASSERT(c.floor_kib <= PIB_KIB && c.host_reserve_kib <= PIB_KIB &&
				    b->budget_kib <= PIB_KIB, "memory above 1 PiB");
			FUZZ_ASSERT(mc_policy_find(c.policy) != NULL, "policy '%s'", c.policy);
			FUZZ_ASSERT(c.log_level >= MC_LOG_ERR && c.log_level <= MC_LOG_DEBUG,
				    "log level %d", (int)c.log_level);
			FUZZ_ASSERT(!c.uri || !fuzz_unprintable_line(c.uri), "URI with control characters");
			FUZZ_ASSERT(!c.config_path || c.config_path[0], "empty --config");
			FUZZ_ASSERT(!c.sim_path || c.sim_path[0], "empty --sim");
			FUZZ_ASSERT(!c.trace_path || c.trace_path[0], "empty --trace");
			mc_config_validate(&c, err, sizeof(err));
			mc_config_print(&c, sink);
		}
		mc_config_free(&c);
	}
	free(buf);
	return 0;
}
