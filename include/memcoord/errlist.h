/* memcoord — collecting many problems into one message buffer.
 *
 * Parsers and validators report every problem they find, one per line, in a
 * caller's fixed buffer; when it is full the rest are counted and a closing
 * "(N more problems not shown)" line says so. */
#ifndef MEMCOORD_ERRLIST_H
#define MEMCOORD_ERRLIST_H

#include <stddef.h>

struct mc_errlist {
	char *buf;          /* may be NULL: problems are only counted */
	size_t len, cap;
	unsigned n;         /* problems reported */
	unsigned dropped;   /* of which not shown for lack of room */
};

/* An empty list writing into buf[cap] (buf may be NULL). */
void mc_errlist_init(struct mc_errlist *e, char *buf, size_t cap);
/* Add one problem as a line (at most 640 characters). */
void mc_errlist_add(struct mc_errlist *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append the "(N more problems not shown)" line if any were dropped. */
void mc_errlist_finish(struct mc_errlist *e);

#endif
