/* Registry and RCU stress: writers add, publish and remove records while
 * readers walk the table and the dense array and dereference samples, and a
 * thread builds arbiter snapshots. Under ASan a premature free is a
 * use-after-free report; the checks catch torn or mismatched samples and
 * records seen twice. Duration: MC_STRESS_SECONDS (default 4). Before it,
 * the dense array is checked against the table after each of thousands of
 * random adds and removes. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "memcoord/arbiter.h"
#include "memcoord/config.h"
#include "memcoord/registry.h"
#include "memcoord/util.h"

#define WRITERS 3
#define READERS 3
#define SLOTS_PER_WRITER 64
#define SEQ_MAGIC 0x5a5a5a5aULL

static struct mc_registry reg;
static int stop_flag;
static unsigned long reader_visits[READERS];
static int reader_errors;
static unsigned long snapshots, snapshot_doms;

static void make_uuid(uint8_t uuid[MC_UUID_LEN], int writer, int slot)
{
	memset(uuid, 0, MC_UUID_LEN);
	uuid[0] = (uint8_t)writer;
	uuid[1] = (uint8_t)slot;
	uuid[15] = 0xab;
}

static void publish(struct mc_domain *d, uint64_t seq)
{
	struct mc_sample *s = calloc(1, sizeof(*s));

	s->seq = seq;
	s->stats.val[MC_STAT_ACTUAL] = seq * 3;
	s->stats.val[MC_STAT_UNUSED] = seq ^ SEQ_MAGIC;
	memcpy(&s->stats.val[MC_STAT_AVAILABLE], d->uuid, 8);
	s->stats.present = 1u << MC_STAT_ACTUAL | 1u << MC_STAT_UNUSED;
	mc_domain_publish(d, s);
}

static void *writer_main(void *arg)
{
	int w = (int)(intptr_t)arg;
	struct mc_domain *slots[SLOTS_PER_WRITER] = {0};
	unsigned seed = (unsigned)w * 7919u + 1;
	uint64_t seq = 0;

	rcu_register_thread();
	while (!uatomic_read(&stop_flag)) {
		int i = rand_r(&seed) % SLOTS_PER_WRITER;
		int op = rand_r(&seed) % 4;

		if (!slots[i]) {
			uint8_t uuid[MC_UUID_LEN];

			make_uuid(uuid, w, i);
			slots[i] = mc_domain_new(uuid, "stress");
			CHECK(mc_registry_add(&reg, slots[i]) == 0);
			publish(slots[i], ++seq);
		} else if (op == 0) {
			CHECK(mc_registry_del(&reg, slots[i]) == 0);
			mc_domain_free_rcu(slots[i]);
			slots[i] = NULL;
		} else {
			publish(slots[i], ++seq);
		}
	}
	for (int i = 0; i < SLOTS_PER_WRITER; i++) {
		if (slots[i]) {
			CHECK(mc_registry_del(&reg, slots[i]) == 0);
			mc_domain_free_rcu(slots[i]);
		}
	}
	rcu_unregister_thread();
	return NULL;
}

static void *reader_main(void *arg)
{
	int r = (int)(intptr_t)arg;
	unsigned seed = (unsigned)r * 104729u + 3;

	rcu_register_thread();
	while (!uatomic_read(&stop_flag)) {
		struct cds_lfht_iter iter;
		struct mc_domain *d;

		rcu_read_lock();
		cds_lfht_for_each_entry(reg.ht, &iter, d, node) {
			struct mc_sample *s = rcu_dereference(d->sample);

			if (!s)
				continue;
			if (s->stats.val[MC_STAT_ACTUAL] != s->seq * 3 ||
			    s->stats.val[MC_STAT_UNUSED] != (s->seq ^ SEQ_MAGIC) ||
			    memcmp(&s->stats.val[MC_STAT_AVAILABLE], d->uuid, 8) != 0)
				uatomic_inc(&reader_errors);
			reader_visits[r]++;
		}
		/* The dense array in the same read section: every record
		 * in it valid (ASan), with a matching sample, and none twice. */
		{
			struct mc_domain *const *rec;
			struct mc_domain *seen[WRITERS * SLOTS_PER_WRITER];
			size_t slots, nseen = 0;

			rec = mc_registry_records(&reg, &slots);
			for (size_t i = 0; i < slots; i++) {
				struct mc_domain *dd = rcu_dereference(rec[i]);
				struct mc_sample *s;

				if (!dd)
					continue;
				if (dd->uuid[15] != 0xab || nseen == WRITERS * SLOTS_PER_WRITER) {
					uatomic_inc(&reader_errors);
					continue;
				}
				for (size_t k = 0; k < nseen; k++) {
					if (seen[k] == dd)
						uatomic_inc(&reader_errors);
				}
				seen[nseen++] = dd;
				s = rcu_dereference(dd->sample);
				if (s && (s->stats.val[MC_STAT_ACTUAL] != s->seq * 3 ||
					  memcmp(&s->stats.val[MC_STAT_AVAILABLE], dd->uuid, 8) != 0))
					uatomic_inc(&reader_errors);
			}
		}
		/* Point lookups too: a found record must carry the key. */
		uint8_t key[MC_UUID_LEN];
		make_uuid(key, rand_r(&seed) % WRITERS, rand_r(&seed) % SLOTS_PER_WRITER);
		d = mc_registry_lookup(&reg, key);
		if (d && memcmp(d->uuid, key, MC_UUID_LEN) != 0)
			uatomic_inc(&reader_errors);
		rcu_read_unlock();
	}
	rcu_unregister_thread();
	return NULL;
}

