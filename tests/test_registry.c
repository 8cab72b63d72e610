/* Registry and RCU stress: writers add, publish and remove records while
 * readers walk the table and dereference samples. Under ASan a premature
 * free is a use-after-free report; the checks catch torn or mismatched
 * samples. Duration: MC_STRESS_SECONDS (default 4). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
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
	pthread_t w[WRITERS], r[READERS];
	const char *env = getenv("MC_STRESS_SECONDS");
	int seconds = env ? atoi(env) : 4;
	unsigned long visits = 0;

	for (int i = 0; i < WRITERS; i++)
		pthread_create(&w[i], NULL, writer_main, (void *)(intptr_t)i);
	for (int i = 0; i < READERS; i++)
		pthread_create(&r[i], NULL, reader_main, (void *)(intptr_t)i);
	sleep((unsigned)(seconds > 0 ? seconds : 1));
	uatomic_set(&stop_flag, 1);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	for (int i = 0; i < READERS; i++) {
		pthread_join(r[i], NULL);
		visits += reader_visits[i];
	}
	CHECK(reader_errors == 0);
	CHECK(visits > 0);
	CHECK(mc_registry_count(&reg) == 0);
	printf("registry stress: %d s, %d writers, %d readers, %lu sample reads, %d bad\n",
	       seconds, WRITERS, READERS, visits, reader_errors);
}

int main(void)
{
	rcu_register_thread();
	CHECK(mc_registry_init(&reg) == 0);
	test_basics();
	test_stress();
	rcu_barrier();
	mc_registry_destroy(&reg);
	rcu_unregister_thread();
	return check_failures ? 1 : 0;
}
