/* memcoord — the status table (status.h): built from the registry under
 * one RCU read section, printed as text or JSON. Read-only: see status.h. */
#include "memcoord/status.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Not <json-c/json.h>: its debug.h declares functions named like
 * memcoord's log macros (mc_debug, mc_info). */
#include <json-c/json_object.h>

#include "memcoord/config.h"

static const struct {
	const char *name, *id;
} state_names[MC_ST_COUNT] = {
	[MC_ST_STARTING] = {"starting", "starting"},
	[MC_ST_PAUSED] = {"paused", "paused"},
	[MC_ST_EXCLUDED] = {"excluded", "excluded"},
	[MC_ST_NO_STATS] = {"no stats", "no_stats"},
	[MC_ST_UNTRUSTED] = {"untrusted", "untrusted"},
	[MC_ST_STALE] = {"stale", "stale"},
	[MC_ST_STUCK] = {"stuck", "stuck"},
	[MC_ST_MOVING] = {"moving", "moving"},
	[MC_ST_OK] = {"ok", "ok"},
};

const char *mc_status_state_name(enum mc_status_state s)
{
	return (unsigned)s < MC_ST_COUNT ? state_names[s].name : "?";
}

const char *mc_status_state_id(enum mc_status_state s)
{
	return (unsigned)s < MC_ST_COUNT ? state_names[s].id : "unknown";
}

void mc_status_init(struct mc_status *st)
{
	memset(st, 0, sizeof(*st));
}

void mc_status_fini(struct mc_status *st)
{
	if (!st)
		return;
	free(st->dom);
	memset(st, 0, sizeof(*st));
}

static int reserve_doms(struct mc_status *st, size_t want)
{
	struct mc_status_dom *d;

	if (want <= st->cap)
		return 0;
	d = realloc(st->dom, want * sizeof(*d));
	if (!d)
		return -ENOMEM;
	st->dom = d;
	st->cap = want;
	return 0;
}

/* The state by the balance policy's own rules (policy.h), applied to the
 * view the snapshot would make of this sample. */
static enum mc_status_state dom_state(const struct mc_vdom *v,
				      const struct mc_balance_params *p, int64_t now_ns)
{
	if (v->flags & MC_VDOM_PAUSED)
		return MC_ST_PAUSED;
	if (v->flags & MC_VDOM_EXCLUDED)
		return MC_ST_EXCLUDED;
	if (v->flags & MC_VDOM_NO_STATS)
		return MC_ST_NO_STATS;
	if (v->flags & MC_VDOM_UNTRUSTED)
		return MC_ST_UNTRUSTED;
	if (mc_vdom_stale(v, p->stale_samples))
		return MC_ST_STALE;
	if (mc_vdom_stuck(v, p->stuck_ms, p->stuck_recheck_ms, now_ns))
		return MC_ST_STUCK;
	if (mc_vdom_moving_alone(v))
		return MC_ST_MOVING;
	return MC_ST_OK;
}

