/* The whole daemon in-process against libvirt's test driver
 * (test:///default): discovery, collectors per domain, lifecycle events
 * from another connection, the seed policy's balloon changes reaching the
 * domain, --once with --dry-run, and an ordered, leak-free shutdown. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "check.h"
#include "memcoord/collector.h"
#include "memcoord/config.h"
#include "memcoord/daemon.h"
#include "memcoord/log.h"

#define URI "test:///default"

static const char *extra_xml =
	"<domain type='test'><name>extra</name>"
	"<memory unit='MiB'>1024</memory><currentMemory unit='MiB'>512</currentMemory>"
	"<os><type>hvm</type></os>"
	"<devices><memballoon model='virtio'/></devices></domain>";

static const char *noballoon_xml =
	"<domain type='test'><name>noballoon</name>"
	"<memory unit='MiB'>1024</memory><currentMemory unit='MiB'>512</currentMemory>"
	"<os><type>hvm</type></os>"
	"<devices><memballoon model='none'/></devices></domain>";

/* The latest sample of the domain called name says it has no statistics. */
static bool marked_no_stats(struct mc_daemon *d, void *name)
{
	struct cds_lfht_iter iter;
	struct mc_domain *rec;
	bool marked = false;

	rcu_read_lock();
	cds_lfht_for_each_entry(mc_daemon_registry(d)->ht, &iter, rec, node) {
		struct mc_sample *s = rcu_dereference(rec->sample);

		if (strcmp(rec->name, name) == 0 && s && !s->has_stats)
			marked = true;
	}
	rcu_read_unlock();
	return marked;
}

static void quiet(void *u, virErrorPtr e) { (void)u; (void)e; }

/* Run the daemon's main-loop step for up to ms, until cond(d) holds. */
static bool run_until(struct mc_daemon *d, int ms, bool (*cond)(struct mc_daemon *, void *),
		      void *arg)
{
	int64_t end = mc_now_ns() + (int64_t)ms * MC_NS_PER_MS;

	while (mc_now_ns() < end) {
		struct pollfd p = {.fd = mc_daemon_fd(d), .events = POLLIN};
		int t = mc_daemon_process(d);

		if (cond && cond(d, arg))
			return true;
		poll(&p, 1, t < 50 ? t : 50);
	}
	return cond ? cond(d, arg) : true;
}

static bool has_domain(struct mc_daemon *d, void *name)
{
	struct cds_lfht_iter iter;
	struct mc_domain *rec;
	bool found = false;

	rcu_read_lock();
	cds_lfht_for_each_entry(mc_daemon_registry(d)->ht, &iter, rec, node) {
		if (strcmp(rec->name, name) == 0 && rcu_dereference(rec->sample))
			found = true;
	}
	rcu_read_unlock();
	return found;
}

static bool finished(struct mc_daemon *d, void *arg)
{
	(void)arg;
	return mc_daemon_finished(d);
}

static unsigned long cur_mib(virConnectPtr c, const char *name)
{
	virDomainPtr dom = virDomainLookupByName(c, name);
	virDomainInfo info;
	unsigned long mib = 0;

	if (dom && virDomainGetInfo(dom, &info) == 0)
		mib = info.memory / 1024;
	if (dom)
		virDomainFree(dom);
	return mib;
}

static void test_live(virConnectPtr peer)
{
	struct mc_config cfg;
	struct mc_daemon *d = NULL;
	unsigned long before = cur_mib(peer, "test"), after;
	virDomainPtr extra;

	mc_config_defaults(&cfg);
	cfg.uri = strdup(URI);
	mc_strlcpy(cfg.policy, "seed", sizeof(cfg.policy));
	cfg.host_reserve_set = true;   /* the test driver's host "free" is 3 MiB */
	cfg.host_reserve_kib = 0;
	cfg.interval_ms = 300;

	CHECK(mc_daemon_create(&d, &cfg) == 0);
	CHECK(mc_daemon_start(d) == 0);
	CHECK(run_until(d, 5000, has_domain, "test"));
	CHECK(mc_collector_live_count() == 1);
	printf("discovery: 'test' found, 1 collector thread\n");

	extra = virDomainCreateXML(peer, extra_xml, 0);
	CHECK(extra != NULL);
	CHECK(run_until(d, 5000, has_domain, "extra"));
	CHECK(mc_collector_live_count() == 2);
	printf("lifecycle: domain created by another connection gets a collector\n");

	/* The seed policy sees 'test' with unused = cur/2 = 1 GiB >= FREE and
	 * reclaims LOADED (100 MiB) per decision, once per fresh sample. */
	run_until(d, 3500, NULL, NULL);
	after = cur_mib(peer, "test");
	CHECK(after < before);
	CHECK((before - after) % 100 == 0);
	/* At most one step per stats period (1 s) while waiting ~3.5 s. */
	CHECK(before - after <= 500);
	printf("seed: 'test' shrunk %lu -> %lu MiB by the daemon\n", before, after);

	{
		virDomainPtr nb = virDomainCreateXML(peer, noballoon_xml, 0);
		unsigned long nb_before = cur_mib(peer, "noballoon");

		CHECK(nb != NULL);
		CHECK(run_until(d, 5000, marked_no_stats, "noballoon"));
		/* Left out of decisions: its 512 MiB would otherwise look like a
		 * domain with 0 unused to the seed policy and be grown. */
		run_until(d, 1500, NULL, NULL);
		CHECK(cur_mib(peer, "noballoon") == nb_before);
		if (nb) {
			CHECK(virDomainDestroy(nb) == 0);
			virDomainFree(nb);
		}
		printf("no balloon: marked as such and left alone\n");
	}

	if (extra) {
		CHECK(virDomainDestroy(extra) == 0);
		virDomainFree(extra);
	}
	{
		int64_t end = mc_now_ns() + 5 * MC_NS_PER_S;
		bool gone = false;

		while (!gone && mc_now_ns() < end) {
			run_until(d, 50, NULL, NULL);
			gone = !has_domain(d, "extra") && mc_collector_live_count() == 1;
		}
		CHECK(gone);
	}
	printf("lifecycle: destroyed domain dropped, its collector joined\n");

	CHECK(mc_daemon_passes(d) >= 3);
	mc_daemon_destroy(d);
	CHECK(mc_collector_live_count() == 0);
	mc_config_free(&cfg);
	printf("shutdown: every collector joined\n");
}

