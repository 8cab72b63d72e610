/* memcoord — the domain registry (cds_lfht keyed by UUID) and sample
 * publication. See registry.h for the contracts. */
#include "memcoord/registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Initial buckets; the table resizes itself as domains come and go. */
#define REG_INIT_BUCKETS 64
/* Smallest dense array. */
#define DENSE_MIN_CAP 64

unsigned long mc_uuid_hash(const uint8_t uuid[MC_UUID_LEN])
{
	/* FNV-1a over the 16 bytes: UUIDs are already well mixed, this only
	 * has to fold them into a word. */
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < MC_UUID_LEN; i++) {
		h ^= uuid[i];
		h *= 1099511628211ULL;
	}
	return (unsigned long)h;
}

static int match_uuid(struct cds_lfht_node *node, const void *key)
{
	const struct mc_domain *d = caa_container_of(node, struct mc_domain, node);

	return memcmp(d->uuid, key, MC_UUID_LEN) == 0;
}

int mc_registry_init(struct mc_registry *r)
{
	memset(r, 0, sizeof(*r));
	r->ht = cds_lfht_new(REG_INIT_BUCKETS, REG_INIT_BUCKETS, 0,
			     CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	if (!r->ht)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	return 0;
}

static void free_host_sample_rcu(struct rcu_head *head)
{
	free(caa_container_of(head, struct mc_host_sample, rcu));
}

void mc_registry_destroy(struct mc_registry *r)
{
	if (!r || !r->ht)
		return;
	/* No reader is left (rcu_barrier done by the caller), so the host
	 * sample can go at once. */
	free(r->host);
	r->host = NULL;
	free(r->dense);
	r->dense = NULL;
	cds_lfht_destroy(r->ht, NULL);
	r->ht = NULL;
	pthread_mutex_destroy(&r->lock);
}

struct mc_domain *mc_domain_new(const uint8_t uuid[MC_UUID_LEN], const char *name)
{
	/* aligned_alloc wants a multiple of the alignment. */
	size_t size = (sizeof(struct mc_domain) + MC_DOMAIN_ALIGN - 1) /
		      MC_DOMAIN_ALIGN * MC_DOMAIN_ALIGN;
	struct mc_domain *d = aligned_alloc(MC_DOMAIN_ALIGN, size);

	if (!d)
		return NULL;
	memset(d, 0, sizeof(*d));
	cds_lfht_node_init(&d->node);
	memcpy(d->uuid, uuid, MC_UUID_LEN);
	mc_strlcpy(d->name, name ? name : "?", sizeof(d->name));
	d->name_len = (uint8_t)strlen(d->name);
	return d;
}

void mc_domain_free(struct mc_domain *d)
{
	if (!d)
		return;
	free(d->sample);
	free(d->last_action);
	free(d);
}

static void free_domain_rcu(struct rcu_head *head)
{
	mc_domain_free(caa_container_of(head, struct mc_domain, rcu));
}

void mc_domain_free_rcu(struct mc_domain *d)
{
	if (!d)
		return;
	call_rcu(&d->rcu, free_domain_rcu);
}

struct mc_domain *mc_registry_lookup(struct mc_registry *r,
				     const uint8_t uuid[MC_UUID_LEN])
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;

	cds_lfht_lookup(r->ht, mc_uuid_hash(uuid), match_uuid, uuid, &iter);
	node = cds_lfht_iter_get_node(&iter);
	return node ? caa_container_of(node, struct mc_domain, node) : NULL;
}

static void free_dense_rcu(struct rcu_head *head)
{
	free(caa_container_of(head, struct mc_reg_dense, rcu));
}

/* Replace the dense array by one of `cap` slots holding the live records in
 * the same order, and retire the old one after a grace period. Caller holds
 * r->lock; cap >= r->dense_live. 0 or -ENOMEM (the old array stays). */
