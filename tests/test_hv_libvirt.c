/* Integration test of the libvirt backend against libvirt's in-process test
 * driver (test:///default: a mock hypervisor shared by all connections of
 * this process, with one running domain "test": 8 GiB max, 2 GiB current,
 * a virtio balloon whose stats are unused = usable = current / 2).
 *
 * The backend's source is included rather than linked so that the XML
 * scanner and the connection-loss path (static functions) can be driven
 * directly; the test binary then does not pull hv_libvirt.o from the core
 * library.
 *
 * Exit status: 0 all passed, 1 a check failed, 77 the test driver is not
 * usable here (skipped). */
#include "../src/hv_libvirt.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;

#define CHECK(expr)                                                          \
	do {                                                                 \
		if (!(expr)) {                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #expr);                            \
			failures++;                                          \
		}                                                            \
	} while (0)

/* Like CHECK, but leaves the current test function (which returns void). */
#define REQUIRE(expr)                                                        \
	do {                                                                 \
		if (!(expr)) {                                               \
			fprintf(stderr, "%s:%d: REQUIRE failed: %s (%s)\n",   \
				__FILE__, __LINE__, #expr, mc_hv_last_error()); \
			failures++;                                          \
			return;                                              \
		}                                                            \
	} while (0)

#define GIB_KIB (1024ULL * 1024)
/* Events come from the event-loop thread; a test driver event takes
 * microseconds, 5 s only guards against a hang. */
#define EVENT_TIMEOUT_NS (5 * MC_NS_PER_S)
#define MAX_EVENTS 256

/* ---- event recorder ---- */

struct rec_event {
	const void *from;   /* the callbacks' opaque: which backend */
	enum mc_hv_event ev;
	uint8_t uuid[MC_UUID_LEN];
	char name[MC_NAME_LEN];
};

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rec_cond;
static struct rec_event rec[MAX_EVENTS];
static size_t rec_n;

static void on_event(void *opaque, enum mc_hv_event ev,
		     const uint8_t uuid[MC_UUID_LEN], const char *name)
{
	pthread_mutex_lock(&rec_lock);
	if (rec_n < MAX_EVENTS) {
		rec[rec_n].from = opaque;
		rec[rec_n].ev = ev;
		memcpy(rec[rec_n].uuid, uuid, MC_UUID_LEN);
		mc_strlcpy(rec[rec_n].name, name, sizeof(rec[rec_n].name));
		rec_n++;
	}
	pthread_cond_broadcast(&rec_cond);
	pthread_mutex_unlock(&rec_lock);
}

static size_t rec_count(void)
{
	size_t n;

	pthread_mutex_lock(&rec_lock);
	n = rec_n;
	pthread_mutex_unlock(&rec_lock);
	return n;
}

/* Waits for an event `ev` from backend `from` recorded at index >= `since`
 * (and with this uuid unless NULL). Copies it to *out when found. */
static bool wait_event(const void *from, enum mc_hv_event ev, const uint8_t *uuid,
		       size_t since, int64_t timeout_ns, struct rec_event *out)
{
	struct timespec deadline = mc_deadline_ts(timeout_ns);
	bool found = false;
	size_t i = since;

	pthread_mutex_lock(&rec_lock);
	for (;;) {
		for (; i < rec_n; i++) {
			if (rec[i].from == from && rec[i].ev == ev &&
			    (!uuid || memcmp(rec[i].uuid, uuid, MC_UUID_LEN) == 0)) {
				if (out)
					*out = rec[i];
				found = true;
				break;
			}
		}
		if (found || pthread_cond_timedwait(&rec_cond, &rec_lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&rec_lock);
	return found;
}

/* ---- shared state ---- */

static struct mc_hv *hv;          /* the backend under test */
static virConnectPtr aux;         /* the test's own connection */
static uint8_t test_uuid[MC_UUID_LEN];
static const char *main_tag = "main";

static virDomainPtr create_domain(const char *name, const char *balloon_model,
				  const char *extra)
{
	char xml[1024];

	snprintf(xml, sizeof(xml),
		 "<domain type='test'><name>%s</name>"
		 "<memory unit='MiB'>1024</memory>"
		 "<currentMemory unit='MiB'>512</currentMemory>"
		 "%s<os><type>hvm</type></os>"
		 "<devices><memballoon model='%s'/></devices></domain>",
		 name, extra, balloon_model);
	return virDomainCreateXML(aux, xml, 0);
}

/* ---- tests ---- */

static void test_connected(void)
{
	CHECK(wait_event(main_tag, MC_HV_EV_CONNECTED, NULL, 0, EVENT_TIMEOUT_NS, NULL));
	CHECK(mc_hv_start(hv, false) == -EALREADY);
}

static void test_list(void)
{
	struct mc_dom_info *v = NULL;
	size_t n = 0, i;
	bool found = false;

	REQUIRE(hv->ops->list(hv, &v, &n) == 0);
	for (i = 0; i < n; i++) {
		if (strcmp(v[i].name, "test") != 0)
			continue;
		found = true;
		memcpy(test_uuid, v[i].uuid, MC_UUID_LEN);
		CHECK(v[i].max_kib == 8 * GIB_KIB);
		CHECK(v[i].cur_kib == 2 * GIB_KIB);
		CHECK(v[i].state == MC_DOM_RUNNING);
		CHECK(v[i].has_balloon);
		CHECK(v[i].min_guarantee_kib == 0);
	}
	CHECK(found);
	free(v);
}

static void test_stats(void)
{
	struct mc_hv_dom *d = NULL;
	struct mc_dom_info info;
	struct mc_stats st;

	REQUIRE(hv->ops->dom_open(hv, test_uuid, &d) == 0);
	REQUIRE(hv->ops->dom_info(d, &info) == 0);
	CHECK(strcmp(info.name, "test") == 0);
	CHECK(memcmp(info.uuid, test_uuid, MC_UUID_LEN) == 0);
	CHECK(info.cur_kib == 2 * GIB_KIB);
	CHECK(info.max_kib == 8 * GIB_KIB);
	CHECK(info.has_balloon);

	CHECK(hv->ops->dom_stats(d, &st) == 0);
	CHECK(mc_stats_has(&st, MC_STAT_ACTUAL) && st.val[MC_STAT_ACTUAL] == info.cur_kib);
	CHECK(mc_stats_has(&st, MC_STAT_UNUSED) && st.val[MC_STAT_UNUSED] == info.cur_kib / 2);
	CHECK(mc_stats_has(&st, MC_STAT_USABLE) && st.val[MC_STAT_USABLE] == info.cur_kib / 2);
	hv->ops->dom_close(d);
}

static void test_set_memory(void)
{
	struct mc_hv_dom *d = NULL;
	struct mc_dom_info info;
	struct mc_stats st;

	REQUIRE(hv->ops->dom_open(hv, test_uuid, &d) == 0);
	CHECK(hv->ops->set_memory(hv, test_uuid, GIB_KIB) == 0);
	CHECK(hv->ops->dom_info(d, &info) == 0 && info.cur_kib == GIB_KIB);
	CHECK(hv->ops->dom_stats(d, &st) == 0);
	CHECK(mc_stats_has(&st, MC_STAT_ACTUAL) && st.val[MC_STAT_ACTUAL] == GIB_KIB);
	CHECK(st.val[MC_STAT_UNUSED] == GIB_KIB / 2);

	/* Above the maximum: libvirt refuses (invalid argument). */
	CHECK(hv->ops->set_memory(hv, test_uuid, 16 * GIB_KIB) == -EIO);
	CHECK(mc_hv_last_error()[0] != '\0');
	CHECK(hv->ops->set_memory(hv, test_uuid, 0) == -EINVAL);

	CHECK(hv->ops->set_memory(hv, test_uuid, 2 * GIB_KIB) == 0);
	CHECK(hv->ops->dom_info(d, &info) == 0 && info.cur_kib == 2 * GIB_KIB);
	hv->ops->dom_close(d);
}

static void test_set_period(void)
{
	struct mc_hv_dom *d = NULL;
	virDomainPtr dom;
	char *xml = NULL;

	REQUIRE(hv->ops->dom_open(hv, test_uuid, &d) == 0);
	CHECK(hv->ops->dom_set_period(d, 7) == 0);
	CHECK(hv->ops->dom_set_period(d, -1) == -EINVAL);
	hv->ops->dom_close(d);

	/* Seen from another connection: the balloon's stats period. */
	dom = virDomainLookupByUUID(aux, test_uuid);
	REQUIRE(dom);
	xml = virDomainGetXMLDesc(dom, 0);
	CHECK(xml && strstr(xml, "<stats period='7'/>"));
	free(xml);
	virDomainFree(dom);
}

static void test_host_mem(void)
{
	struct mc_host_mem hm;

	/* The test driver has no virNodeGetMemoryStats: the fallback. */
	CHECK(hv->ops->host_mem(hv, &hm) == 0);
	CHECK(hm.has_total && hm.total_kib > 0);
	CHECK(hm.free_kib > 0 && hm.free_kib <= hm.total_kib);
}

static void test_lifecycle(void)
{
	struct mc_hv_dom *d = NULL;
	struct mc_dom_info info;
	struct mc_stats st;
	struct rec_event e;
	uint8_t uuid[MC_UUID_LEN];
	virDomainPtr dom;
	size_t since = rec_count();

	dom = create_domain("mc-balloon", "virtio",
			    "<memtune><min_guarantee unit='MiB'>300</min_guarantee></memtune>");
	REQUIRE(dom);
	REQUIRE(virDomainGetUUID(dom, uuid) == 0);
	CHECK(wait_event(main_tag, MC_HV_EV_STARTED, uuid, since, EVENT_TIMEOUT_NS, &e));
	CHECK(strcmp(e.name, "mc-balloon") == 0);

	CHECK(hv->ops->dom_open(hv, uuid, &d) == 0);
	if (d) {
		CHECK(hv->ops->dom_info(d, &info) == 0);
		CHECK(strcmp(info.name, "mc-balloon") == 0);
		CHECK(info.min_guarantee_kib == 300 * 1024);
		CHECK(info.has_balloon);
		CHECK(info.cur_kib == 512 * 1024 && info.max_kib == 1024 * 1024);
		CHECK(hv->ops->dom_stats(d, &st) == 0 && st.val[MC_STAT_ACTUAL] == 512 * 1024);
	}

	since = rec_count();
	CHECK(virDomainDestroy(dom) == 0);
	CHECK(wait_event(main_tag, MC_HV_EV_STOPPED, uuid, since, EVENT_TIMEOUT_NS, &e));
	CHECK(strcmp(e.name, "mc-balloon") == 0);
	if (d) {
		CHECK(hv->ops->dom_stats(d, &st) == -ENOENT);
		CHECK(st.present == 0);
		CHECK(hv->ops->dom_info(d, &info) == -ENOENT);
		CHECK(hv->ops->dom_set_period(d, 1) == -ENOENT);
		hv->ops->dom_close(d);
	}
	CHECK(hv->ops->set_memory(hv, uuid, GIB_KIB) == -ENOENT);
	d = NULL;
	CHECK(hv->ops->dom_open(hv, uuid, &d) == -ENOENT && d == NULL);
	virDomainFree(dom);
}

static size_t count_events(const void *from, enum mc_hv_event ev,
			   const uint8_t *uuid, size_t since)
{
	size_t i, n = 0;

	pthread_mutex_lock(&rec_lock);
	for (i = since; i < rec_n; i++)
		if (rec[i].from == from && rec[i].ev == ev &&
		    memcmp(rec[i].uuid, uuid, MC_UUID_LEN) == 0)
			n++;
	pthread_mutex_unlock(&rec_lock);
	return n;
}

/* The test's own view of libvirt's UNDEFINED events (on `aux`). */
static bool aux_undefined;

static int aux_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event,
			    int detail, void *opaque)
{
	(void)conn;
	(void)dom;
	(void)detail;
	(void)opaque;
	if (event == VIR_DOMAIN_EVENT_UNDEFINED) {
		pthread_mutex_lock(&rec_lock);
		aux_undefined = true;
		pthread_cond_broadcast(&rec_cond);
		pthread_mutex_unlock(&rec_lock);
	}
	return 0;
}

static bool wait_aux_undefined(void)
{
	struct timespec deadline = mc_deadline_ts(EVENT_TIMEOUT_NS);
	bool seen;

	pthread_mutex_lock(&rec_lock);
	while (!aux_undefined &&
	       pthread_cond_timedwait(&rec_cond, &rec_lock, &deadline) != ETIMEDOUT)
		;
	seen = aux_undefined;
	pthread_mutex_unlock(&rec_lock);
	return seen;
}

/* Undefining a running persistent domain leaves it running (transient):
 * no STOPPED for that, a STOPPED when it is destroyed. */
static void test_undefine_running(void)
{
	uint8_t uuid[MC_UUID_LEN];
	virDomainPtr dom;
	size_t since = rec_count();
	int cb_id;

	/* Registered after the backend's callback, so libvirt calls it
	 * after the backend's for the same event. */
	cb_id = virConnectDomainEventRegisterAny(aux, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
						 VIR_DOMAIN_EVENT_CALLBACK((void (*)(void))aux_lifecycle_cb),
						 NULL, NULL);
	REQUIRE(cb_id >= 0);

	dom = virDomainDefineXML(aux,
		"<domain type='test'><name>mc-persistent</name>"
		"<memory unit='MiB'>256</memory><os><type>hvm</type></os>"
		"<devices><memballoon model='virtio'/></devices></domain>");
	REQUIRE(dom);
	REQUIRE(virDomainGetUUID(dom, uuid) == 0);
	CHECK(virDomainCreate(dom) == 0);
	CHECK(wait_event(main_tag, MC_HV_EV_STARTED, uuid, since, EVENT_TIMEOUT_NS, NULL));
	CHECK(virDomainUndefine(dom) == 0);
	CHECK(virDomainIsActive(dom) == 1);
	CHECK(wait_aux_undefined());
	CHECK(count_events(main_tag, MC_HV_EV_STOPPED, uuid, since) == 0);
	CHECK(virDomainDestroy(dom) == 0);
	CHECK(wait_event(main_tag, MC_HV_EV_STOPPED, uuid, since, EVENT_TIMEOUT_NS, NULL));
	virConnectDomainEventDeregisterAny(aux, cb_id);
	virDomainFree(dom);
}

static void test_no_balloon(void)
{
	struct mc_hv_dom *d = NULL;
	struct mc_dom_info info, *v = NULL;
	struct mc_stats st;
	uint8_t uuid[MC_UUID_LEN];
	virDomainPtr dom;
	size_t n = 0, i;
	bool listed = false;

	dom = create_domain("mc-noballoon", "none", "");
	REQUIRE(dom);
	REQUIRE(virDomainGetUUID(dom, uuid) == 0);
	CHECK(hv->ops->dom_open(hv, uuid, &d) == 0);
	if (d) {
		CHECK(hv->ops->dom_info(d, &info) == 0 && !info.has_balloon);
		CHECK(info.min_guarantee_kib == 0);
		/* The test driver reports no stats at all without a balloon. */
		CHECK(hv->ops->dom_stats(d, &st) == 0 && st.present == 0);
		hv->ops->dom_close(d);
	}
	CHECK(hv->ops->list(hv, &v, &n) == 0);
	for (i = 0; i < n; i++) {
		if (memcmp(v[i].uuid, uuid, MC_UUID_LEN) == 0) {
			listed = true;
			CHECK(!v[i].has_balloon);
		}
	}
	CHECK(listed);
	free(v);
	CHECK(virDomainDestroy(dom) == 0);
	virDomainFree(dom);
}

static void test_unknown_uuid(void)
{
	static const uint8_t nouuid[MC_UUID_LEN] = {0xde, 0xad, 0xbe, 0xef};
	struct mc_hv_dom *d = NULL;

	CHECK(hv->ops->set_memory(hv, nouuid, GIB_KIB) == -ENOENT);
	CHECK(strstr(mc_hv_last_error(), "deadbeef") != NULL);
	CHECK(hv->ops->dom_open(hv, nouuid, &d) == -ENOENT && d == NULL);
}

/* Collectors, the arbiter and main call concurrently. */
#define CONC_THREADS 4
#define CONC_ROUNDS 200

static void *conc_main(void *arg)
{
	struct mc_hv_dom *d = NULL;
	struct mc_stats st;
	struct mc_host_mem hm;
	struct mc_dom_info *v;
	size_t n;
	long bad = 0;
	int i;

	(void)arg;
	if (hv->ops->dom_open(hv, test_uuid, &d) < 0)
		return (void *)1L;
	for (i = 0; i < CONC_ROUNDS; i++) {
		if (hv->ops->dom_stats(d, &st) < 0 || st.val[MC_STAT_ACTUAL] != 2 * GIB_KIB)
			bad++;
		if (hv->ops->set_memory(hv, test_uuid, 2 * GIB_KIB) < 0)
			bad++;
		if (hv->ops->host_mem(hv, &hm) < 0)
			bad++;
		if (i % 20 == 0) {
			if (hv->ops->list(hv, &v, &n) < 0)
				bad++;
			else
				free(v);
		}
	}
	hv->ops->dom_close(d);
	return (void *)bad;
}

static void test_concurrent(void)
{
	pthread_t t[CONC_THREADS];
	void *res;
	int i;

	for (i = 0; i < CONC_THREADS; i++)
		REQUIRE(pthread_create(&t[i], NULL, conc_main, NULL) == 0);
	for (i = 0; i < CONC_THREADS; i++) {
		pthread_join(t[i], &res);
		CHECK(res == NULL);
	}
}

/* A lost connection (what libvirt's close callback reports when libvirtd
 * goes away): DISCONNECTED, a new connection after the backoff, CONNECTED,
 * and handles re-resolved on the new connection. */
static void test_reconnect(void)
{
	struct lv *lv = hv->priv;
	struct mc_hv_dom *d = NULL;
	struct mc_stats st;
	virConnectPtr old;
	uint64_t gen0;
	size_t since;

	REQUIRE(hv->ops->dom_open(hv, test_uuid, &d) == 0);
	pthread_mutex_lock(&lv->lock);
	old = lv->conn;
	gen0 = lv->gen;
	pthread_mutex_unlock(&lv->lock);
	CHECK(d->gen == gen0);

	since = rec_count();
	/* lv_close_cb is what libvirt would call. */
	lv_close_cb(old, VIR_CONNECT_CLOSE_REASON_EOF, lv);
	CHECK(hv->ops->dom_stats(d, &st) == -ENOTCONN || st.present != 0);
	CHECK(wait_event(main_tag, MC_HV_EV_DISCONNECTED, NULL, since, EVENT_TIMEOUT_NS, NULL));
	CHECK(wait_event(main_tag, MC_HV_EV_CONNECTED, NULL, since, EVENT_TIMEOUT_NS, NULL));

	CHECK(hv->ops->dom_stats(d, &st) == 0 && st.val[MC_STAT_ACTUAL] == 2 * GIB_KIB);
	pthread_mutex_lock(&lv->lock);
	CHECK(lv->gen > gen0);
	CHECK(d->gen == lv->gen);
	pthread_mutex_unlock(&lv->lock);
	hv->ops->dom_close(d);
}

/* Waits until the backend's event counter of `uuid` differs from `ev0`. */
static bool wait_dom_ev(const uint8_t uuid[MC_UUID_LEN], unsigned int ev0)
{
	struct lv *lv = hv->priv;
	int64_t deadline = mc_now_ns() + EVENT_TIMEOUT_NS;

	while (atomic_load(lv_dom_ev(lv, uuid)) == ev0) {
		if (mc_now_ns() > deadline)
			return false;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	return true;
}

/* dom_info answers from its cache (one RPC per sample: dom_stats), and
 * reads again after a lifecycle event of the domain, a set_memory, or
 * LV_XML_REFRESH_CALLS calls. */
static void test_info_cache(void)
{
	struct lv *lv = hv->priv;
	struct mc_hv_dom *d = NULL;
	struct mc_dom_info info;
	struct mc_stats st;
	uint8_t uuid[MC_UUID_LEN];
	virDomainPtr dom;
	unsigned int ev0;
	size_t since = rec_count();
	int i;

	dom = create_domain("mc-cache", "virtio", "");
	REQUIRE(dom);
	REQUIRE(virDomainGetUUID(dom, uuid) == 0);
	/* Its STARTED event has bumped its counter: no later invalidation. */
	CHECK(wait_event(main_tag, MC_HV_EV_STARTED, uuid, since, EVENT_TIMEOUT_NS, NULL));
	if (hv->ops->dom_open(hv, uuid, &d) < 0 || !d) {
		failures++;
		goto out;
	}
	CHECK(hv->ops->dom_info(d, &info) == 0 && info.state == MC_DOM_RUNNING &&
	      info.cur_kib == 512 * 1024);

	/* A change no event announces (the test driver has no balloon
	 * event): the cache still holds the old size ... */
	CHECK(virDomainSetMemory(dom, 256 * 1024) == 0);
	CHECK(hv->ops->dom_info(d, &info) == 0 && info.cur_kib == 512 * 1024);
	/* ... until dom_stats reports the balloon's "actual". */
	CHECK(hv->ops->dom_stats(d, &st) == 0 && st.val[MC_STAT_ACTUAL] == 256 * 1024);
	CHECK(hv->ops->dom_info(d, &info) == 0 && info.cur_kib == 256 * 1024);
	/* set_memory through the backend invalidates at once. */
	CHECK(hv->ops->set_memory(hv, uuid, 384 * 1024) == 0);
	CHECK(hv->ops->dom_info(d, &info) == 0 && info.cur_kib == 384 * 1024);

	/* Paused and resumed: the lifecycle event invalidates. */
	ev0 = atomic_load(lv_dom_ev(lv, uuid));
	CHECK(virDomainSuspend(dom) == 0);
	CHECK(wait_dom_ev(uuid, ev0));
	CHECK(hv->ops->dom_info(d, &info) == 0 && info.state == MC_DOM_PAUSED);
	ev0 = atomic_load(lv_dom_ev(lv, uuid));
	CHECK(virDomainResume(dom) == 0);
	CHECK(wait_dom_ev(uuid, ev0));
	CHECK(hv->ops->dom_info(d, &info) == 0 && info.state == MC_DOM_RUNNING);

	/* Without any event or stats call: re-read within the refresh. */
	CHECK(virDomainSetMemory(dom, 500 * 1024) == 0);
	for (i = 0; i < LV_XML_REFRESH_CALLS; i++)
		CHECK(hv->ops->dom_info(d, &info) == 0);
	CHECK(info.cur_kib == 500 * 1024);

	/* Stopped: the cache does not hide it. */
	ev0 = atomic_load(lv_dom_ev(lv, uuid));
	CHECK(virDomainDestroy(dom) == 0);
	CHECK(wait_dom_ev(uuid, ev0));
	CHECK(hv->ops->dom_info(d, &info) == -ENOENT);
	hv->ops->dom_close(d);
out:
	virDomainFree(dom);
}

/* The handles' pool of connections: spread round-robin, part of the
 * connection generation (a pool connection's loss reconnects all), and
 * sized only before start. */
static void test_pool(void)
{
	struct lv *lv = hv->priv;
	struct mc_hv_dom *d[LV_CONNS_DEFAULT + 1] = { NULL };
	virConnectPtr pool0[LV_CONNS_MAX];
	struct mc_stats st;
	uint64_t gen0;
	size_t since;
	unsigned int i, j;

	CHECK(mc_hv_libvirt_set_connections(hv, 2) == -EALREADY);
	pthread_mutex_lock(&lv->lock);
	CHECK(lv->nconns == LV_CONNS_DEFAULT);
	for (i = 0; i < LV_CONNS_DEFAULT; i++) {
		CHECK(lv->pool[i] && lv->pool[i] != lv->conn);
		for (j = 0; j < i; j++)
			CHECK(lv->pool[i] != lv->pool[j]);
	}
	for (; i < LV_CONNS_MAX; i++)
		CHECK(!lv->pool[i]);
	memcpy(pool0, lv->pool, sizeof(pool0));
	gen0 = lv->gen;
	pthread_mutex_unlock(&lv->lock);

	for (i = 0; i <= LV_CONNS_DEFAULT; i++) {
		REQUIRE(hv->ops->dom_open(hv, test_uuid, &d[i]) == 0);
		/* Each handle's domain object lives on its slot's connection. */
		CHECK(virDomainGetConnect(d[i]->dom) == pool0[d[i]->slot]);
	}
	CHECK(d[0]->slot != d[1]->slot && d[LV_CONNS_DEFAULT]->slot == d[0]->slot);

	since = rec_count();
	lv_close_cb(pool0[d[1]->slot], VIR_CONNECT_CLOSE_REASON_EOF, lv);
	CHECK(wait_event(main_tag, MC_HV_EV_DISCONNECTED, NULL, since, EVENT_TIMEOUT_NS, NULL));
	CHECK(wait_event(main_tag, MC_HV_EV_CONNECTED, NULL, since, EVENT_TIMEOUT_NS, NULL));
	for (i = 0; i <= LV_CONNS_DEFAULT; i++) {
		CHECK(hv->ops->dom_stats(d[i], &st) == 0 && st.val[MC_STAT_ACTUAL] == 2 * GIB_KIB);
		pthread_mutex_lock(&lv->lock);
		CHECK(lv->gen > gen0 && d[i]->gen == lv->gen);
		CHECK(virDomainGetConnect(d[i]->dom) == lv->pool[d[i]->slot]);
		pthread_mutex_unlock(&lv->lock);
		hv->ops->dom_close(d[i]);
	}
}

/* set_connections: range, type of backend; 1 keeps every handle on the
 * primary connection. */
static void test_pool_size(void)
{
	struct mc_hv_callbacks cb = { 0 };
	struct mc_hv *one = NULL;
	struct mc_hv_dom *d = NULL;
	struct mc_dom_info info;
	struct lv *lv;

	REQUIRE(mc_hv_libvirt_create("test:///default", &cb, &one) == 0);
	CHECK(mc_hv_libvirt_set_connections(one, 0) == -EINVAL);
	CHECK(mc_hv_libvirt_set_connections(one, LV_CONNS_MAX + 1) == -EINVAL);
	CHECK(strstr(mc_hv_last_error(), "1..16") != NULL);
	CHECK(mc_hv_libvirt_set_connections(one, 1) == 0);
	lv = one->priv;
	if (mc_hv_start(one, false) == 0) {
		CHECK(!lv->pool[0]);
		CHECK(one->ops->dom_open(one, test_uuid, &d) == 0);
		if (d) {
			CHECK(virDomainGetConnect(d->dom) == lv->conn);
			CHECK(one->ops->dom_info(d, &info) == 0 && info.cur_kib == 2 * GIB_KIB);
			one->ops->dom_close(d);
		}
	} else {
		failures++;
	}
	mc_hv_destroy(one);
}

static void test_bad_uri(void)
{
	static const char *tag = "bad";
	struct mc_hv_callbacks cb = { .event = on_event, .opaque = (void *)tag };
	struct mc_hv *bad = NULL;
	struct mc_dom_info *v = NULL;
	size_t n;

	REQUIRE(mc_hv_libvirt_create("nosuchdriver:///x", &cb, &bad) == 0);
	mc_hv_set_error("%s", "");
	CHECK(mc_hv_start(bad, false) == -ENOTCONN);
	CHECK(mc_hv_last_error()[0] != '\0');
	CHECK(strstr(mc_hv_last_error(), "nosuchdriver:///x") != NULL);
	printf("  (bad URI error: %s)\n", mc_hv_last_error());
	CHECK(bad->ops->list(bad, &v, &n) == -ENOTCONN);
	mc_hv_stop(bad);
	mc_hv_destroy(bad);
}

/* start(retry=true) on a test-driver URI whose node file appears later:
 * the background reconnect succeeds and delivers CONNECTED; stop() during
 * the backoff is prompt. */
static void test_retry(void)
{
	static const char *tag = "retry";
	struct mc_hv_callbacks cb = { .event = on_event, .opaque = (void *)tag };
	char dir[] = "/tmp/mc-test-hv-XXXXXX", path[64], uri[96];
	struct mc_hv *h = NULL;
	struct mc_dom_info *v = NULL;
	size_t n = 1;
	FILE *f;
	int64_t t0;

	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/node.xml", dir);
	snprintf(uri, sizeof(uri), "test://%s", path);
	REQUIRE(mc_hv_libvirt_create(uri, &cb, &h) == 0);
	CHECK(mc_hv_start(h, true) < 0);
	CHECK(h->ops->list(h, &v, &n) == -ENOTCONN);

	f = fopen(path, "w");
	REQUIRE(f);
	fputs("<node/>\n", f);
	fclose(f);
	CHECK(wait_event(tag, MC_HV_EV_CONNECTED, NULL, 0, EVENT_TIMEOUT_NS, NULL));
	CHECK(h->ops->list(h, &v, &n) == 0 && n == 0);
	free(v);
	/* A test:///file connection has private state: no pool. */
	pthread_mutex_lock(&((struct lv *)h->priv)->lock);
	CHECK(((struct lv *)h->priv)->conn && !((struct lv *)h->priv)->pool[0]);
	pthread_mutex_unlock(&((struct lv *)h->priv)->lock);
	mc_hv_stop(h);
	mc_hv_destroy(h);

	/* Never succeeds: stop() must not wait for the backoff. */
	unlink(path);
	REQUIRE(mc_hv_libvirt_create(uri, &cb, &h) == 0);
	CHECK(mc_hv_start(h, true) < 0);
	t0 = mc_now_ns();
	mc_hv_stop(h);
	CHECK(mc_now_ns() - t0 < MC_NS_PER_S);
	mc_hv_destroy(h);
	rmdir(dir);
}

/* ---- the XML scanner ---- */

static void xml_case(const char *xml, uint64_t want_mg, bool want_balloon, int line)
{
	uint64_t mg = 12345;
	bool b = !want_balloon;

	lv_parse_xml(xml, &mg, &b);
	if (mg != want_mg || b != want_balloon) {
		fprintf(stderr, "%s:%d: xml case: got min_guarantee %" PRIu64 " balloon %d, "
			"want %" PRIu64 " %d\n", __FILE__, line, mg, b, want_mg, want_balloon);
		failures++;
	}
}

#define XML_CASE(xml, mg, b) xml_case(xml, mg, b, __LINE__)
#define MT(inner) "<domain><memtune>" inner "</memtune><devices><memballoon model='virtio'/></devices></domain>"

static void test_xml(void)
{
	XML_CASE(MT("<min_guarantee unit='KiB'>1024</min_guarantee>"), 1024, true);
	XML_CASE(MT("<min_guarantee>1024</min_guarantee>"), 1024, true);
	XML_CASE(MT("<min_guarantee unit='k'>7</min_guarantee>"), 7, true);
	XML_CASE(MT("<min_guarantee unit=\"MiB\">300</min_guarantee>"), 300 * 1024, true);
	XML_CASE(MT("<min_guarantee unit='M'>2</min_guarantee>"), 2048, true);
	XML_CASE(MT("<min_guarantee unit='GiB'>1</min_guarantee>"), GIB_KIB, true);
	XML_CASE(MT("<min_guarantee unit='g'>1</min_guarantee>"), GIB_KIB, true);
	XML_CASE(MT("<min_guarantee unit='b'>2048</min_guarantee>"), 2, true);
	XML_CASE(MT("<min_guarantee unit='bytes'>1025</min_guarantee>"), 2, true);
	XML_CASE(MT("<min_guarantee unit='KB'>1024</min_guarantee>"), 1000, true);
	XML_CASE(MT("<min_guarantee unit='MB'>1</min_guarantee>"), 977, true);
	XML_CASE(MT("<min_guarantee  unit = 'MiB' >\n 3 \n</min_guarantee>"), 3072, true);
	XML_CASE(MT("<hard_limit unit='KiB'>9</hard_limit><min_guarantee unit='KiB'>5</min_guarantee>"), 5, true);
	/* Unreadable values count as unset. */
	XML_CASE(MT("<min_guarantee unit='parsec'>1</min_guarantee>"), 0, true);
	XML_CASE(MT("<min_guarantee unit='KiB'>-1</min_guarantee>"), 0, true);
	XML_CASE(MT("<min_guarantee unit='KiB'>12abc</min_guarantee>"), 0, true);
	XML_CASE(MT("<min_guarantee unit='KiB'></min_guarantee>"), 0, true);
	XML_CASE(MT("<min_guarantee/>"), 0, true);
	XML_CASE(MT("<min_guarantee unit='EiB'>99999999</min_guarantee>"), 0, true);
	XML_CASE(MT("<min_guarantee unit='KiB'>99999999999999999999999</min_guarantee>"), 0, true);
	XML_CASE(MT("<min_guarantee_x>5</min_guarantee_x>"), 0, true);
	/* Outside <memtune> it is not ours. */
	XML_CASE("<domain><min_guarantee>5</min_guarantee><memtune/></domain>", 0, false);
	/* Balloon presence. */
	XML_CASE("<domain><devices><memballoon model='none'/></devices></domain>", 0, false);
	XML_CASE("<domain><devices><memballoon model=\"none\"></memballoon></devices></domain>", 0, false);
	XML_CASE("<domain><devices><memballoon model='virtio'><stats period='1'/></memballoon></devices></domain>", 0, true);
	XML_CASE("<domain><devices><memballoon model='virtio-non-transitional'/></devices></domain>", 0, true);
	XML_CASE("<domain><devices><memballoon/></devices></domain>", 0, true);
	XML_CASE("<domain><devices><disk/></devices></domain>", 0, false);
	XML_CASE("<domain><metadata><memballoon model='virtio'/></metadata><devices/></domain>", 0, false);
	XML_CASE("<domain><devices><memballoons model='virtio'/></devices></domain>", 0, false);
	/* Broken documents: no crash, nothing found. */
	XML_CASE("", 0, false);
	XML_CASE("<", 0, false);
	XML_CASE("<memtune", 0, false);
	XML_CASE("<memtune><min_guarantee unit='KiB", 0, false);
	XML_CASE("<memtune><min_guarantee unit='KiB'>5", 0, false);
	XML_CASE("<devices><memballoon model='none", 0, false);
	XML_CASE("<devices><memballoon model=none>", 0, true);
	XML_CASE("<devices><memballoon model='none'", 0, false);
}

/* ---- main ---- */

struct test {
	const char *name;
	void (*fn)(void);
};

int main(void)
{
	static const struct test tests[] = {
		{ "xml scanner", test_xml },
		{ "connect delivers CONNECTED", test_connected },
		{ "list", test_list },
		{ "dom_open/dom_info/dom_stats", test_stats },
		{ "set_memory", test_set_memory },
		{ "dom_set_period", test_set_period },
		{ "host_mem fallback", test_host_mem },
		{ "lifecycle events", test_lifecycle },
		{ "undefine of a running domain", test_undefine_running },
		{ "domain without balloon", test_no_balloon },
		{ "unknown UUID", test_unknown_uuid },
		{ "concurrent ops", test_concurrent },
		{ "reconnect after connection loss", test_reconnect },
		{ "dom_info cache", test_info_cache },
		{ "connection pool", test_pool },
		{ "connection pool size", test_pool_size },
		{ "bad URI", test_bad_uri },
		{ "start with retry", test_retry },
	};
	struct mc_hv_callbacks cb = { .event = on_event, .opaque = (void *)main_tag };
	size_t i;
	int r, before;

	setvbuf(stdout, NULL, _IOLBF, 0);
	mc_cond_init_monotonic(&rec_cond);
	/* The test driver, whatever the caller's environment says; the
	 * backend picks it up from there (uri NULL). */
	setenv("LIBVIRT_DEFAULT_URI", "test:///default", 1);

	r = mc_hv_libvirt_create(NULL, &cb, &hv);
	if (r < 0) {
		printf("SKIP: cannot initialise libvirt: %s\n", mc_hv_last_error());
		return 77;
	}
	r = mc_hv_start(hv, false);
	if (r < 0) {
		printf("SKIP: libvirt test driver unusable: %s\n", mc_hv_last_error());
		mc_hv_destroy(hv);
		return 77;
	}
	/* Keeps test:///default's state alive across the backend's own
	 * reconnects (it resets when its last connection closes). */
	aux = virConnectOpen("test:///default");
	if (!aux) {
		printf("SKIP: second test:///default connection: %s\n", virGetLastErrorMessage());
		mc_hv_destroy(hv);
		return 77;
	}

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		before = failures;
		tests[i].fn();
		printf("%s: %s\n", failures == before ? "ok  " : "FAIL", tests[i].name);
	}

	mc_hv_stop(hv);
	mc_hv_stop(hv);   /* idempotent */
	mc_hv_destroy(hv);
	virConnectClose(aux);
	pthread_cond_destroy(&rec_cond);

	printf("%s: %d check(s) failed\n", failures ? "FAILED" : "PASSED", failures);
	return failures ? 1 : 0;
}
