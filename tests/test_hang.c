/* memcoord — a hypervisor call that hangs holds up only its own domain.
 *
 * Real collector threads, registry and RCU over a fake backend whose calls
 * for domain A can be made to block until released (what a guest whose QEMU
 * stopped answering does to libvirt calls); domain B's calls always answer.
 * Checks, with the time each takes:
 *   - a balloon change that hangs returns -EINPROGRESS after the bounded
 *     wait (MC_COLLECTOR_SET_WAIT_MS), and the next one -EBUSY at once;
 *     B's changes answer at once and B's samples keep coming meanwhile;
 *     once released, A's collector finishes the change and takes new ones;
 *   - a change for a domain whose collector hangs in a statistics call is
 *     withdrawn after the wait (-ETIMEDOUT, never made), then -EBUSY at once;
 *   - stopping: mc_collector_join_until leaves A's stuck thread behind by
 *     the deadline, joins B, and A publishes nothing after its stop. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "memcoord/collector.h"
#include "memcoord/registry.h"
#include "memcoord/util.h"

/* Room for scheduling delays on a loaded machine: "at once" means within a
 * quarter of this, a bounded wait ends within this of its bound. */
#define SLACK_MS 1000

/* ---- the fake backend ---- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool block_stats, block_set;     /* A's calls of that kind block */
static int in_stats, in_set;            /* A's calls blocked right now */
static unsigned long sets_made[2];      /* per domain, calls that returned */

static const uint8_t uuid_a[MC_UUID_LEN] = {0xa};
static const uint8_t uuid_b[MC_UUID_LEN] = {0xb};

struct mc_hv_dom {
	uint8_t uuid[MC_UUID_LEN];
};

static bool is_a(const uint8_t uuid[MC_UUID_LEN])
{
	return memcmp(uuid, uuid_a, MC_UUID_LEN) == 0;
}

/* Blocks while *flag is set, counting itself in *count. */
static void gate(const bool *flag, int *count)
{
	pthread_mutex_lock(&gate_lock);
	(*count)++;
	pthread_cond_broadcast(&gate_cond);
	while (*flag)
		pthread_cond_wait(&gate_cond, &gate_lock);
	(*count)--;
	pthread_mutex_unlock(&gate_lock);
}

static void release(bool *flag)
{
	pthread_mutex_lock(&gate_lock);
	*flag = false;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

static void hold(bool *flag)
{
	pthread_mutex_lock(&gate_lock);
	*flag = true;
	pthread_mutex_unlock(&gate_lock);
}

static int blocked(const int *count)
{
	int n;

	pthread_mutex_lock(&gate_lock);
	n = *count;
	pthread_mutex_unlock(&gate_lock);
	return n;
}

static int fake_dom_open(struct mc_hv *hv, const uint8_t uuid[MC_UUID_LEN],
			 struct mc_hv_dom **out)
{
	(void)hv;
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	memcpy((*out)->uuid, uuid, MC_UUID_LEN);
	return 0;
}

static void fake_dom_close(struct mc_hv_dom *d)
{
	free(d);
}

static int fake_dom_info(struct mc_hv_dom *d, struct mc_dom_info *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->uuid, d->uuid, MC_UUID_LEN);
	out->state = MC_DOM_RUNNING;
	out->max_kib = 2048 * 1024;
	out->cur_kib = 1024 * 1024;
	out->has_balloon = true;
	return 0;
}

static int fake_dom_stats(struct mc_hv_dom *d, struct mc_stats *out)
{
	if (is_a(d->uuid))
		gate(&block_stats, &in_stats);
	memset(out, 0, sizeof(*out));
	out->val[MC_STAT_ACTUAL] = 1024 * 1024;
	out->val[MC_STAT_UNUSED] = 512 * 1024;
	out->val[MC_STAT_USABLE] = 512 * 1024;
	out->present = 1u << MC_STAT_ACTUAL | 1u << MC_STAT_UNUSED | 1u << MC_STAT_USABLE;
	return 0;
}

static int fake_dom_set_period(struct mc_hv_dom *d, int period_s)
{
	(void)d;
	(void)period_s;
	return 0;
}