/* One row. Caller holds the RCU read lock. */
static void fill_dom(struct mc_status_dom *o, const struct mc_domain *d,
		     const struct mc_config *cfg, unsigned long epoch, int64_t now_ns)
{
	const struct mc_sample *sm = rcu_dereference(d->sample);
	const struct mc_last_action *la = rcu_dereference(d->last_action);
	struct mc_dcfg dc;
	struct mc_vdom v;

	memset(o, 0, sizeof(*o));
	mc_strlcpy(o->name, d->name, sizeof(o->name));
	mc_uuid_format(d->uuid, o->uuid);
	o->changes = uatomic_read(&d->changes);
	o->grown_kib = uatomic_read(&d->grown_kib);
	o->shrunk_kib = uatomic_read(&d->shrunk_kib);
	if (la) {
		o->has_action = true;
		o->last.age_ns = now_ns > la->at_ns ? now_ns - la->at_ns : 0;
		o->last.old_kib = la->old_kib;
		o->last.new_kib = la->new_kib;
		o->last.dry_run = la->dry_run;
		mc_strlcpy(o->last.reason, la->reason, sizeof(o->last.reason));
	}
	mc_dcfg_resolve(&dc, cfg, d->uuid, d->name);
	o->weight = dc.weight;
	/* A sample from before a lost connection is not decided on: the
	 * domain waits for its first sample, as at its start. */
	if (!sm || sm->epoch != epoch) {
		o->state = MC_ST_STARTING;
		return;
	}
	mc_vdom_fill(&v, d, sm, &dc, cfg->floor_kib);
	o->has_sample = true;
	o->state = dom_state(&v, &cfg->params.bal, now_ns);
	o->has_headroom = sm->has_stats && !sm->sig.bad &&
			  (v.present & ((1u << MC_STAT_USABLE) | (1u << MC_STAT_UNUSED)));
	o->actual_kib = v.actual_kib;
	o->max_kib = v.max_kib;
	o->floor_kib = v.floor_kib > v.max_kib ? v.max_kib : v.floor_kib;
	o->headroom_kib = o->has_headroom ? v.headroom_kib : 0;
	o->last_target_kib = v.last_set_ns ? v.last_target_kib : 0;
	o->bad_samples = v.bad_samples;
}

static int cmp_dom(const void *a, const void *b)
{
	const struct mc_status_dom *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->uuid, y->uuid);
}

int mc_status_build(struct mc_status *st, struct mc_registry *reg,
		    const struct mc_arbiter_stats *arb, int64_t started_ns,
		    int64_t now_ns)
{
	for (;;) {
		struct cds_lfht_iter iter;
		struct mc_domain *d;
		struct mc_host_sample *hs;
		struct mc_config *cfg;
		unsigned long epoch;
		bool overflow = false;
		size_t n = 0;

		if (reserve_doms(st, mc_registry_count(reg) + 16) < 0)
			return -ENOMEM;
		rcu_read_lock();
		cfg = rcu_dereference(reg->cfg);
		if (!cfg) {
			rcu_read_unlock();
			return -EAGAIN;
		}
		mc_strlcpy(st->policy, cfg->policy, sizeof(st->policy));
		st->dry_run = cfg->dry_run;
		st->low_kib = cfg->params.bal.low_kib;
		st->target_headroom_kib = cfg->params.bal.target_kib;
		st->high_kib = cfg->params.bal.high_kib;
		st->host_reserve_kib = cfg->host_reserve_kib;
		st->budget_kib = cfg->params.bal.budget_kib;
		hs = rcu_dereference(reg->host);
		st->host_known = hs != NULL;
		st->host_total_kib = hs ? hs->mem.total_kib : 0;
		st->host_free_kib = hs ? hs->mem.free_kib : 0;
		epoch = uatomic_read(&reg->epoch);
		cds_lfht_for_each_entry(reg->ht, &iter, d, node) {
			if (n == st->cap) {
				overflow = true;
				break;
			}
			fill_dom(&st->dom[n++], d, cfg, epoch, now_ns);
		}
		rcu_read_unlock();
		if (overflow) {
			/* Domains added while we copied: more room, again. */
			if (reserve_doms(st, st->cap * 2) < 0)
				return -ENOMEM;
			continue;
		}
		st->n = n;
		break;
	}
	qsort(st->dom, st->n, sizeof(*st->dom), cmp_dom);
	st->held_kib = 0;
	for (size_t i = 0; i < st->n; i++)
		st->held_kib += st->dom[i].actual_kib;
	st->now_ns = now_ns;
	st->uptime_ns = now_ns > started_ns ? now_ns - started_ns : 0;
	st->clock_speed = mc_clock_speed();
	if (arb)
		st->arb = *arb;
	else
		memset(&st->arb, 0, sizeof(st->arb));
	st->pass_p50_ns = mc_hist_quantile(&st->arb.pass_ns, 0.5);
	st->pass_p99_ns = mc_hist_quantile(&st->arb.pass_ns, 0.99);
	return 0;
}

/* ---- text ---------------------------------------------------------------- */