static void test_once(virConnectPtr peer)
{
	struct mc_config cfg;
	struct mc_daemon *d = NULL;
	unsigned long before = cur_mib(peer, "test");

	mc_config_defaults(&cfg);
	cfg.uri = strdup(URI);
	cfg.host_reserve_set = true;
	cfg.host_reserve_kib = 0;
	cfg.once = true;
	cfg.dry_run = true;
	CHECK(mc_daemon_create(&d, &cfg) == 0);
	CHECK(mc_daemon_start(d) == 0);
	CHECK(run_until(d, 8000, finished, NULL));
	CHECK(mc_daemon_passes(d) == 1);
	mc_daemon_destroy(d);
	CHECK(cur_mib(peer, "test") == before);   /* dry run changed nothing */
	mc_config_free(&cfg);
	printf("--once --dry-run: one decision, nothing changed\n");
}

/* The balance policy (the default) shrinks a guest with surplus, but never
 * below its <memtune><min_guarantee>, which is above the configured floor. */
static void test_min_guarantee(virConnectPtr peer)
{
	static const char *xml =
		"<domain type='test'><name>guarded</name>"
		"<memory unit='MiB'>2048</memory><currentMemory unit='MiB'>1024</currentMemory>"
		"<memtune><min_guarantee unit='MiB'>1000</min_guarantee></memtune>"
		"<os><type>hvm</type></os>"
		"<devices><memballoon model='virtio'/></devices></domain>";
	struct mc_config cfg;
	struct mc_daemon *d = NULL;
	virDomainPtr dom = virDomainCreateXML(peer, xml, 0);
	unsigned long mib;

	CHECK(dom != NULL);
	mc_config_defaults(&cfg);
	cfg.uri = strdup(URI);
	cfg.host_reserve_set = true;
	cfg.host_reserve_kib = 0;
	CHECK(strcmp(cfg.policy, "balance") == 0);
	CHECK(mc_daemon_create(&d, &cfg) == 0);
	CHECK(mc_daemon_start(d) == 0);
	CHECK(run_until(d, 5000, has_domain, "guarded"));
	/* usable = cur/2 = 512 MiB > high: shrink, but only down to 1000. */
	run_until(d, 3500, NULL, NULL);
	mib = cur_mib(peer, "guarded");
	CHECK(mib == 1000);
	mc_daemon_destroy(d);
	mc_config_free(&cfg);
	if (dom) {
		virDomainDestroy(dom);
		virDomainFree(dom);
	}
	printf("balance: 'guarded' shrunk 1024 -> %lu MiB, its min_guarantee (1000 MiB)\n", mib);
}

static void test_unreachable(void)
{
	struct mc_config cfg;
	struct mc_daemon *d = NULL;

	mc_config_defaults(&cfg);
	cfg.uri = strdup("test+unix:///default?socket=/nonexistent/memcoord-test-sock");
	cfg.once = true;
	CHECK(mc_daemon_create(&d, &cfg) == 0);
	CHECK(mc_daemon_start(d) < 0);
	CHECK(strlen(mc_hv_last_error()) > 0);
	mc_daemon_destroy(d);
	mc_config_free(&cfg);
	printf("unreachable URI with --once: start fails with '%s'\n", mc_hv_last_error());
}

int main(void)
{
	virConnectPtr peer;

	virSetErrorFunc(NULL, quiet);
	rcu_register_thread();
	/* Keep one connection open throughout: it also plays the "other
	 * process" creating and destroying domains. */
	peer = virConnectOpen(URI);
	if (!peer) {
		printf("SKIP: cannot open %s\n", URI);
		return TEST_SKIP;
	}
	test_live(peer);
	test_once(peer);
	test_min_guarantee(peer);
	test_unreachable();
	virConnectClose(peer);
	rcu_unregister_thread();
	printf("%s\n", check_failures ? "FAILED" : "all daemon checks passed");
	return check_failures ? 1 : 0;
}
