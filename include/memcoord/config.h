/* memcoord — configuration: defaults, the INI file, the command line,
 * validation, and the effective configuration.
 *
 * Precedence: built-in defaults, then the file (--config FILE, default
 * /etc/memcoord/memcoord.conf), then command-line options. Memory values are
 * KiB inside; the file and command line take MiB (the file also accepts
 * K/M/G/T suffixes). A configuration object is immutable once built: a
 * reload builds a new one and publishes it (RCU). */
#ifndef MEMCOORD_CONFIG_H
#define MEMCOORD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "memcoord/log.h"
#include "memcoord/policy.h"

#define MC_VERSION "0.2.0"
#define MC_DEFAULT_CONFIG_PATH "/etc/memcoord/memcoord.conf"

/* Defaults, each with its reason. */
#define MC_DEF_POLICY "balance"       /* the seed policy is kept as --policy seed */
#define MC_DEF_INTERVAL_MS 1000        /* one decision per stats period */
#define MC_DEF_STATS_PERIOD_S 1        /* guests refresh balloon stats every second */
#define MC_DEF_LOADED_MIB 100          /* the seed's LOADED threshold */
#define MC_DEF_FREE_MIB 300            /* the seed's FREE threshold */
#define MC_DEF_FLOOR_MIB 200           /* a Linux guest below this barely boots */
#define MC_DEF_WEIGHT 1                /* equal shares unless configured */
#define MC_MAX_WEIGHT 1000             /* weights are ratios; 1000:1 is plenty */
#define MC_DEF_RESERVE_MIN_MIB 512     /* host reserve: max(512 MiB, 2% of RAM) */
#define MC_DEF_RESERVE_PCT 2
#define MC_DEF_RESYNC_S 60             /* full listing to repair missed events */
#define MC_DEF_CONNECTIONS 4           /* libvirt connections for the collectors */
#define MC_MAX_CONNECTIONS 16
#define MC_DEF_ONCE_WAIT_MS 10000      /* --once: wait this long for samples */
/* Balance policy (see docs/policy.md for the reasoning behind each). */
#define MC_DEF_LOW_MIB 128             /* headroom below this: grow */
#define MC_DEF_TARGET_MIB 192          /* headroom a grow restores */
#define MC_DEF_HIGH_MIB 256            /* headroom above this: surplus */
#define MC_DEF_SHRINK_STEP_MIB 64      /* per decision: caches drop without stalls */
#define MC_DEF_SHRINK_PCT 12           /* or 12% of a large surplus: gigabytes freed
					* come back in seconds */
#define MC_DEF_COOLDOWN_MS 10000       /* no shrink for 10 s after a grow */
#define MC_DEF_HORIZON_MS 3000         /* grant covers 3 s of predicted use */
#define MC_DEF_STALE_SAMPLES 5         /* 5 unchanged last_update: stale */
#define MC_DEF_STUCK_MS 5000           /* balloon off target 5 s after a set: stuck */
#define MC_DEF_STUCK_RECHECK_MS 60000  /* try a stuck guest again after a minute */
#define MC_DEF_SWAP_PRESSURE_KIB_S 1024 /* 1 MiB/s of swap traffic is pressure */
#define MC_DEF_FAULT_PRESSURE_S 100    /* 100 major faults/s is pressure */

/* A [domain:KEY] section: KEY is a domain name or a UUID. */
struct mc_dom_cfg {
	char key[MC_NAME_LEN];
	bool by_uuid;
	uint8_t uuid[MC_UUID_LEN];
	bool has_floor, has_max, has_weight;
	uint64_t floor_kib;
	uint64_t max_kib;           /* caps growth below the domain's own maximum */
	uint32_t weight;
	bool exclude;               /* never acted on */
	int line;                   /* where the section starts, for messages */
};