/* "45s", "3m04s", "2h05m", "3d04h". */
static const char *fmt_age(char buf[32], int64_t ns)
{
	int64_t s = ns / MC_NS_PER_S;

	if (s < 60)
		snprintf(buf, 32, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, 32, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, 32, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
	else
		snprintf(buf, 32, "%lldd%02lldh", (long long)(s / 86400), (long long)(s / 3600 % 24));
	return buf;
}

/* A latency: "850 us", "12.3 ms" (decision passes take microseconds). */
static const char *fmt_lat(char buf[32], int64_t ns)
{
	if (ns < MC_NS_PER_MS)
		snprintf(buf, 32, "%lld us", (long long)(ns / 1000));
	else
		snprintf(buf, 32, "%lld.%lld ms", (long long)(ns / MC_NS_PER_MS),
			 (long long)(ns % MC_NS_PER_MS / 100000));
	return buf;
}

/* A copy safe for a terminal: control characters become '?'. */
static void printable(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < len; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? '?' : src[i];
	dst[i] = '\0';
}

enum { C_NAME, C_STATE, C_BALLOON, C_MAX, C_FLOOR, C_HEADROOM, C_TARGET, C_ACTION,
       C_REASON, C_N };

static const char *const col_title[C_N] = {
	"NAME", "STATE", "BALLOON", "MAX", "FLOOR", "HEADROOM", "LAST TARGET",
	"LAST ACTION", "REASON",
};
/* Numbers are right-aligned, words left-aligned; the reason, last, is
 * not padded. */
static const bool col_right[C_N] = {
	[C_BALLOON] = true, [C_MAX] = true, [C_FLOOR] = true, [C_HEADROOM] = true,
	[C_TARGET] = true,
};

#define CELL_LEN (MC_NAME_LEN + MC_REASON_LEN)

static void row_cells(const struct mc_status_dom *d, char cell[C_N][CELL_LEN])
{
	char a[32], m1[MC_MIB_STR_LEN], m2[MC_MIB_STR_LEN];

	printable(cell[C_NAME], d->name, CELL_LEN);
	snprintf(cell[C_STATE], CELL_LEN, "%s", mc_status_state_name(d->state));
	if (d->has_sample) {
		mc_fmt_mib(cell[C_BALLOON], d->actual_kib);
		mc_fmt_mib(cell[C_MAX], d->max_kib);
		mc_fmt_mib(cell[C_FLOOR], d->floor_kib);
	} else {
		strcpy(cell[C_BALLOON], "-");
		strcpy(cell[C_MAX], "-");
		strcpy(cell[C_FLOOR], "-");
	}
	if (d->has_headroom)
		mc_fmt_mib(cell[C_HEADROOM], d->headroom_kib);
	else
		strcpy(cell[C_HEADROOM], "-");
	if (d->last_target_kib)
		mc_fmt_mib(cell[C_TARGET], d->last_target_kib);
	else
		strcpy(cell[C_TARGET], "-");
	if (d->has_action) {
		snprintf(cell[C_ACTION], CELL_LEN, "%s%s ago %s -> %s",
			 d->last.dry_run ? "would set, " : "", fmt_age(a, d->last.age_ns),
			 mc_fmt_mib(m1, d->last.old_kib), mc_fmt_mib(m2, d->last.new_kib));
		printable(cell[C_REASON], d->last.reason, CELL_LEN);
	} else {
		strcpy(cell[C_ACTION], "-");
		strcpy(cell[C_REASON], "");
	}
}

void mc_status_print_text(const struct mc_status *st, FILE *out)
{
	char (*cell)[CELL_LEN] = malloc(sizeof(char[C_N][CELL_LEN]));
	char a[32], l1[32], l2[32], m1[MC_MIB_STR_LEN], m2[MC_MIB_STR_LEN],
	     m3[MC_MIB_STR_LEN], m4[MC_MIB_STR_LEN], m5[MC_MIB_STR_LEN];
	size_t width[C_N];
	char policy[sizeof(st->policy)];

	printable(policy, st->policy, sizeof(policy));
	fprintf(out, "memcoord %s, up %s", MC_VERSION, fmt_age(a, st->uptime_ns));
	if (st->clock_speed > 1)
		fprintf(out, " (simulated, %gx)", st->clock_speed);
	fprintf(out, ", policy %s%s, %lu decisions (p50 %s, p99 %s), %lu changes\n",
		policy, st->dry_run ? " (dry run)" : "", st->arb.passes,
		fmt_lat(l1, st->pass_p50_ns), fmt_lat(l2, st->pass_p99_ns), st->arb.applied);
	if (st->host_known)
		fprintf(out, "host: %s MiB total, %s MiB free, reserve %s MiB",
			mc_fmt_mib(m1, st->host_total_kib), mc_fmt_mib(m2, st->host_free_kib),
			mc_fmt_mib(m3, st->host_reserve_kib));
	else
		fprintf(out, "host: not sampled yet, reserve %s MiB",
			mc_fmt_mib(m3, st->host_reserve_kib));
	if (st->budget_kib)
		fprintf(out, ", budget %s MiB", mc_fmt_mib(m4, st->budget_kib));
	else
		fprintf(out, ", no budget");
	fprintf(out, "; %zu domains hold %s MiB\n", st->n, mc_fmt_mib(m5, st->held_kib));
	fprintf(out, "headroom: low %s, target %s, high %s MiB\n\n",
		mc_fmt_mib(m1, st->low_kib), mc_fmt_mib(m2, st->target_headroom_kib),
		mc_fmt_mib(m3, st->high_kib));
	if (!cell) {
		fprintf(out, "(out of memory formatting the domains)\n");
		return;
	}

	for (int c = 0; c < C_N; c++)
		width[c] = strlen(col_title[c]);
	for (size_t i = 0; i < st->n; i++) {
		row_cells(&st->dom[i], cell);
		for (int c = 0; c < C_N; c++)
			if (strlen(cell[c]) > width[c])
				width[c] = strlen(cell[c]);
	}
	for (int c = 0; c < C_N - 1; c++)
		fprintf(out, col_right[c] ? "%*s  " : "%-*s  ", (int)width[c], col_title[c]);
	fprintf(out, "%s\n", col_title[C_N - 1]);
	for (size_t i = 0; i < st->n; i++) {
		row_cells(&st->dom[i], cell);
		for (int c = 0; c < C_N - 1; c++)
			fprintf(out, col_right[c] ? "%*s  " : "%-*s  ", (int)width[c], cell[c]);
		fprintf(out, "%s\n", cell[C_N - 1]);
	}
	if (!st->n)
		fprintf(out, "(no running domains)\n");
	free(cell);
}

/* ---- JSON ------------------------------------------------------------------ */

/* Add v (NULL: allocation failed) to o; on any failure set *nomem. */
static void put(struct json_object *o, const char *key, struct json_object *v, bool *nomem)
{
	if (!o || !v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		*nomem = true;
	}
}

/* A KiB figure, or null when not known. */
static void put_kib(struct json_object *o, const char *key, bool known, uint64_t kib,
		    bool *nomem)
{
	if (!known) {
		if (!o || json_object_object_add(o, key, NULL) < 0)
			*nomem = true;
		return;
	}
	put(o, key, json_object_new_uint64(kib), nomem);
}

static struct json_object *u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

/* Seconds with millisecond precision, printed as such (not as the
 * nearest double's 17 digits). */
static struct json_object *secs(int64_t ns)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld.%03lld", (long long)(ns / MC_NS_PER_S),
		 (long long)(ns % MC_NS_PER_S / MC_NS_PER_MS));
	return json_object_new_double_s((double)ns / MC_NS_PER_S, buf);
}

