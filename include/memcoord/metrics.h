/* memcoord — Prometheus metrics over HTTP (libmicrohttpd), off by default.
 *
 * GET (or HEAD) /metrics answers the text exposition format (version
 * 0.0.4), built from the same status table as the control socket
 * (status.h): read-only. Other paths get 404, other methods 405. One
 * thread of memcoord's own (RCU-registered) drives libmicrohttpd through
 * its epoll descriptor. Names and labels: docs/operations.md. */
#ifndef MEMCOORD_METRICS_H
#define MEMCOORD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "memcoord/status.h"

#define MC_METRICS_DEFAULT_HOST "127.0.0.1"
/* Scrapers served at once, and how long an idle one is kept (s). */
#define MC_METRICS_MAX_CONNECTIONS 16
#define MC_METRICS_TIMEOUT_S 10

/* Parse a listen address: "PORT" (127.0.0.1:PORT), "IPV4:PORT",
 * "localhost:PORT" or "[IPV6]:PORT"; numeric addresses only. A
 * non-loopback address is refused unless allow_remote. Returns 0, or
 * -EINVAL with a message in err. */
int mc_metrics_parse_listen(const char *s, bool allow_remote,
			    struct sockaddr_storage *sa, socklen_t *salen,
			    char *err, size_t errlen);

/* The exposition text for st, written to out. */
void mc_metrics_write(const struct mc_status *st, FILE *out);

struct mc_daemon;
struct mc_metrics;

/* Listen on addr (already validated) and start the thread. Errors are
 * logged. */
int mc_metrics_start(struct mc_metrics **out, const char *addr, bool allow_remote,
		     struct mc_daemon *d, int64_t started_ns);
/* Stop and join. Accepts NULL. */
void mc_metrics_stop(struct mc_metrics *m);

#endif
