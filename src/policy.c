/* memcoord — the table of known policies, looked up by name (--policy). */
#include "memcoord/policy.h"

#include <errno.h>
#include <string.h>

/* Every policy the daemon can run; the first is not implicitly the default
 * (config.c names the default explicitly). */
static const struct mc_policy *const mc_policies[] = {
	&mc_policy_seed,
	&mc_policy_balance,
};

const struct mc_policy *mc_policy_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(mc_policies) / sizeof(mc_policies[0]); i++)
		if (strcmp(mc_policies[i]->name, name) == 0)
			return mc_policies[i];
	return NULL;
}

int mc_plan_push(struct mc_plan *plan, uint32_t dom, uint64_t target_kib,
		 const struct mc_reason *why)
{
	struct mc_action *a;

	if (plan->n >= plan->cap)
		return -ENOSPC;
	a = &plan->act[plan->n++];
	a->dom = dom;
	a->target_kib = target_kib;
	a->reason = *why;
	return 0;
}
