/* memcoord — the domain registry (cds_lfht keyed by UUID) and sample
 * publication. See registry.h for the contracts. */
#include "memcoord/registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Initial buckets; the table resizes itself as domains come and go. */
#define REG_INIT_BUCKETS 64

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
	return r->ht ? 0 : -ENOMEM;
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
	cds_lfht_destroy(r->ht, NULL);
	r->ht = NULL;
}

struct mc_domain *mc_domain_new(const uint8_t uuid[MC_UUID_LEN], const char *name)
{
	struct mc_domain *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	cds_lfht_node_init(&d->node);
	memcpy(d->uuid, uuid, MC_UUID_LEN);
	mc_strlcpy(d->name, name ? name : "?", sizeof(d->name));
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

int mc_registry_add(struct mc_registry *r, struct mc_domain *d)
{
	struct cds_lfht_node *got;

	rcu_read_lock();
	got = cds_lfht_add_unique(r->ht, mc_uuid_hash(d->uuid), match_uuid,
				  d->uuid, &d->node);
	rcu_read_unlock();
	if (got != &d->node)
		return -EEXIST;
	uatomic_inc(&r->count);
	return 0;
}

int mc_registry_del(struct mc_registry *r, struct mc_domain *d)
{
	int rc;

	rcu_read_lock();
	rc = cds_lfht_del(r->ht, &d->node);
	rcu_read_unlock();
	if (rc)
		return -ENOENT;
	uatomic_dec(&r->count);
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
