/* memcoord — Prometheus metrics (metrics.h).
 *
 * libmicrohttpd runs without threads of its own: memcoord's metrics thread
 * (registered with liburcu, since building a status table reads the
 * registry) polls libmicrohttpd's epoll descriptor and a stop eventfd, and
 * calls MHD_run. The listening socket is memcoord's, so that a bad address
 * or a port in use is reported with its errno. */
#include "memcoord/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <microhttpd.h>

#include "memcoord/config.h"
#include "memcoord/daemon.h"
#include "memcoord/log.h"

#define LISTEN_BACKLOG 16
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- the listen address ---------------------------------------------------- */

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;

	if (mc_parse_u64(s, &v) < 0 || v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int mc_metrics_parse_listen(const char *s, bool allow_remote,
			    struct sockaddr_storage *sa, socklen_t *salen,
			    char *err, size_t errlen)
{
	char host[64];
	const char *port_s;
	uint16_t port;
	bool loopback;

	memset(sa, 0, sizeof(*sa));
	if (!strchr(s, ':')) {
		mc_strlcpy(host, MC_METRICS_DEFAULT_HOST, sizeof(host));
		port_s = s;
	} else if (s[0] == '[') {
		const char *end = strstr(s, "]:");

		if (!end || (size_t)(end - s - 1) >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		port_s = end + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if ((size_t)(colon - s) >= sizeof(host))
			goto bad;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port_s = colon + 1;
	}
	if (parse_port(port_s, &port) < 0)
		goto bad;
	if (strcmp(host, "localhost") == 0)
		mc_strlcpy(host, "127.0.0.1", sizeof(host));
	if (s[0] != '[') {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			goto bad;
		loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
		*salen = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad;
		loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
		*salen = sizeof(*in6);
	}
	if (!loopback && !allow_remote) {
		mc_seterr(err, errlen, "metrics listen address '%s' is not a loopback address;"
		       " add --metrics-allow-remote ([daemon] metrics_allow_remote = true)"
		       " to serve metrics to other hosts", s);
		return -EINVAL;
	}
	return 0;
bad:
	mc_seterr(err, errlen, "metrics listen address '%s' is not PORT, ADDRESS:PORT or"
	       " [IPV6]:PORT with a numeric address and a port 1..65535", s);
	return -EINVAL;
}

/* ---- the exposition text --------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', out), fputc(*s, out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void dom_labels(FILE *out, const struct mc_status_dom *d)
{
	fputs("{domain=\"", out);
	label(out, d->name);
	fprintf(out, "\",uuid=\"%s\"}", d->uuid);
}

/* Buckets of the decision latency, seconds. */
static const double lat_le[] = {
	1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1,
};

enum dom_metric { DM_BALLOON, DM_MAX, DM_FLOOR, DM_HEADROOM, DM_TARGET, DM_STATE,
		  DM_CHANGES, DM_GROWN, DM_SHRUNK, DM_REJECTED, DM_N };

static const struct {
	const char *name, *type, *help;
} dom_metric[DM_N] = {
	[DM_BALLOON] = {"memcoord_domain_balloon_bytes", "gauge", "Current balloon size."},
	[DM_MAX] = {"memcoord_domain_max_bytes", "gauge",
		    "Largest balloon memcoord may give (domain maximum or configured max)."},
	[DM_FLOOR] = {"memcoord_domain_floor_bytes", "gauge",
		      "Smallest balloon memcoord may shrink to."},
	[DM_HEADROOM] = {"memcoord_domain_headroom_bytes", "gauge",
			 "Memory the guest could still use (MemAvailable), when reported."},
	[DM_TARGET] = {"memcoord_domain_last_target_bytes", "gauge",
		       "Balloon target of memcoord's last change (0: none)."},
	[DM_STATE] = {"memcoord_domain_state", "gauge",
		      "1 for the domain's current state (ok, stuck, stale, ...)."},
	[DM_CHANGES] = {"memcoord_domain_changes_total", "counter",
			"Balloon changes applied to the domain."},
	[DM_GROWN] = {"memcoord_domain_grown_bytes_total", "counter",
		      "Memory given to the domain by memcoord's changes."},
	[DM_SHRUNK] = {"memcoord_domain_shrunk_bytes_total", "counter",
		       "Memory taken from the domain by memcoord's changes."},
	[DM_REJECTED] = {"memcoord_domain_rejected_samples_total", "counter",
			 "Statistics samples that failed the sanity checks."},
};

static void dom_value(FILE *out, enum dom_metric m, const struct mc_status_dom *d)
{
	unsigned long long v;

	switch (m) {
	case DM_BALLOON: v = d->actual_kib * 1024; break;
	case DM_MAX: v = d->max_kib * 1024; break;
	case DM_FLOOR: v = d->floor_kib * 1024; break;
	case DM_HEADROOM: v = d->headroom_kib * 1024; break;
	case DM_TARGET: v = d->last_target_kib * 1024; break;
	case DM_CHANGES: v = d->changes; break;
	case DM_GROWN: v = d->grown_kib * 1024; break;
	case DM_SHRUNK: v = d->shrunk_kib * 1024; break;
	case DM_REJECTED: v = d->bad_samples; break;
	case DM_STATE:
	default:
		fprintf(out, "%s{domain=\"", dom_metric[m].name);
		label(out, d->name);
		fprintf(out, "\",uuid=\"%s\",state=\"%s\"} 1\n", d->uuid,
			mc_status_state_id(d->state));
		return;
	}
	fputs(dom_metric[m].name, out);
	dom_labels(out, d);
	fprintf(out, " %llu\n", v);
}

void mc_metrics_write(const struct mc_status *st, FILE *out)
{
	const struct mc_hist *h = &st->arb.pass_ns;

	family(out, "memcoord_build_info", "gauge", "memcoord's version (value 1).");
	fprintf(out, "memcoord_build_info{version=\"%s\"} 1\n", MC_VERSION);
	family(out, "memcoord_uptime_seconds", "gauge",
	       "Time since the daemon started (simulated time under --sim).");
	fprintf(out, "memcoord_uptime_seconds %.3f\n", (double)st->uptime_ns / MC_NS_PER_S);
	family(out, "memcoord_policy_info", "gauge", "The running policy (value 1).");
	fputs("memcoord_policy_info{policy=\"", out);
	label(out, st->policy);
	fprintf(out, "\",dry_run=\"%s\"} 1\n", st->dry_run ? "true" : "false");
	family(out, "memcoord_decisions_total", "counter", "Policy decisions made.");
	fprintf(out, "memcoord_decisions_total %lu\n", st->arb.passes);
	family(out, "memcoord_changes_total", "counter",
	       "Balloon changes applied (or logged in a dry run).");
	fprintf(out, "memcoord_changes_total %lu\n", st->arb.applied);

	family(out, "memcoord_decision_duration_seconds", "histogram",
	       "Time of one decision: snapshot and policy (real time).");
	for (size_t i = 0; i < sizeof(lat_le) / sizeof(lat_le[0]); i++)
		fprintf(out, "memcoord_decision_duration_seconds_bucket{le=\"%g\"} %llu\n",
			lat_le[i], (unsigned long long)mc_hist_count_le(h,
				(int64_t)(lat_le[i] * MC_NS_PER_S)));
	fprintf(out, "memcoord_decision_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)h->count);
	fprintf(out, "memcoord_decision_duration_seconds_sum %.9f\n",
		(double)h->sum_ns / MC_NS_PER_S);
	fprintf(out, "memcoord_decision_duration_seconds_count %llu\n",
		(unsigned long long)h->count);

	if (st->host_known) {
		family(out, "memcoord_host_memory_bytes", "gauge", "The host's total memory.");
		fprintf(out, "memcoord_host_memory_bytes %llu\n",
			(unsigned long long)st->host_total_kib * 1024);
		family(out, "memcoord_host_free_bytes", "gauge",
		       "The host's free memory, as memcoord last sampled it.");
		fprintf(out, "memcoord_host_free_bytes %llu\n",
			(unsigned long long)st->host_free_kib * 1024);
	}
	family(out, "memcoord_host_reserve_bytes", "gauge",
	       "Host memory memcoord never grants to guests.");
	fprintf(out, "memcoord_host_reserve_bytes %llu\n",
		(unsigned long long)st->host_reserve_kib * 1024);
	family(out, "memcoord_budget_bytes", "gauge",
	       "Cap on the sum of all balloons (0: none).");
	fprintf(out, "memcoord_budget_bytes %llu\n", (unsigned long long)st->budget_kib * 1024);
	family(out, "memcoord_domains", "gauge", "Running domains memcoord follows.");
	fprintf(out, "memcoord_domains %zu\n", st->n);
	family(out, "memcoord_balloons_bytes", "gauge", "Sum of the domains' balloons.");
	fprintf(out, "memcoord_balloons_bytes %llu\n", (unsigned long long)st->held_kib * 1024);

	/* Per domain, one family at a time (the format groups a family's
	 * samples). Figures only for domains with a sample. */
	for (int m = 0; m < DM_N; m++) {
		family(out, dom_metric[m].name, dom_metric[m].type, dom_metric[m].help);
		for (size_t i = 0; i < st->n; i++) {
			const struct mc_status_dom *d = &st->dom[i];

			if ((m == DM_BALLOON || m == DM_MAX || m == DM_FLOOR) && !d->has_sample)
				continue;
			if (m == DM_HEADROOM && !d->has_headroom)
				continue;
			dom_value(out, (enum dom_metric)m, d);
		}
	}
}

/* ---- the server ------------------------------------------------------------ */

struct mc_metrics {
	pthread_t thread;
	int lfd, stopfd;
	struct MHD_Daemon *mhd;
	struct mc_daemon *d;
	int64_t started_ns;
	struct mc_status st;     /* the metrics thread's only */
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, char *body,
			     size_t len, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body,
								 MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				code == MHD_HTTP_OK ? CONTENT_TYPE : "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result simple(struct MHD_Connection *conn, unsigned code, const char *text,
			      const char *allow)
{
	char *body = strdup(text);

	return body ? reply(conn, code, body, strlen(body), allow) : MHD_NO;
}

/* Runs on the metrics thread (MHD_run). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	struct mc_metrics *m = cls;
	struct mc_arbiter_stats arb;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)version;
	(void)upload_data;
	(void)req_cls;
	/* A request body is never read: the answer does not depend on it. */
	*upload_data_size = 0;
	if (strcmp(url, "/metrics") != 0)
		return simple(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return simple(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "GET, HEAD");
	mc_daemon_arbiter_stats(m->d, &arb);
	if (mc_status_build(&m->st, mc_daemon_registry(m->d), &arb, m->started_ns,
			    mc_now_ns()) < 0)
		return simple(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "status unavailable\n", NULL);
	f = open_memstream(&text, &len);
	if (!f)
		return MHD_NO;
	mc_metrics_write(&m->st, f);
	if (fclose(f) != 0) {
		free(text);
		return MHD_NO;
	}
	return reply(conn, MHD_HTTP_OK, text, len, NULL);
}

static void *metrics_main(void *arg)
{
	struct mc_metrics *m = arg;
	const union MHD_DaemonInfo *info;
	int efd;

	rcu_register_thread();
	pthread_setname_np(pthread_self(), "mc-metrics");
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	efd = info ? info->epoll_fd : -1;
	for (;;) {
		struct pollfd p[2] = {
			{.fd = m->stopfd, .events = POLLIN},
			{.fd = efd, .events = POLLIN},
		};
		MHD_UNSIGNED_LONG_LONG to;
		int timeout = 1000;

		if (MHD_get_timeout(m->mhd, &to) == MHD_YES && to < 1000)
			timeout = (int)to;
		if (poll(p, 2, timeout) < 0 && errno != EINTR) {
			mc_err("metrics: poll: %s; metrics are no longer served", strerror(errno));
			break;
		}
		if (p[0].revents)
			break;
		MHD_run(m->mhd);
	}
	rcu_unregister_thread();
	return NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	mc_vlog(MC_LOG_DEBUG, fmt, ap);
}

/* The listening socket; shown receives "ADDRESS:PORT" for messages. */
static int listen_socket(const char *addr, bool allow_remote, char shown[80])
{
	struct sockaddr_storage sa;
	socklen_t salen = 0;
	char err[512], host[INET6_ADDRSTRLEN] = "?";
	int fd, one = 1;

	if (mc_metrics_parse_listen(addr, allow_remote, &sa, &salen, err, sizeof(err)) < 0) {
		mc_err("%s", err);
		return -EINVAL;
	}
	if (sa.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(shown, 80, "%s:%u", host, ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(shown, 80, "[%s]:%u", host, ntohs(in6->sin6_port));
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, salen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		int e = errno;

		mc_err("metrics: cannot listen on %s: %s", shown, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

/* Stop libmicrohttpd and close the listening socket: taken back first
 * (quiesce), since whether MHD_stop_daemon closes a socket it was given
 * is not part of its documented contract. */
static void stop_mhd(struct mc_metrics *m)
{
	MHD_socket s = MHD_quiesce_daemon(m->mhd);

	MHD_stop_daemon(m->mhd);
	if (s != MHD_INVALID_SOCKET)
		close(s);
}

int mc_metrics_start(struct mc_metrics **out, const char *addr, bool allow_remote,
		     struct mc_daemon *d, int64_t started_ns)
{
	struct mc_metrics *m = calloc(1, sizeof(*m));
	char shown[80];
	int rc;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	m->d = d;
	m->started_ns = started_ns;
	m->stopfd = -1;
	mc_status_init(&m->st);
	m->lfd = listen_socket(addr, allow_remote, shown);
	if (m->lfd < 0) {
		rc = m->lfd;
		free(m);
		return rc;
	}
	m->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				  on_request, m,
				  MHD_OPTION_LISTEN_SOCKET, m->lfd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)MC_METRICS_MAX_CONNECTIONS,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MC_METRICS_TIMEOUT_S,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_END);
	if (!m->mhd) {
		mc_err("metrics: libmicrohttpd could not start on %s", shown);
		rc = -EIO;
		goto fail;
	}
	m->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->stopfd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = -pthread_create(&m->thread, NULL, metrics_main, m);
	if (rc < 0)
		goto fail;
	mc_info("metrics on http://%s/metrics", shown);
	*out = m;
	return 0;
fail:
	if (rc != -EIO)
		mc_err("metrics: cannot start: %s", strerror(-rc));
	if (m->mhd)
		stop_mhd(m);
	else
		close(m->lfd);
	if (m->stopfd >= 0)
		close(m->stopfd);
	free(m);
	return rc;
}

void mc_metrics_stop(struct mc_metrics *m)
{
	uint64_t one = 1;

	if (!m)
		return;
	if (write(m->stopfd, &one, sizeof(one)) < 0)
		mc_debug("metrics: stop: %s", strerror(errno));
	pthread_join(m->thread, NULL);
	stop_mhd(m);
	close(m->stopfd);
	mc_status_fini(&m->st);
	free(m);
}
