/* memcoord — configuration: defaults, command line, validation.
 * Memory values are KiB inside; the command line takes MiB. */
#ifndef MEMCOORD_CONFIG_H
#define MEMCOORD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memcoord/policy.h"

#define MC_VERSION "0.1.0"

/* Defaults, each with its reason. */
#define MC_DEF_INTERVAL_MS 1000        /* one decision per stats period */
#define MC_DEF_STATS_PERIOD_S 1        /* guests refresh balloon stats every second */
#define MC_DEF_LOADED_MIB 100          /* the seed's LOADED threshold */
#define MC_DEF_FREE_MIB 300            /* the seed's FREE threshold */
#define MC_DEF_FLOOR_MIB 200           /* a Linux guest below this barely boots */
#define MC_DEF_RESERVE_MIN_MIB 512     /* host reserve: max(512 MiB, 2% of RAM) */
#define MC_DEF_RESERVE_PCT 2
#define MC_DEF_RESYNC_S 60             /* full listing to repair missed events */
#define MC_DEF_ONCE_WAIT_MS 10000      /* --once: wait this long for samples */

struct mc_config {
	char *uri;                  /* NULL: LIBVIRT_DEFAULT_URI, else qemu:///system */
	char policy[32];            /* "seed" */
	int interval_ms;            /* decision interval */
	int stats_period_s;         /* guest balloon stats period */
	struct mc_policy_params params;
	uint64_t floor_kib;
	uint64_t host_reserve_kib;
	bool host_reserve_set;      /* false: computed from host RAM at start */
	bool dry_run;
	bool once;
	int verbose;                /* count of -v */
	int resync_s;
};

void mc_config_defaults(struct mc_config *c);
void mc_config_free(struct mc_config *c);

enum mc_args_result {
	MC_ARGS_OK = 0,
	MC_ARGS_EXIT = 1,     /* --help / --version printed: exit 0 */
	MC_ARGS_BAD = -1,     /* err holds the message: exit 2 */
};

/* Parse argv into c (which holds defaults). Help and version go to `out`. */
enum mc_args_result mc_config_parse_args(struct mc_config *c, int argc, char **argv,
					 void *out /* FILE* */, char *err, size_t errlen);
/* Cross-field checks (FREE > LOADED, ...): 0 or -EINVAL with err set. */
int mc_config_validate(const struct mc_config *c, char *err, size_t errlen);

/* The host reserve for a host of total_kib when none is configured. */
uint64_t mc_config_default_reserve_kib(uint64_t total_kib);

#endif
