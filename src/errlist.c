/* memcoord — collecting many problems into one message buffer. */
#include "memcoord/errlist.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Room kept at the end for "(N more problems not shown)". */
#define TRAILER_ROOM 48

void mc_errlist_init(struct mc_errlist *e, char *buf, size_t cap)
{
	memset(e, 0, sizeof(*e));
	e->buf = buf;
	e->cap = buf ? cap : 0;
	if (buf && cap)
		buf[0] = '\0';
}

void mc_errlist_add(struct mc_errlist *e, const char *fmt, ...)
{
	char line[640];
	size_t l, need;
	va_list ap;

	e->n++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	l = strlen(line);
	need = l + (e->len ? 1 : 0) + 1 + TRAILER_ROOM;
	if (!e->buf || e->len + need > e->cap) {
		e->dropped++;
		return;
	}
	if (e->len)
		e->buf[e->len++] = '\n';
	memcpy(e->buf + e->len, line, l + 1);
	e->len += l;
}

void mc_errlist_finish(struct mc_errlist *e)
{
	if (e->dropped && e->buf && e->cap > e->len + 1)
		snprintf(e->buf + e->len, e->cap - e->len, "%s(%u more problem%s not shown)",
			 e->len ? "\n" : "", e->dropped, e->dropped == 1 ? "" : "s");
}
