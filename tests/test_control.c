/* The control protocol's request parser (every kind of bad input gets an
 * error and a printable message) and the status table built from a
 * registry: each state by the policy's rules, the last action, the order,
 * the text table and the JSON document (parsed back with json-c). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json_object.h>
#include <json-c/json_tokener.h>

#include "check.h"
#include "memcoord/config.h"
#include "memcoord/control.h"
#include "memcoord/log.h"
#include "memcoord/metrics.h"
#include "memcoord/status.h"

#define MIB(x) ((uint64_t)(x) * 1024)

/* ---- the parser ------------------------------------------------------------ */

static bool printable_msg(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static void parse_ok(const char *buf, size_t len, enum mc_control_cmd want)
{
	struct mc_control_req req;
	char err[256] = "x";
	int rc = mc_control_parse(buf, len, &req, err, sizeof(err));

	if (rc != 0 || req.cmd != want)
		fprintf(stderr, "request '%.*s': rc %d cmd %d (want %d): %s\n", (int)len, buf,
			rc, (int)req.cmd, (int)want, err);
	CHECK(rc == 0);
	CHECK(req.cmd == want);
	CHECK(err[0] == '\0');
}

static void parse_bad(const char *buf, size_t len, int want_rc, const char *want_msg)
{
	struct mc_control_req req;
	char err[256] = "";
	int rc = mc_control_parse(buf, len, &req, err, sizeof(err));

	if (rc != want_rc || !strstr(err, want_msg))
		fprintf(stderr, "request of %zu bytes: rc %d (want %d), '%s' (want '%s')\n",
			len, rc, want_rc, err, want_msg);
	CHECK(rc == want_rc);
	CHECK(strstr(err, want_msg) != NULL);
	CHECK(printable_msg(err));
}

#define OK(s, cmd) parse_ok(s, sizeof(s) - 1, cmd)
#define BAD(s, rc, msg) parse_bad(s, sizeof(s) - 1, rc, msg)

static void test_parser(void)
{
	char *big;
	char small[4];

	OK("status\n", MC_CTL_STATUS_TEXT);
	OK("status", MC_CTL_STATUS_TEXT);            /* ended by shutdown */
	OK("status\r\n", MC_CTL_STATUS_TEXT);
	OK("status json\n", MC_CTL_STATUS_JSON);
	OK("  status \t json  \n", MC_CTL_STATUS_JSON);
	OK("ping\n", MC_CTL_PING);

	BAD("", -EINVAL, "empty request");
	BAD("\n", -EINVAL, "empty request");
	BAD("   \t\r\n", -EINVAL, "empty request");
	BAD("STATUS\n", -EINVAL, "unknown command 'STATUS'");
	BAD("bogus\n", -EINVAL, "unknown command 'bogus'");
	BAD("status xml\n", -EINVAL, "unknown argument 'xml'");
	BAD("status json json\n", -EINVAL, "unknown argument 'json'");
	BAD("ping pong\n", -EINVAL, "no argument");
	BAD("a b c d e\n", -EINVAL, "too many words");
	BAD("status\nstatus\n", -EINVAL, "one request per connection");
	BAD("status\n\n", -EINVAL, "one request per connection");
	BAD("\0status\n", -EINVAL, "binary data");
	BAD("sta\x01tus\n", -EINVAL, "byte 0x01 at 3");
	BAD("status\xff\n", -EINVAL, "byte 0xff");
	BAD("st\x7f" "atus\n", -EINVAL, "binary data");
	BAD("status\rjson\n", -EINVAL, "binary data");
	/* A long unknown word is echoed truncated. */
	BAD("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", -EINVAL,
	    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'");

	/* The limit: MC_CONTROL_MAX_REQUEST bytes, newline included. */
	big = malloc(MC_CONTROL_MAX_REQUEST + 2);
	CHECK(big != NULL);
	if (big) {
		memset(big, ' ', MC_CONTROL_MAX_REQUEST + 1);
		memcpy(big, "status", 6);
		big[MC_CONTROL_MAX_REQUEST - 1] = '\n';
		parse_ok(big, MC_CONTROL_MAX_REQUEST, MC_CTL_STATUS_TEXT);
		big[MC_CONTROL_MAX_REQUEST - 1] = ' ';
		big[MC_CONTROL_MAX_REQUEST] = '\n';
		parse_bad(big, MC_CONTROL_MAX_REQUEST + 1, -EMSGSIZE, "too long");
		free(big);
	}
	/* A tiny error buffer is still terminated. */
	memset(small, 'z', sizeof(small));
	{
		struct mc_control_req req;

		CHECK(mc_control_parse("bogus", 5, &req, small, sizeof(small)) == -EINVAL);
		CHECK(small[3] == '\0');
		CHECK(mc_control_parse("bogus", 5, &req, NULL, 0) == -EINVAL);
	}
}

/* ---- the status table -------------------------------------------------------- */

static struct mc_registry reg;
static struct mc_config cfg;
static int64_t now;

static struct mc_domain *add(const char *name, int idx)
{
	uint8_t uuid[MC_UUID_LEN] = {0};
	struct mc_domain *d;

	uuid[0] = (uint8_t)idx;
	uuid[15] = 0x42;
	d = mc_domain_new(uuid, name);
	CHECK(d != NULL);
	CHECK(mc_registry_add(&reg, d) == 0);
	return d;
}

/* A trusted sample: balloon actual, headroom (usable) h, MiB. */
static struct mc_sample *sample(uint64_t actual_mib, uint64_t h_mib)
{
	struct mc_sample *s = calloc(1, sizeof(*s));

	s->seq = 3;
	s->taken_ns = now - MC_NS_PER_S / 2;
	s->has_stats = true;
	s->state = MC_DOM_RUNNING;
	s->max_kib = MIB(2048);
	s->stats.present = (1u << MC_STAT_ACTUAL) | (1u << MC_STAT_USABLE) |
			   (1u << MC_STAT_UNUSED) | (1u << MC_STAT_LAST_UPDATE);
	s->stats.val[MC_STAT_ACTUAL] = MIB(actual_mib);
	s->stats.val[MC_STAT_USABLE] = MIB(h_mib);
	s->stats.val[MC_STAT_UNUSED] = MIB(h_mib) / 2;
	s->stats.val[MC_STAT_LAST_UPDATE] = 1000;
	s->sig.has_rates = true;
	s->sig.headroom_kib = MIB(h_mib);
	return s;
}

static const struct mc_status_dom *find(const struct mc_status *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->dom[i].name, name) == 0)
			return &st->dom[i];
	return NULL;
}

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static void test_status(void)
{
	struct mc_dom_cfg ex = {.key = "ex", .exclude = true};
	struct mc_arbiter_stats arb;
	struct mc_status st;
	struct mc_domain *d;
	struct mc_sample *s;
	struct mc_last_action *la;
	struct cds_lfht_iter iter;
	char *text = NULL, *json;
	size_t tlen = 0;
	FILE *f;

	now = 100 * MC_NS_PER_S;
	CHECK(mc_registry_init(&reg) == 0);
	mc_config_defaults(&cfg);
	cfg.host_reserve_kib = MIB(512);
	cfg.params.bal.budget_kib = MIB(8192);
	cfg.doms = &ex;
	cfg.ndoms = 1;
	cfg.gen = 1;

	mc_status_init(&st);
	CHECK(mc_status_build(&st, &reg, NULL, 0, now) == -EAGAIN);   /* no cfg yet */
	rcu_assign_pointer(reg.cfg, &cfg);

	/* ok, with a last action and counters */
	d = add("web", 1);
	mc_domain_publish(d, sample(1024, 300));
	la = calloc(1, sizeof(*la));
	la->at_ns = now - 12 * MC_NS_PER_S;
	la->old_kib = MIB(1000);
	la->new_kib = MIB(1024);
	strcpy(la->reason, "grow: first");
	mc_domain_publish_action(d, la);
	la = calloc(1, sizeof(*la));   /* replaces it; the first goes by call_rcu */
	la->at_ns = now - 2 * MC_NS_PER_S;
	la->old_kib = MIB(1000);
	la->new_kib = MIB(1024);
	strcpy(la->reason, "grow: usable 100 MiB < low 128 MiB");
	mc_domain_publish_action(d, la);
	d->last_set_ns = la->at_ns;
	d->last_target_kib = MIB(1024);
	d->changes = 2;
	d->grown_kib = MIB(24);

	d = add("paused", 2);
	s = sample(512, 100);
	s->state = MC_DOM_PAUSED;
	mc_domain_publish(d, s);

	d = add("ex", 3);                 /* excluded by its [domain:ex] section */
	mc_domain_publish(d, sample(512, 100));

	d = add("silent", 4);
	s = sample(768, 0);
	s->has_stats = false;
	s->stats.present = 1u << MC_STAT_ACTUAL;
	mc_domain_publish(d, s);

	d = add("liar", 5);
	s = sample(512, 100);
	s->sig.bad = 0x1;
	s->bad_total = 7;
	mc_domain_publish(d, s);

	d = add("frozen", 6);
	s = sample(512, 100);
	s->sig.stale_samples = cfg.params.bal.stale_samples;
	mc_domain_publish(d, s);

	/* Told 1024 MiB 6 s ago (stuck after 5 s), still at 1536. */
	d = add("stuck", 7);
	mc_domain_publish(d, sample(1536, 1200));
	d->last_set_ns = now - 6 * MC_NS_PER_S;
	d->last_target_kib = MIB(1024);

	/* Told 1 s ago: on its way, not stuck yet. */
	d = add("moving", 8);
	mc_domain_publish(d, sample(1536, 1200));
	d->last_set_ns = now - 1 * MC_NS_PER_S;
	d->last_target_kib = MIB(1024);

	add("new", 9);                     /* no sample yet */

	/* A sample from before a lost connection: waiting again. */
	d = add("old", 10);
	s = sample(512, 100);
	s->epoch = 0;
	mc_domain_publish(d, s);
	uatomic_inc(&reg.epoch);
	/* the others' samples are of the current epoch */
	rcu_read_lock();
	cds_lfht_for_each_entry(reg.ht, &iter, d, node) {
		s = rcu_dereference(d->sample);
		if (s && strcmp(d->name, "old") != 0)
			s->epoch = 1;
	}
	rcu_read_unlock();

	memset(&arb, 0, sizeof(arb));
	arb.passes = 40;
	arb.applied = 3;
	for (int i = 0; i < 40; i++)
		mc_hist_add(&arb.pass_ns, i < 39 ? 20000 : 900000);

	CHECK(mc_status_build(&st, &reg, &arb, 10 * MC_NS_PER_S, now) == 0);
	CHECK(st.n == 10);
	CHECK(st.uptime_ns == 90 * MC_NS_PER_S);
	CHECK(strcmp(st.policy, "balance") == 0);
	CHECK(st.arb.passes == 40);
	CHECK(st.pass_p50_ns >= 20000 && st.pass_p50_ns < 23000);
	CHECK(st.pass_p99_ns >= 900000 && st.pass_p99_ns < 1000000);
	CHECK(st.host_reserve_kib == MIB(512));
	CHECK(st.budget_kib == MIB(8192));
	CHECK(!st.host_known);
	for (size_t i = 1; i < st.n; i++)
		CHECK(strcmp(st.dom[i - 1].name, st.dom[i].name) < 0);

	CHECK(find(&st, "web") && find(&st, "web")->state == MC_ST_OK);
	CHECK(find(&st, "paused") && find(&st, "paused")->state == MC_ST_PAUSED);
	CHECK(find(&st, "ex") && find(&st, "ex")->state == MC_ST_EXCLUDED);
	CHECK(find(&st, "silent") && find(&st, "silent")->state == MC_ST_NO_STATS);
	CHECK(find(&st, "liar") && find(&st, "liar")->state == MC_ST_UNTRUSTED);
	CHECK(find(&st, "frozen") && find(&st, "frozen")->state == MC_ST_STALE);
	CHECK(find(&st, "stuck") && find(&st, "stuck")->state == MC_ST_STUCK);
	CHECK(find(&st, "moving") && find(&st, "moving")->state == MC_ST_OK);
	CHECK(find(&st, "new") && find(&st, "new")->state == MC_ST_STARTING);
	CHECK(find(&st, "old") && find(&st, "old")->state == MC_ST_STARTING);
	if (find(&st, "web")) {
		const struct mc_status_dom *w = find(&st, "web");

		CHECK(w->actual_kib == MIB(1024));
		CHECK(w->max_kib == MIB(2048));
		CHECK(w->floor_kib == MIB(MC_DEF_FLOOR_MIB));
		CHECK(w->has_headroom && w->headroom_kib == MIB(300));
		CHECK(w->last_target_kib == MIB(1024));
		CHECK(w->has_action && w->last.age_ns == 2 * MC_NS_PER_S);
		CHECK(strcmp(w->last.reason, "grow: usable 100 MiB < low 128 MiB") == 0);
		CHECK(w->changes == 2 && w->grown_kib == MIB(24));
	}
	CHECK(find(&st, "silent") && !find(&st, "silent")->has_headroom);
	CHECK(find(&st, "liar") && find(&st, "liar")->bad_samples == 7);
	CHECK(find(&st, "new") && !find(&st, "new")->has_sample);
	/* Held: every sampled balloon of this connection. */
	CHECK(st.held_kib == MIB(1024 + 512 + 512 + 768 + 512 + 512 + 1536 + 1536));

	/* The table. */
	f = open_memstream(&text, &tlen);
	CHECK(f != NULL);
	mc_status_print_text(&st, f);
	fclose(f);
	CHECK(strstr(text, "policy balance") != NULL);
	CHECK(strstr(text, "40 decisions") != NULL);
	CHECK(strstr(text, "reserve 512 MiB, budget 8192 MiB") != NULL);
	CHECK(strstr(text, "NAME") && strstr(text, "STATE") && strstr(text, "HEADROOM"));
	CHECK(strstr(text, "2s ago 1000 -> 1024") != NULL);
	CHECK(strstr(text, "no stats") != NULL);
	{
		/* Columns align: "STATE" starts where each row's state does. */
		const char *hdr = strstr(text, "NAME");
		const char *row = strstr(text, "\nweb ");
		size_t col = (size_t)(strstr(hdr, "STATE") - hdr);

		CHECK(row != NULL);
		if (row)
			CHECK(strncmp(row + 1 + col, "ok ", 3) == 0);
	}
	free(text);

	/* The JSON document. */
	json = mc_status_to_json(&st);
	CHECK(json != NULL);
	{
		struct json_object *root = json_tokener_parse(json), *doms, *w = NULL;

		CHECK(root != NULL);
		CHECK(json_object_get_int64(jget(jget(root, "decisions"), "count")) == 40);
		CHECK(json_object_get_int64(jget(jget(root, "host"), "reserve_kib")) ==
		      (int64_t)MIB(512));
		CHECK(json_object_is_type(jget(jget(root, "host"), "free_kib"), json_type_null));
		doms = jget(root, "domains");
		CHECK(json_object_is_type(doms, json_type_array));
		CHECK(json_object_array_length(doms) == 10);
		for (size_t i = 0; doms && i < json_object_array_length(doms); i++) {
			struct json_object *o = json_object_array_get_idx(doms, i);

			if (strcmp(json_object_get_string(jget(o, "name")), "web") == 0)
				w = o;
			if (strcmp(json_object_get_string(jget(o, "name")), "silent") == 0) {
				CHECK(strcmp(json_object_get_string(jget(o, "state")), "no_stats") == 0);
				CHECK(json_object_is_type(jget(o, "headroom_kib"), json_type_null));
			}
		}
		CHECK(w != NULL);
		CHECK(strcmp(json_object_get_string(jget(w, "state")), "ok") == 0);
		CHECK(json_object_get_int64(jget(w, "balloon_kib")) == (int64_t)MIB(1024));
		CHECK(json_object_get_int64(jget(w, "changes")) == 2);
		CHECK(json_object_get_double(jget(jget(w, "last_action"), "age_s")) == 2.0);
		CHECK(strcmp(json_object_get_string(jget(jget(w, "last_action"), "reason")),
			     "grow: usable 100 MiB < low 128 MiB") == 0);
		CHECK(strlen(json_object_get_string(jget(w, "uuid"))) == 36);
		json_object_put(root);
	}
	free(json);

	/* The metrics text from the same table. */
	text = NULL;
	f = open_memstream(&text, &tlen);
	CHECK(f != NULL);
	mc_metrics_write(&st, f);
	fclose(f);
	CHECK(strstr(text, "# TYPE memcoord_decisions_total counter\nmemcoord_decisions_total 40\n") != NULL);
	CHECK(strstr(text, "memcoord_decision_duration_seconds_bucket{le=\"2.5e-05\"} 39\n") != NULL);
	CHECK(strstr(text, "memcoord_decision_duration_seconds_bucket{le=\"1\"} 40\n") != NULL);
	CHECK(strstr(text, "memcoord_decision_duration_seconds_count 40\n") != NULL);
	CHECK(strstr(text, "memcoord_decision_duration_seconds_sum 0.001680000\n") != NULL);
	CHECK(strstr(text, "memcoord_domain_balloon_bytes{domain=\"web\",uuid=\"") != NULL);
	CHECK(strstr(text, "state=\"stuck\"} 1\n") != NULL);
	CHECK(strstr(text, "memcoord_domain_changes_total{domain=\"web\"") != NULL);
	CHECK(strstr(text, "memcoord_domains 10\n") != NULL);
	CHECK(strstr(text, "memcoord_host_memory_bytes") == NULL);   /* not sampled */
	free(text);

	/* Teardown: every record and what it points to, after a grace period. */
	mc_status_fini(&st);
	rcu_read_lock();
	cds_lfht_for_each_entry(reg.ht, &iter, d, node) {
		if (mc_registry_del(&reg, d) == 0)
			mc_domain_free_rcu(d);
	}
	rcu_read_unlock();
	rcu_barrier();
	reg.cfg = NULL;
	mc_registry_destroy(&reg);
}

