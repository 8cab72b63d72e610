/* Fuzz target: the scenario file of the simulated host (hv_sim.c, format
 * in docs/scenarios.md), fed from memory.
 *
 * Any input: the loader returns 0 or -EINVAL and never crashes; a rejected
 * scenario has messages and no backend, an accepted one none; every message
 * line names the file ("fuzz:LINE: ...") and is printable. An accepted
 * scenario has its settings in range (speed 1..1000, duration up to a week,
 * budget up to 64 TiB) and its guests boot: the backend starts, every
 * running guest (the first 64) answers info and statistics with a balloon
 * within its maximum, takes a stats period and balloon targets (its
 * maximum, half of it; 0 and above the maximum are refused), the host's
 * free memory is within its total, and the backend stops and frees. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcoord/hv.h"
#include "memcoord/sim.h"

#include "fuzz.h"

#define NAME "fuzz"
#define LOW_KIB (128 * 1024)
#define MAX_POKED 64
#define WEEK_MS (7LL * 86400 * 1000)
#define MAX_KIB (64ULL * 1024 * 1024 * 1024)

static char err[16384];

static void poke(struct mc_hv *hv, const struct mc_dom_info *di)
{
	const struct mc_hv_ops *ops = hv->ops;
	struct mc_hv_dom *d = NULL;
	struct mc_dom_info info;
	struct mc_stats st;
	int rc;

	/* A guest may reach its scenario stop time meanwhile: -ENOENT. */
	rc = ops->dom_open(hv, di->uuid, &d);
	if (rc == -ENOENT)
		return;
	FUZZ_ASSERT(rc == 0 && d, "%s: dom_open: %d", di->name, rc);
	rc = ops->dom_info(d, &info);
	if (rc == -ENOENT)
		goto out;
	FUZZ_ASSERT(rc == 0, "%s: dom_info: %d", di->name, rc);
	FUZZ_ASSERT(info.cur_kib <= info.max_kib, "%s: target %llu above max %llu", di->name,
		    (unsigned long long)info.cur_kib, (unsigned long long)info.max_kib);
	rc = ops->dom_stats(d, &st);
	if (rc == -ENOENT)
		goto out;
	FUZZ_ASSERT(rc == 0, "%s: dom_stats: %d", di->name, rc);
	if (mc_stats_has(&st, MC_STAT_ACTUAL))
		FUZZ_ASSERT(st.val[MC_STAT_ACTUAL] <= info.max_kib, "%s: balloon %llu above max %llu",
			    di->name, (unsigned long long)st.val[MC_STAT_ACTUAL],
			    (unsigned long long)info.max_kib);
	rc = ops->dom_set_period(d, 1);
	FUZZ_ASSERT(rc == 0 || rc == -ENOENT, "%s: set period: %d", di->name, rc);
	if (info.has_balloon) {
		rc = ops->set_memory(hv, di->uuid, 0);
		FUZZ_ASSERT(rc == -EINVAL || rc == -ENOENT, "%s: target 0: %d", di->name, rc);
		rc = ops->set_memory(hv, di->uuid, info.max_kib + 1);
		FUZZ_ASSERT(rc == -EINVAL || rc == -ENOENT, "%s: target above max: %d", di->name, rc);
		rc = ops->set_memory(hv, di->uuid, info.max_kib);
		FUZZ_ASSERT(rc == 0 || rc == -ENOENT, "%s: target max: %d", di->name, rc);
		if (info.max_kib / 2) {
			rc = ops->set_memory(hv, di->uuid, info.max_kib / 2);
			FUZZ_ASSERT(rc == 0 || rc == -ENOENT, "%s: target max/2: %d", di->name, rc);
		}
		rc = ops->dom_stats(d, &st);
		FUZZ_ASSERT(rc == 0 || rc == -ENOENT, "%s: dom_stats: %d", di->name, rc);
	}
out:
	ops->dom_close(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fmemopen((void *)data, size, "r");
	struct mc_hv *hv = NULL;
	struct mc_dom_info *doms = NULL;
	struct mc_host_mem hm;
	const char *bad;
	size_t n = 0;
	int rc;

	FUZZ_ASSERT(f != NULL, "fmemopen of %zu bytes", size);
	rc = mc_hv_sim_create_stream(f, NAME, LOW_KIB, NULL, &hv, err, sizeof(err));
	fclose(f);
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL, "rc %d: %s", rc, err);
	FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL, "unterminated message");
	FUZZ_ASSERT((rc == 0) == (err[0] == '\0'), "rc %d with message \"%s\"", rc, err);
	FUZZ_ASSERT((rc == 0) == (hv != NULL), "rc %d, backend %p", rc, (void *)hv);
	bad = fuzz_unprefixed_line(err, NAME ":");
	FUZZ_ASSERT(!bad, "message without the file name: \"%s\"", bad);
	bad = fuzz_unprintable_line(err);
	FUZZ_ASSERT(!bad, "unprintable message: \"%s\"", bad);
	if (rc < 0)
		return 0;

	FUZZ_ASSERT(mc_hv_sim_speed(hv) >= 1 && mc_hv_sim_speed(hv) <= 1000,
		    "speed %g", mc_hv_sim_speed(hv));
	FUZZ_ASSERT(mc_hv_sim_duration_ms(hv) >= 0 && mc_hv_sim_duration_ms(hv) <= WEEK_MS,
		    "duration %lld ms", (long long)mc_hv_sim_duration_ms(hv));
	FUZZ_ASSERT(mc_hv_sim_budget_kib(hv) <= MAX_KIB, "budget %llu KiB",
		    (unsigned long long)mc_hv_sim_budget_kib(hv));

	FUZZ_ASSERT(hv->ops->start(hv, false) == 0, "start: %s", mc_hv_last_error());
	FUZZ_ASSERT(hv->ops->list(hv, &doms, &n) == 0, "list: %s", mc_hv_last_error());
	for (size_t i = 0; i < n && i < MAX_POKED; i++)
		poke(hv, &doms[i]);
	free(doms);
	FUZZ_ASSERT(hv->ops->host_mem(hv, &hm) == 0, "host_mem");
	FUZZ_ASSERT(hm.free_kib <= hm.total_kib, "host free %llu above total %llu",
		    (unsigned long long)hm.free_kib, (unsigned long long)hm.total_kib);
	hv->ops->stop(hv);
	mc_hv_sim_result(hv);
	mc_hv_destroy(hv);
	return 0;
}