struct mc_config {
	char *uri;                  /* NULL: LIBVIRT_DEFAULT_URI, else qemu:///system */
	char policy[32];            /* "seed" or "balance" */
	int interval_ms;            /* decision interval */
	int stats_period_s;         /* guest balloon stats period */
	struct mc_policy_params params;   /* seed and balance parameters */
	uint64_t floor_kib;         /* default floor for every domain */
	uint32_t weight;            /* default weight */
	uint64_t host_reserve_kib;
	bool host_reserve_set;      /* false: computed from host RAM at start */
	bool dry_run;
	bool once;
	int verbose;                /* count of -v */
	enum mc_log_level log_level;
	enum mc_log_target log_target;    /* default auto */
	int resync_s;
	uint32_t connections;       /* libvirt connections the collectors use */

	char *sim_path;             /* --sim SCENARIO: the simulated host */
	char *trace_path;           /* --trace FILE.csv */
	char *control_socket;       /* status socket path; NULL: the daemon
				     * uses MC_CONTROL_DEFAULT_PATH (not with
				     * --sim); "none": no socket */
	bool control_socket_implicit;  /* the default path, set by main: a
				     * failure to create it is a warning */
	char *metrics_listen;       /* Prometheus metrics on ADDR:PORT; NULL: off */
	bool metrics_allow_remote;  /* a non-loopback metrics address is allowed */
	char *config_path;          /* NULL: MC_DEFAULT_CONFIG_PATH if it exists */
	bool config_explicit;       /* --config given: the file must exist */
	bool check_config;          /* --check-config */
	bool compare;               /* --compare: seed vs balance on a --sim scenario */

	struct mc_dom_cfg *doms;    /* per-domain sections */
	size_t ndoms;
	/* The lines of the file that set [balance] low, target and high,
	 * and [seed] loaded and free (0: not set there, or overridden on the
	 * command line): validation names them when they contradict each
	 * other. */
	int wm_line[3];
	int seed_line[2];

	uint64_t gen;               /* set by the daemon when published; records
				     * cache their per-domain values by it */
};

void mc_config_defaults(struct mc_config *c);
/* Frees what c owns (uri, config_path, doms); c may be reused after
 * mc_config_defaults. */
void mc_config_free(struct mc_config *c);
/* Deep copy: 0 or -ENOMEM. */
int mc_config_copy(struct mc_config *dst, const struct mc_config *src);

enum mc_args_result {
	MC_ARGS_OK = 0,
	MC_ARGS_EXIT = 1,     /* --help / --version printed: exit 0 */
	MC_ARGS_BAD = -1,     /* err holds the message: exit 2 */
};

/* Parse argv over c. Help and version go to out. Does not validate
 * cross-field constraints (mc_config_validate does). */
enum mc_args_result mc_config_parse_args(struct mc_config *c, int argc, char **argv,
					 FILE *out, char *err, size_t errlen);

/* Apply the INI file at path over c. Every problem is reported, one per line
 * of err, as "FILE:LINE: [section] key: message"; returns 0, -ENOENT (file
 * missing), or -EINVAL (invalid; c is then unspecified). */
int mc_config_load_file(struct mc_config *c, const char *path, char *err, size_t errlen);

/* The same from an open stream (a memory buffer: fmemopen); name stands for
 * the file in messages. Leaves c->config_path alone. */
int mc_config_load_stream(struct mc_config *c, FILE *f, const char *name,
			  char *err, size_t errlen);

/* The whole sequence: defaults, argv (for --config), the file, argv again,
 * validation. A missing default file is not an error; a missing --config
 * file is. */
enum mc_args_result mc_config_build(struct mc_config *c, int argc, char **argv,
				    FILE *out, char *err, size_t errlen);

/* Cross-field checks (FREE > LOADED, low < target < high, per-domain
 * floor <= max, ...): 0 or -EINVAL with err set. */
int mc_config_validate(const struct mc_config *c, char *err, size_t errlen);

/* The effective configuration as a valid INI file (for --check-config). */
void mc_config_print(const struct mc_config *c, FILE *out);

/* The section for a domain: a UUID match wins over a name match; NULL if
 * none. */
const struct mc_dom_cfg *mc_config_find_domain(const struct mc_config *c,
					       const uint8_t uuid[MC_UUID_LEN],
					       const char *name);

/* The host reserve for a host of total_kib when none is configured. */
uint64_t mc_config_default_reserve_kib(uint64_t total_kib);

#endif
