/* memcoord — the decision trace, as CSV (see trace.h). */
#include "memcoord/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mc_trace {
	FILE *f;
	int64_t t0_ns;
	int *action_of;      /* per view domain: index into the plan, or -1 */
	size_t cap;
};

int mc_trace_open(struct mc_trace **out, const char *path)
{
	struct mc_trace *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->f = fopen(path, "w");
	if (!t->f) {
		int e = errno;

		free(t);
		return -e;
	}
	fputs("time_s,domain,actual_mib,usable_mib,unused_mib,target_mib,action,reason\n", t->f);
	t->t0_ns = -1;
	*out = t;
	return 0;
}

/* CSV field: quoted, inner quotes doubled, no newlines. */
static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
	}
	fputc('"', f);
}

static double mib(uint64_t kib)
{
	return (double)kib / 1024.0;
}

void mc_trace_pass(struct mc_trace *t, int64_t now_ns, const struct mc_view *v,
		   const struct mc_vmeta *meta, const struct mc_plan *p,
		   const struct mc_applied *res)
{
	double ts;

	if (!t)
		return;
	if (t->t0_ns < 0)
		t->t0_ns = now_ns;
	ts = (double)(now_ns - t->t0_ns) / 1e9;
	if (v->n > t->cap) {
		int *a = realloc(t->action_of, v->n * sizeof(*a));

		if (!a)
			return;   /* a trace row lost is not worth failing a pass */
		t->action_of = a;
		t->cap = v->n;
	}
	for (size_t i = 0; i < v->n; i++)
		t->action_of[i] = -1;
	for (size_t k = 0; k < p->n; k++)
		if (p->act[k].dom < v->n)
			t->action_of[p->act[k].dom] = (int)k;

	fprintf(t->f, "%.3f,_host,%.1f,%.1f,%.1f,,none,\n", ts, mib(v->host.total_kib),
		mib(v->host.free_kib), mib(v->host.free_kib));
	for (size_t i = 0; i < v->n; i++) {
		const struct mc_vdom *d = &v->dom[i];
		int k = t->action_of[i];
		const char *action = "none", *reason = "";
		char text[MC_REASON_LEN];
		uint64_t target = d->actual_kib;

		if (k >= 0) {
			const struct mc_action *a = &p->act[k];

			reason = mc_reason_format(a, text, sizeof(text));
			if (res && res[k].status == MC_APPLIED_SKIPPED)
				action = "skipped";
			else if (res && res[k].status == MC_APPLIED_FAILED)
				action = "failed";
			else {
				target = res ? res[k].target_kib : a->target_kib;
				action = target > d->actual_kib ? "grow"
				       : target < d->actual_kib ? "shrink" : "none";
			}
		}
		fprintf(t->f, "%.3f,", ts);
		put_quoted(t->f, meta ? meta[i].name : "?");
		fprintf(t->f, ",%.1f,%.1f,%.1f,%.1f,%s,", mib(d->actual_kib),
			mib(d->headroom_kib ? d->headroom_kib : d->usable_kib),
			mib(d->unused_kib), mib(target), action);
		if (k >= 0 && res && res[k].why && res[k].status != MC_APPLIED) {
			char buf[MC_REASON_LEN + 64];

			snprintf(buf, sizeof(buf), "%s [%s]", reason, res[k].why);
			put_quoted(t->f, buf);
		} else {
			put_quoted(t->f, reason);
		}
		fputc('\n', t->f);
	}
}

void mc_trace_close(struct mc_trace *t)
{
	if (!t)
		return;
	fclose(t->f);
	free(t->action_of);
	free(t);
}