static int fake_set_memory(struct mc_hv *hv, const uint8_t uuid[MC_UUID_LEN], uint64_t kib)
{
	(void)hv;
	(void)kib;
	if (is_a(uuid))
		gate(&block_set, &in_set);
	pthread_mutex_lock(&gate_lock);
	sets_made[is_a(uuid) ? 0 : 1]++;
	pthread_mutex_unlock(&gate_lock);
	return 0;
}

static const struct mc_hv_ops fake_ops = {
	.name = "fake",
	.dom_open = fake_dom_open,
	.dom_close = fake_dom_close,
	.dom_info = fake_dom_info,
	.dom_stats = fake_dom_stats,
	.dom_set_period = fake_dom_set_period,
	.set_memory = fake_set_memory,
};

/* ---- helpers ---- */

static struct mc_registry reg;
static struct mc_hv hv = {.ops = &fake_ops};
/* Kept here for the whole run: a collector left behind must never be
 * freed, and a global keeps it reachable for LeakSanitizer. */
static struct mc_domain *rec_a, *rec_b;

static uint64_t seq_of(struct mc_domain *d)
{
	struct mc_sample *s;
	uint64_t seq;

	rcu_read_lock();
	s = rcu_dereference(d->sample);
	seq = s ? s->seq : 0;
	rcu_read_unlock();
	return seq;
}

static int64_t ms_since(int64_t t0)
{
	return (mc_real_now_ns() - t0) / MC_NS_PER_MS;
}

static void sleep_ms(int ms)
{
	usleep((useconds_t)ms * 1000);
}

/* Poll cond every 5 ms for at most ms; true when it held. */
static bool wait_for(int ms, bool (*cond)(void))
{
	for (int i = 0; i < ms / 5; i++) {
		if (cond())
			return true;
		sleep_ms(5);
	}
	return cond();
}

static bool both_sampled(void) { return seq_of(rec_a) > 0 && seq_of(rec_b) > 0; }
static bool set_free(void) { return blocked(&in_set) == 0; }
static bool stats_hung(void) { return blocked(&in_stats) == 1; }
static bool none_live(void) { return mc_collector_live_count() == 0; }
static bool a_takes_changes(void)
{
	return mc_collector_set_memory(&reg, uuid_a, 700 * 1024) == 0;
}

static struct mc_domain *add(const uint8_t uuid[MC_UUID_LEN], const char *name)
{
	struct mc_collector_env env = {
		.hv = &hv,
		.reg = &reg,
		.period_ms = 50,
	};
	struct mc_domain *d = mc_domain_new(uuid, name);

	if (!d || mc_registry_add(&reg, d) < 0 || mc_collector_start(d, &env) < 0) {
		fprintf(stderr, "cannot add %s\n", name);
		exit(1);
	}
	return d;
}

/* ---- the checks ---- */

static void hung_set(void)
{
	int64_t t0, ms;
	uint64_t b0;
	int rc;

	hold(&block_set);
	b0 = seq_of(rec_b);
	t0 = mc_real_now_ns();
	rc = mc_collector_set_memory(&reg, uuid_a, 900 * 1024);
	ms = ms_since(t0);
	printf("# hung balloon change: %d (%s) after %lld ms\n", rc, mc_hv_last_error(),
	       (long long)ms);
	CHECK(rc == -EINPROGRESS);
	CHECK(ms >= MC_COLLECTOR_SET_WAIT_MS - 10 && ms < MC_COLLECTOR_SET_WAIT_MS + SLACK_MS);
	CHECK(blocked(&in_set) == 1);
	/* B went on collecting every 50 ms while the arbiter waited. */
	printf("# B's samples during that wait: %llu\n",
	       (unsigned long long)(seq_of(rec_b) - b0));
	CHECK(seq_of(rec_b) - b0 >= 5);

	t0 = mc_real_now_ns();
	rc = mc_collector_set_memory(&reg, uuid_a, 800 * 1024);
	ms = ms_since(t0);
	printf("# next change for A: %d (%s) after %lld ms\n", rc, mc_hv_last_error(),
	       (long long)ms);
	CHECK(rc == -EBUSY);
	CHECK(ms < SLACK_MS / 4);

	t0 = mc_real_now_ns();
	rc = mc_collector_set_memory(&reg, uuid_b, 900 * 1024);
	ms = ms_since(t0);
	printf("# change for B meanwhile: %d after %lld ms\n", rc, (long long)ms);
	CHECK(rc == 0);
	CHECK(ms < SLACK_MS / 4);

	/* Released: A's change completes (logged late), A takes changes again. */
	release(&block_set);
	CHECK(wait_for(2000, set_free));
	CHECK(wait_for(2000, a_takes_changes));
	pthread_mutex_lock(&gate_lock);
	CHECK(sets_made[0] == 2 && sets_made[1] == 1);
	pthread_mutex_unlock(&gate_lock);
}