static struct json_object *dom_json(const struct mc_status_dom *d, bool *nomem)
{
	struct json_object *o = json_object_new_object(), *la;

	if (!o) {
		*nomem = true;
		return NULL;
	}
	put(o, "name", json_object_new_string(d->name), nomem);
	put(o, "uuid", json_object_new_string(d->uuid), nomem);
	put(o, "state", json_object_new_string(mc_status_state_id(d->state)), nomem);
	put_kib(o, "balloon_kib", d->has_sample, d->actual_kib, nomem);
	put_kib(o, "max_kib", d->has_sample, d->max_kib, nomem);
	put_kib(o, "floor_kib", d->has_sample, d->floor_kib, nomem);
	put_kib(o, "headroom_kib", d->has_headroom, d->headroom_kib, nomem);
	put_kib(o, "last_target_kib", d->last_target_kib != 0, d->last_target_kib, nomem);
	put(o, "weight", u64(d->weight), nomem);
	put(o, "changes", u64(d->changes), nomem);
	put(o, "grown_kib", u64(d->grown_kib), nomem);
	put(o, "shrunk_kib", u64(d->shrunk_kib), nomem);
	put(o, "rejected_samples", u64(d->bad_samples), nomem);
	if (d->has_action) {
		la = json_object_new_object();
		put(la, "age_s", secs(d->last.age_ns), nomem);
		put(la, "old_kib", u64(d->last.old_kib), nomem);
		put(la, "new_kib", u64(d->last.new_kib), nomem);
		put(la, "dry_run", json_object_new_boolean(d->last.dry_run), nomem);
		put(la, "reason", json_object_new_string(d->last.reason), nomem);
		put(o, "last_action", la, nomem);
	} else if (json_object_object_add(o, "last_action", NULL) < 0) {
		*nomem = true;
	}
	return o;
}