static void listen_ok(const char *s, bool remote, int family, uint16_t port)
{
	struct sockaddr_storage sa;
	socklen_t len = 0;
	char err[300] = "";
	int rc = mc_metrics_parse_listen(s, remote, &sa, &len, err, sizeof(err));

	if (rc)
		fprintf(stderr, "listen '%s': %s\n", s, err);
	CHECK(rc == 0);
	CHECK(sa.ss_family == family);
	CHECK(ntohs(family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port
				      : ((struct sockaddr_in6 *)&sa)->sin6_port) == port);
}

static void listen_bad(const char *s, bool remote, const char *msg)
{
	struct sockaddr_storage sa;
	socklen_t len = 0;
	char err[300] = "";

	CHECK(mc_metrics_parse_listen(s, remote, &sa, &len, err, sizeof(err)) == -EINVAL);
	if (!strstr(err, msg))
		fprintf(stderr, "listen '%s': '%s' (want '%s')\n", s, err, msg);
	CHECK(strstr(err, msg) != NULL);
}

static void test_listen(void)
{
	listen_ok("9687", false, AF_INET, 9687);
	listen_ok("127.0.0.1:9687", false, AF_INET, 9687);
	listen_ok("127.1.2.3:1", false, AF_INET, 1);
	listen_ok("localhost:65535", false, AF_INET, 65535);
	listen_ok("[::1]:9687", false, AF_INET6, 9687);
	listen_ok("0.0.0.0:9687", true, AF_INET, 9687);
	listen_ok("[::]:9687", true, AF_INET6, 9687);
	listen_bad("0.0.0.0:9687", false, "not a loopback address");
	listen_bad("192.168.1.5:9687", false, "--metrics-allow-remote");
	listen_bad("[::]:9687", false, "not a loopback address");
	listen_bad("0", false, "port 1..65535");
	listen_bad("65536", false, "port 1..65535");
	listen_bad("127.0.0.1:", false, "is not PORT");
	listen_bad("127.0.0.1:80x", false, "is not PORT");
	listen_bad("example.com:80", true, "numeric address");
	listen_bad("[::1:80", false, "is not PORT");
	listen_bad("::1:80", false, "is not PORT");
	listen_bad("", false, "is not PORT");
}