static void hung_stats(void)
{
	int64_t t0, ms;
	uint64_t a0, b0;
	int rc;

	hold(&block_stats);
	CHECK(wait_for(2000, stats_hung));
	a0 = seq_of(rec_a);
	b0 = seq_of(rec_b);
	t0 = mc_real_now_ns();
	rc = mc_collector_set_memory(&reg, uuid_a, 600 * 1024);
	ms = ms_since(t0);
	printf("# change for A while its statistics call hangs: %d (%s) after %lld ms\n",
	       rc, mc_hv_last_error(), (long long)ms);
	/* The collection began before the request: -EBUSY at once if it
	 * already ran past the wait, else withdrawn after the wait. */
	CHECK(rc == -ETIMEDOUT || rc == -EBUSY);
	CHECK(ms < MC_COLLECTOR_SET_WAIT_MS + SLACK_MS);

	t0 = mc_real_now_ns();
	rc = mc_collector_set_memory(&reg, uuid_a, 600 * 1024);
	ms = ms_since(t0);
	printf("# and again: %d after %lld ms\n", rc, (long long)ms);
	CHECK(rc == -EBUSY);
	CHECK(ms < SLACK_MS / 4);
	pthread_mutex_lock(&gate_lock);
	CHECK(sets_made[0] == 2);   /* the withdrawn change was never made */
	pthread_mutex_unlock(&gate_lock);
	CHECK(seq_of(rec_a) == a0);
	CHECK(seq_of(rec_b) - b0 >= 5);
}

static void stop_while_hung(void)
{
	int64_t t0, ms;
	uint64_t a0;
	int rc;

	/* A is still blocked in its statistics call. */
	a0 = seq_of(rec_a);
	mc_registry_del(&reg, rec_a);
	mc_registry_del(&reg, rec_b);
	mc_collector_request_stop(rec_a->collector);
	mc_collector_request_stop(rec_b->collector);
	t0 = mc_real_now_ns();
	rc = mc_collector_join_until(rec_a->collector, t0 + 300 * MC_NS_PER_MS);
	ms = ms_since(t0);
	printf("# joining A's stuck collector: %d after %lld ms\n", rc, (long long)ms);
	CHECK(rc == -ETIMEDOUT);
	CHECK(ms >= 290 && ms < 300 + SLACK_MS);
	rc = mc_collector_join_until(rec_b->collector, mc_real_now_ns() + 2000 * MC_NS_PER_MS);
	CHECK(rc == 0);
	rec_b->collector = NULL;
	mc_domain_free_rcu(rec_b);
	CHECK(mc_collector_live_count() == 1);

	/* Released, the stuck thread ends on its own and publishes nothing. */
	release(&block_stats);
	CHECK(wait_for(2000, none_live));
	CHECK(seq_of(rec_a) == a0);
}

int main(void)
{
	rcu_register_thread();
	if (mc_registry_init(&reg) < 0)
		return 1;
	rec_a = add(uuid_a, "a");
	rec_b = add(uuid_b, "b");
	CHECK(wait_for(2000, both_sampled));

	hung_set();
	hung_stats();
	stop_while_hung();

	rcu_barrier();
	rcu_unregister_thread();
	if (check_failures)
		fprintf(stderr, "%d checks failed\n", check_failures);
	return check_failures ? 1 : 0;
}