static int dense_rebuild(struct mc_registry *r, size_t cap)
{
	struct mc_reg_dense *old = r->dense, *a;
	size_t n = 0;

	a = malloc(sizeof(*a) + cap * sizeof(a->rec[0]));
	if (!a)
		return -ENOMEM;
	a->cap = cap;
	for (size_t i = 0; old && i < old->n; i++) {
		struct mc_domain *d = old->rec[i];

		if (!d)
			continue;
		d->slot = n;
		a->rec[n++] = d;
	}
	a->n = n;
	/* Readers that already hold the old array keep reading it: nothing
	 * writes to it any more. */
	rcu_assign_pointer(r->dense, a);
	if (old)
		call_rcu(&old->rcu, free_dense_rcu);
	return 0;
}

/* Twice the live records: a rebuild (O(n)) comes after at least as many
 * appends as it copied. */
static size_t dense_cap_for(size_t live)
{
	return live * 2 > DENSE_MIN_CAP ? live * 2 : DENSE_MIN_CAP;
}

int mc_registry_add(struct mc_registry *r, struct mc_domain *d)
{
	struct cds_lfht_node *got;
	struct mc_reg_dense *a;

	pthread_mutex_lock(&r->lock);
	/* Room first, so that a record is linked in both or in neither. */
	a = r->dense;
	if ((!a || a->n == a->cap) && dense_rebuild(r, dense_cap_for(r->dense_live + 1)) < 0) {
		pthread_mutex_unlock(&r->lock);
		return -ENOMEM;
	}
	rcu_read_lock();
	got = cds_lfht_add_unique(r->ht, mc_uuid_hash(d->uuid), match_uuid,
				  d->uuid, &d->node);
	rcu_read_unlock();
	if (got != &d->node) {
		pthread_mutex_unlock(&r->lock);
		return -EEXIST;
	}
	a = r->dense;
	d->slot = a->n;
	CMM_STORE_SHARED(a->rec[a->n], d);
	/* The slot (and the record's contents) before the count that shows
	 * it: pairs with mc_registry_records' read barrier. */
	cmm_smp_wmb();
	uatomic_set(&a->n, a->n + 1);
	r->dense_live++;
	uatomic_inc(&r->count);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

int mc_registry_del(struct mc_registry *r, struct mc_domain *d)
{
	struct mc_reg_dense *a;
	int rc;

	pthread_mutex_lock(&r->lock);
	rcu_read_lock();
	rc = cds_lfht_del(r->ht, &d->node);
	rcu_read_unlock();
	if (rc) {
		pthread_mutex_unlock(&r->lock);
		return -ENOENT;
	}
	a = r->dense;
	CMM_STORE_SHARED(a->rec[d->slot], NULL);
	r->dense_live--;
	/* Mostly holes (the host lost most of its domains): squeeze them out
	 * so that walks stay proportional to the records. Without memory the
	 * holes stay, which is only slower. */
	if (a->cap > DENSE_MIN_CAP && r->dense_live < a->cap / 8)
		(void)dense_rebuild(r, dense_cap_for(r->dense_live));
	uatomic_dec(&r->count);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

unsigned long mc_registry_count(struct mc_registry *r)
{
	return uatomic_read(&r->count);
}

static void free_sample_rcu(struct rcu_head *head)
{
	free(caa_container_of(head, struct mc_sample, rcu));
}

void mc_domain_publish(struct mc_domain *d, struct mc_sample *s)
{
	struct mc_sample *old;

	old = rcu_xchg_pointer(&d->sample, s);
	if (old)
		call_rcu(&old->rcu, free_sample_rcu);
}

static void free_action_rcu(struct rcu_head *head)
{
	free(caa_container_of(head, struct mc_last_action, rcu));
}

void mc_domain_publish_action(struct mc_domain *d, struct mc_last_action *a)
{
	struct mc_last_action *old;

	old = rcu_xchg_pointer(&d->last_action, a);
	if (old)
		call_rcu(&old->rcu, free_action_rcu);
}

void mc_registry_publish_host(struct mc_registry *r, struct mc_host_sample *s)
{
	struct mc_host_sample *old;

	old = rcu_xchg_pointer(&r->host, s);
	if (old)
		call_rcu(&old->rcu, free_host_sample_rcu);
}