char *mc_status_to_json(const struct mc_status *st)
{
	struct json_object *root = json_object_new_object(), *o, *doms;
	bool nomem = false;
	char *text = NULL;

	if (!root)
		return NULL;
	put(root, "version", json_object_new_string(MC_VERSION), &nomem);
	put(root, "uptime_s", secs(st->uptime_ns), &nomem);
	{
		char sp[32];

		snprintf(sp, sizeof(sp), "%g", st->clock_speed);
		put(root, "clock_speed", json_object_new_double_s(st->clock_speed, sp), &nomem);
	}
	put(root, "policy", json_object_new_string(st->policy), &nomem);
	put(root, "dry_run", json_object_new_boolean(st->dry_run), &nomem);

	o = json_object_new_object();
	put(o, "low_kib", u64(st->low_kib), &nomem);
	put(o, "target_kib", u64(st->target_headroom_kib), &nomem);
	put(o, "high_kib", u64(st->high_kib), &nomem);
	put(root, "headroom", o, &nomem);

	o = json_object_new_object();
	put(o, "count", u64(st->arb.passes), &nomem);
	put(o, "changes", u64(st->arb.applied), &nomem);
	put(o, "latency_p50_ns", u64((uint64_t)st->pass_p50_ns), &nomem);
	put(o, "latency_p99_ns", u64((uint64_t)st->pass_p99_ns), &nomem);
	put(o, "latency_max_ns", u64((uint64_t)st->arb.pass_ns.max_ns), &nomem);
	put(root, "decisions", o, &nomem);

	o = json_object_new_object();
	put_kib(o, "total_kib", st->host_known, st->host_total_kib, &nomem);
	put_kib(o, "free_kib", st->host_known, st->host_free_kib, &nomem);
	put(o, "reserve_kib", u64(st->host_reserve_kib), &nomem);
	put_kib(o, "budget_kib", st->budget_kib != 0, st->budget_kib, &nomem);
	put(o, "held_kib", u64(st->held_kib), &nomem);
	put(root, "host", o, &nomem);

	doms = json_object_new_array_ext((int)(st->n < 16 ? 16 : st->n));
	for (size_t i = 0; doms && i < st->n && !nomem; i++) {
		struct json_object *d = dom_json(&st->dom[i], &nomem);

		if (d && json_object_array_add(doms, d) < 0) {
			json_object_put(d);
			nomem = true;
		}
	}
	put(root, "domains", doms, &nomem);

	if (!nomem) {
		const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
								     JSON_C_TO_STRING_NOSLASHESCAPE);

		text = s ? strdup(s) : NULL;
	}
	json_object_put(root);
	return text;
}