/* ---- the socket: who is told, and how loudly ------------------------------ */

/* Run start(path, optional) with stderr in a file; return the file's text
 * (static buffer) and the result in *rc. */
static const char *start_logged(const char *path, bool optional, int *rc,
				struct mc_control **c)
{
	static char buf[4096];
	char log[] = "/tmp/test_control.log.XXXXXX";
	int fd = mkstemp(log), saved = dup(STDERR_FILENO);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0 || saved < 0)
		return buf;
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	mc_log_set_target(MC_LOG_TARGET_STDERR);
	*rc = mc_control_start(c, path, NULL, 0, optional);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(log);
	return buf;
}

/* A socket in use: the explicit path is an error, the default one (the
 * daemon's convenience, optional) only a warning — a memcoord started by
 * hand beside the service must not log errors for it. */
static void test_socket_in_use(void)
{
	char dir[] = "/tmp/test_control.XXXXXX", path[64];
	struct mc_control *first = NULL, *second = NULL;
	const char *out;
	int rc = 0;

	if (!mkdtemp(dir)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		CHECK(0);
		return;
	}
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	out = start_logged(path, false, &rc, &first);
	if (rc != 0 || !first)
		fprintf(stderr, "first socket: rc %d: %s\n", rc, out);
	CHECK(rc == 0 && first);
	out = start_logged(path, true, &rc, &second);
	if (!(rc == -EADDRINUSE && !second && strstr(out, "<4>control socket: ") &&
	      strstr(out, "is in use") && !strstr(out, "<3>")))
		fprintf(stderr, "default socket in use: want a warning, no error line (rc %d): %s\n",
			rc, out);
	CHECK(rc == -EADDRINUSE && !second && strstr(out, "<4>control socket: ") &&
	      strstr(out, "is in use") && !strstr(out, "<3>"));
	out = start_logged(path, false, &rc, &second);
	if (!(rc == -EADDRINUSE && !second && strstr(out, "<3>control socket: ") &&
	      strstr(out, "is in use")))
		fprintf(stderr, "explicit socket in use: want an error line (rc %d): %s\n", rc, out);
	CHECK(rc == -EADDRINUSE && !second && strstr(out, "<3>control socket: ") &&
	      strstr(out, "is in use"));
	mc_control_stop(first);
	rmdir(dir);
}

int main(void)
{
	rcu_register_thread();
	test_parser();
	test_listen();
	test_status();
	test_socket_in_use();
	rcu_unregister_thread();
	if (check_failures)
		fprintf(stderr, "%d check(s) failed\n", check_failures);
	return check_failures ? 1 : 0;
}