/* The arbiter's snapshot of the registry as writers change it: every
 * domain in a view with its own sample and name, and no domain twice. */
static void *snapshot_main(void *arg)
{
	struct mc_snapshot snap;

	(void)arg;
	rcu_register_thread();
	mc_snapshot_init(&snap);
	while (!uatomic_read(&stop_flag)) {
		if (mc_snapshot_build(&snap, &reg, mc_now_ns()) < 0) {
			uatomic_inc(&reader_errors);
			break;
		}
		for (size_t i = 0; i < snap.view.n; i++) {
			const struct mc_vdom *v = &snap.view.dom[i];

			if (v->actual_kib != v->seq * 3 || v->unused_kib != (v->seq ^ SEQ_MAGIC) ||
			    memcmp(&v->available_kib, v->uuid, 8) != 0 ||
			    strcmp(snap.meta[i].name, "stress") != 0)
				uatomic_inc(&reader_errors);
			for (size_t k = 0; k < i; k++) {
				if (memcmp(snap.view.dom[k].uuid, v->uuid, MC_UUID_LEN) == 0)
					uatomic_inc(&reader_errors);
			}
		}
		snapshots++;
		snapshot_doms += snap.view.n;
	}
	mc_snapshot_fini(&snap);
	rcu_unregister_thread();
	return NULL;
}

#define DENSE_POOL 600

static void dense_uuid(uint8_t uuid[MC_UUID_LEN], size_t i)
{
	memset(uuid, 0, MC_UUID_LEN);
	uuid[0] = 0xde;
	uuid[1] = (uint8_t)(i >> 8);
	uuid[2] = (uint8_t)i;
}

/* The dense array holds exactly the records linked in the table, each
 * once, at the slot it records, in the order they were added. Returns its
 * slots in use. */
static size_t check_dense(struct mc_domain *const *pool, const uint64_t *added)
{
	static bool seen[DENSE_POOL];
	struct mc_domain *const *rec;
	struct cds_lfht_iter iter;
	struct mc_domain *d;
	size_t slots, live = 0, linked = 0;
	uint64_t last = 0;

	memset(seen, 0, sizeof(seen));
	rcu_read_lock();
	rec = mc_registry_records(&reg, &slots);
	for (size_t i = 0; i < slots; i++) {
		size_t k;

		d = rcu_dereference(rec[i]);
		if (!d)
			continue;
		k = (size_t)d->uuid[1] << 8 | d->uuid[2];
		CHECK(d->uuid[0] == 0xde && k < DENSE_POOL && pool[k] == d);
		if (k >= DENSE_POOL)
			continue;
		CHECK(!seen[k]);
		seen[k] = true;
		CHECK(d->slot == i);
		CHECK(added[k] > last);
		last = added[k];
		live++;
	}
	cds_lfht_for_each_entry(reg.ht, &iter, d, node) {
		size_t k = (size_t)d->uuid[1] << 8 | d->uuid[2];

		CHECK(k < DENSE_POOL && seen[k]);
		linked++;
	}
	rcu_read_unlock();
	for (size_t k = 0; k < DENSE_POOL; k++)
		CHECK(seen[k] == (pool[k] != NULL));
	CHECK(live == linked);
	CHECK(live == mc_registry_count(&reg));
	/* Mostly holes are squeezed out: at most 7 in 8 slots empty past the
	 * smallest array. */
	CHECK(slots <= 64 || slots <= 8 * live + 7);
	return slots;
}

/* Random adds (some of them duplicates) and removes: up to ~500 records,
 * down to a few (the array squeezes its holes out), then both at random. */
