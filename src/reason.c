/* memcoord — the text of a policy's reasons (see mc_reason in policy.h).
 *
 * The policies record a kind and its figures; the words are here, made
 * only for the actions someone reads: the actuator's log lines and the
 * status' last action, the trace, tests. The wording is what the logs,
 * tests and the end-to-end lab look for ("grow: ", "consuming X MiB/s",
 * "(shared by weight)", ...): keep it. */
#include "memcoord/policy.h"

#include <stdio.h>

/* MiB with one decimal for the balance policy's reasons ("-12.5", "256"),
 * rounded to the nearest tenth, the decimal left out when it is 0. */
static const char *bal_mib(char buf[MC_MIB_STR_LEN], int64_t kib)
{
	int64_t tenths = (kib * 10 + (kib >= 0 ? 512 : -512)) / 1024;
	uint64_t t = (uint64_t)(tenths < 0 ? -tenths : tenths);
	char tmp[MC_MIB_STR_LEN];
	int n = 0, o = 0;

	if (t % 10)
		tmp[n++] = (char)('0' + t % 10), tmp[n++] = '.';
	t /= 10;
	do {
		tmp[n++] = (char)('0' + t % 10);
		t /= 10;
	} while (t);
	if (tenths < 0)
		buf[o++] = '-';
	while (n)
		buf[o++] = tmp[--n];
	buf[o] = '\0';
	return buf;
}

/* The seed policy's MiB (mc_fmt_mib: "100.5", "6.0"); its figures are never
 * negative. */
static const char *seed_mib(char buf[MC_MIB_STR_LEN], int64_t kib)
{
	return mc_fmt_mib(buf, kib > 0 ? (uint64_t)kib : 0);
}

const char *mc_reason_format(const struct mc_action *a, char *buf, size_t len)
{
	const struct mc_reason *r = &a->reason;
	const int64_t *v = r->v;
	const char *shared = r->flags & MC_REASON_SHARED ? " (shared by weight)" : "";
	char m[5][MC_MIB_STR_LEN];

	if (!len)
		return buf;
	switch ((enum mc_reason_kind)r->kind) {
	case MC_REASON_NONE:
		snprintf(buf, len, "no reason given");
		break;
	case MC_REASON_GROW_LOW:
		snprintf(buf, len, "grow: usable %s MiB < low %s MiB, consuming %s MiB/s, +%s MiB%s",
			 bal_mib(m[0], v[0]), bal_mib(m[1], v[1]), bal_mib(m[2], v[2]),
			 bal_mib(m[3], v[3]), shared);
		break;
	case MC_REASON_GROW_PREDICT:
		snprintf(buf, len,
			 "grow: usable %s MiB, consuming %s MiB/s, below low %s MiB within %s s, +%s MiB%s",
			 bal_mib(m[0], v[0]), bal_mib(m[1], v[1]), bal_mib(m[2], v[2]),
			 bal_mib(m[3], v[3]), bal_mib(m[4], v[4]), shared);
		break;
	case MC_REASON_GROW_PRESSURE:
		snprintf(buf, len,
			 "grow: pressure (swap %s MiB/s, %llu major faults/s), usable %s MiB, +%s MiB%s",
			 bal_mib(m[0], v[0]), (unsigned long long)v[1], bal_mib(m[2], v[2]),
			 bal_mib(m[3], v[3]), shared);
		break;
	case MC_REASON_SHRINK:
		snprintf(buf, len, "shrink: usable %s MiB > high %s MiB, -%s MiB",
			 bal_mib(m[0], v[0]), bal_mib(m[1], v[1]), bal_mib(m[2], v[2]));
		break;
	case MC_REASON_RECLAIM:
		snprintf(buf, len, "reclaim: %s, usable %s MiB > target %s MiB, -%s MiB",
			 r->flags & MC_REASON_SHORT ? "host/budget short" : "others need memory",
			 bal_mib(m[0], v[0]), bal_mib(m[1], v[1]), bal_mib(m[2], v[2]));
		break;
	case MC_REASON_REBALANCE:
		snprintf(buf, len, "rebalance: others below low, usable %s MiB, -%s MiB (weight %u)",
			 bal_mib(m[0], v[0]), bal_mib(m[1], v[1]), r->n);
		break;
	case MC_REASON_SQUEEZE:
		snprintf(buf, len, "squeeze: host/budget short, usable %s MiB, -%s MiB (weight %u)",
			 bal_mib(m[0], v[0]), bal_mib(m[1], v[1]), r->n);
		break;
	case MC_REASON_SEED_TAKE:
		snprintf(buf, len,
			 "seed: unused %s MiB <= loaded %s MiB, +%s MiB from uuid %08x (unused %s MiB)",
			 seed_mib(m[0], v[0]), seed_mib(m[1], v[1]), seed_mib(m[2], v[2]), r->n,
			 seed_mib(m[3], v[3]));
		break;
	case MC_REASON_SEED_GIVE:
		snprintf(buf, len,
			 "seed: unused %s MiB >= free %s MiB, -%s MiB to uuid %08x (unused %s MiB)",
			 seed_mib(m[0], v[0]), seed_mib(m[1], v[1]), seed_mib(m[2], v[2]), r->n,
			 seed_mib(m[3], v[3]));
		break;
	case MC_REASON_SEED_HOST_GROW:
		snprintf(buf, len,
			 "seed: unused %s MiB <= loaded %s MiB, no domain has >= free %s MiB unused, +%s MiB from the host",
			 seed_mib(m[0], v[0]), seed_mib(m[1], v[1]), seed_mib(m[2], v[2]),
			 seed_mib(m[3], v[3]));
		break;
	case MC_REASON_SEED_HOST_GIVE:
		snprintf(buf, len, "seed: unused %s MiB >= free %s MiB, -%s MiB back to the host",
			 seed_mib(m[0], v[0]), seed_mib(m[1], v[1]), seed_mib(m[2], v[2]));
		break;
	case MC_REASON_SEED_RECLAIM:
		snprintf(buf, len,
			 "seed: host free %s MiB < loaded %s MiB, unused %s MiB > free %s MiB, reclaim %s MiB",
			 seed_mib(m[0], v[0]), seed_mib(m[1], v[1]), seed_mib(m[2], v[2]),
			 seed_mib(m[3], v[3]), seed_mib(m[4], v[4]));
		break;
	default:
		snprintf(buf, len, "unknown reason %u", r->kind);
		break;
	}
	return buf;
}