static void test_dense(void)
{
	static struct mc_domain *pool[DENSE_POOL];
	static uint64_t added[DENSE_POOL];
	unsigned seed = 12345;
	uint64_t clock = 0;
	size_t live = 0, ops = 0, slots = 0;

	for (int phase = 0; phase < 3; phase++) {
		unsigned add_pct = phase == 0 ? 85 : phase == 1 ? 10 : 50;

		for (int step = 0; step < 2000; step++) {
			size_t k = (size_t)rand_r(&seed) % DENSE_POOL;
			bool add = (unsigned)(rand_r(&seed) % 100) < add_pct;
			uint8_t uuid[MC_UUID_LEN];

			dense_uuid(uuid, k);
			if (add && !pool[k]) {
				pool[k] = mc_domain_new(uuid, "dense");
				CHECK(pool[k] && mc_registry_add(&reg, pool[k]) == 0);
				added[k] = ++clock;
				live++;
			} else if (add) {
				struct mc_domain *dup = mc_domain_new(uuid, "dup");

				CHECK(dup && mc_registry_add(&reg, dup) == -EEXIST);
				mc_domain_free(dup);
			} else if (pool[k]) {
				CHECK(mc_registry_del(&reg, pool[k]) == 0);
				CHECK(mc_registry_del(&reg, pool[k]) == -ENOENT);
				mc_domain_free_rcu(pool[k]);
				pool[k] = NULL;
				live--;
			}
			slots = check_dense(pool, added);
			ops++;
		}
		printf("dense array: phase %d, %zu records linked, %zu slots\n", phase, live, slots);
	}
	for (size_t k = 0; k < DENSE_POOL; k++) {
		if (pool[k]) {
			CHECK(mc_registry_del(&reg, pool[k]) == 0);
			mc_domain_free_rcu(pool[k]);
			pool[k] = NULL;
		}
	}
	check_dense(pool, added);
	CHECK(mc_registry_count(&reg) == 0);
	printf("dense array: matches the table after each of %zu random adds and removes\n", ops);
}

static void test_basics(void)
{
	uint8_t u1[MC_UUID_LEN], u2[MC_UUID_LEN];
	struct mc_domain *a, *b, *dup;

	make_uuid(u1, 100, 1);
	make_uuid(u2, 100, 2);
	a = mc_domain_new(u1, "a");
	b = mc_domain_new(u2, "b");
	dup = mc_domain_new(u1, "a-again");
	CHECK(mc_registry_add(&reg, a) == 0);
	CHECK(mc_registry_add(&reg, b) == 0);
	CHECK(mc_registry_add(&reg, dup) == -EEXIST);
	mc_domain_free(dup);
	CHECK(mc_registry_count(&reg) == 2);

	rcu_read_lock();
	CHECK(mc_registry_lookup(&reg, u1) == a);
	CHECK(mc_registry_lookup(&reg, u2) == b);
	CHECK(a->sample == NULL);
	rcu_read_unlock();

	publish(a, 1);
	publish(a, 2);
	rcu_read_lock();
	CHECK(rcu_dereference(a->sample)->seq == 2);
	rcu_read_unlock();

	CHECK(mc_registry_del(&reg, a) == 0);
	CHECK(mc_registry_del(&reg, a) == -ENOENT);
	rcu_read_lock();
	CHECK(mc_registry_lookup(&reg, u1) == NULL);
	rcu_read_unlock();
	CHECK(mc_registry_count(&reg) == 1);
	CHECK(mc_registry_del(&reg, b) == 0);
	mc_domain_free_rcu(a);
	mc_domain_free_rcu(b);
	CHECK(mc_registry_count(&reg) == 0);
	printf("registry basics: add, duplicate, lookup, publish, del\n");
}

static void test_stress(void)
{
	pthread_t w[WRITERS], r[READERS], sn;
	const char *env = getenv("MC_STRESS_SECONDS");
	int seconds = env ? atoi(env) : 4;
	unsigned long visits = 0;
	struct mc_config cfg;

	mc_config_defaults(&cfg);
	cfg.gen = 1;
	rcu_assign_pointer(reg.cfg, &cfg);
	for (int i = 0; i < WRITERS; i++)
		pthread_create(&w[i], NULL, writer_main, (void *)(intptr_t)i);
	for (int i = 0; i < READERS; i++)
		pthread_create(&r[i], NULL, reader_main, (void *)(intptr_t)i);
	pthread_create(&sn, NULL, snapshot_main, NULL);
	sleep((unsigned)(seconds > 0 ? seconds : 1));
	uatomic_set(&stop_flag, 1);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	for (int i = 0; i < READERS; i++) {
		pthread_join(r[i], NULL);
		visits += reader_visits[i];
	}
	pthread_join(sn, NULL);
	rcu_assign_pointer(reg.cfg, NULL);
	mc_config_free(&cfg);
	CHECK(reader_errors == 0);
	CHECK(visits > 0);
	CHECK(snapshots > 0 && snapshot_doms > 0);
	CHECK(mc_registry_count(&reg) == 0);
	printf("registry stress: %d s, %d writers, %d readers, %lu sample reads, "
	       "%lu snapshots of %.1f domains on average, %d bad\n",
	       seconds, WRITERS, READERS, visits, snapshots,
	       snapshots ? (double)snapshot_doms / (double)snapshots : 0.0, reader_errors);
}

int main(void)
{
	rcu_register_thread();
	CHECK(mc_registry_init(&reg) == 0);
	test_basics();
	test_dense();
	test_stress();
	rcu_barrier();
	mc_registry_destroy(&reg);
	rcu_unregister_thread();
	return check_failures ? 1 : 0;
}
