/* memcoord — `memcoord status`: the control socket's client.
 *
 *   memcoord status [--json] [--watch [SECONDS]] [--control-socket PATH]
 *
 * Asks the daemon for its status table and prints it: as text (the table
 * the daemon formats), or with --json as a JSON document (checked and
 * indented with json-c). --watch repeats every SECONDS (default 1) on a
 * cleared screen until SIGINT. Exit status: 0, 1 when the daemon cannot be
 * asked or answers with an error, 2 for a bad command line. */
#include "memcoord/control.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Not <json-c/json.h>: its debug.h declares functions named like
 * memcoord's log macros (mc_debug, mc_info). */
#include <json-c/json_object.h>
#include <json-c/json_tokener.h>

#include "memcoord/config.h"
#include "memcoord/util.h"

/* How long the daemon has to answer (it answers in milliseconds). */
#define REPLY_TIMEOUT_MS 10000
/* The largest reply read: far above 100,000 domains' worth. */
#define MAX_REPLY (256u << 20)
#define MAX_WATCH_S 86400

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
"Usage: memcoord status [--json] [--watch [SECONDS]] [--control-socket PATH]\n"
"Shows what the running memcoord daemon knows: every domain's balloon,\n"
"maximum, floor, headroom, state and last change, and the host's memory.\n"
"\n"
"      --json                one JSON document instead of the table\n"
"      --watch [SECONDS]     refresh every SECONDS (default 1) until Ctrl-C\n"
"      --control-socket PATH the daemon's socket (default: [daemon]\n"
"                            control_socket in %s, else\n"
"                            %s)\n"
"  -h, --help                this help\n",
		MC_DEFAULT_CONFIG_PATH, MC_CONTROL_DEFAULT_PATH);
}

/* Seconds, decimals allowed, 0.1 to a day. */
static int parse_interval(const char *s, int64_t *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.1 && v <= MAX_WATCH_S))
		return -EINVAL;
	*ms = (int64_t)(v * 1000 + 0.5);
	return 0;
}

/* The socket the daemon uses when none is given: the configuration
 * file's, if it is readable and sets one; else the default. A file the
 * client cannot read is no error (the daemon may run as another user). */
static char *default_socket(void)
{
	struct mc_config c;
	char err[256];
	char *path = NULL;

	mc_config_defaults(&c);
	if (mc_config_load_file(&c, MC_DEFAULT_CONFIG_PATH, err, sizeof(err)) == 0 &&
	    c.control_socket)
		path = strdup(c.control_socket);
	mc_config_free(&c);
	return path ? path : strdup(MC_CONTROL_DEFAULT_PATH);
}

static void explain_connect(const char *path, int e, char *msg, size_t len)
{
	switch (e) {
	case ENOENT:
		snprintf(msg, len, "cannot connect to %s: no such socket; is the memcoord "
			 "daemon running? (another socket: --control-socket PATH)", path);
		break;
	case ECONNREFUSED:
		snprintf(msg, len, "cannot connect to %s: nobody is listening; the memcoord "
			 "daemon is not running (the socket was left behind)", path);
		break;
	case EACCES:
	case EPERM:
		snprintf(msg, len, "cannot connect to %s: permission denied; the socket is "
			 "owner-only: run this as the daemon's user (usually root)", path);
		break;
	default:
		snprintf(msg, len, "cannot connect to %s: %s", path, strerror(e));
		break;
	}
}

/* Send one request and read the whole reply. Returns the body of an "ok"
 * reply (malloc'd), or NULL with msg set. */
static char *ask(const char *path, const char *request, char *msg, size_t len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = 0, cap = 0;
	char *buf = NULL, *body;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(msg, len, "the socket path %s is too long", path);
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(msg, len, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		explain_connect(path, errno, msg, len);
		goto fail;
	}
	if (send(fd, request, strlen(request), MSG_NOSIGNAL) != (ssize_t)strlen(request)) {
		snprintf(msg, len, "sending to %s: %s", path, strerror(errno));
		goto fail;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;
		int pr = poll(&p, 1, REPLY_TIMEOUT_MS);

		if (pr < 0 && errno == EINTR) {
			if (interrupted)
				goto fail_quiet;
			continue;
		}
		if (pr <= 0) {
			snprintf(msg, len, "no answer from %s within %d s", path,
				 REPLY_TIMEOUT_MS / 1000);
			goto fail;
		}
		if (cap - n < 65536) {
			char *b;

			cap = cap ? cap * 2 : 65536 * 2;
			if (cap > MAX_REPLY + 1 || !(b = realloc(buf, cap))) {
				snprintf(msg, len, "the reply from %s is too large", path);
				goto fail;
			}
			buf = b;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(msg, len, "reading from %s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (!buf) {
		snprintf(msg, len, "%s closed the connection without an answer", path);
		return NULL;
	}
	buf[n] = '\0';
	if (strncmp(buf, "ok\n", 3) == 0) {
		body = strdup(buf + 3);
		free(buf);
		if (!body)
			snprintf(msg, len, "out of memory");
		return body;
	}
	if (strncmp(buf, "error: ", 7) == 0) {
		char *nl = strchr(buf, '\n');

		if (nl)
			*nl = '\0';
		snprintf(msg, len, "the daemon answered: %.400s", buf + 7);
	} else {
		snprintf(msg, len, "unexpected answer from %s", path);
	}
	free(buf);
	return NULL;
fail_quiet:
	msg[0] = '\0';
fail:
	free(buf);
	close(fd);
	return NULL;
}

/* The text to show for one fetch, malloc'd, or NULL with msg set. */
static char *fetch(const char *path, bool json, char *msg, size_t len)
{
	struct json_tokener *tok;
	struct json_object *doc;
	char *body = ask(path, json ? "status json\n" : "status\n", msg, len);
	char *out;

	if (!body || !json)
		return body;
	/* Checked and indented: what a machine reads is valid JSON. */
	tok = json_tokener_new();
	doc = tok ? json_tokener_parse_ex(tok, body, (int)strlen(body)) : NULL;
	if (!doc || json_tokener_get_error(tok) != json_tokener_success) {
		snprintf(msg, len, "the daemon's JSON is invalid: %s",
			 tok ? json_tokener_error_desc(json_tokener_get_error(tok)) : "out of memory");
		json_object_put(doc);
		json_tokener_free(tok);
		free(body);
		return NULL;
	}
	json_tokener_free(tok);
	free(body);
	if (asprintf(&out, "%s\n", json_object_to_json_string_ext(doc,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		out = NULL;
	json_object_put(doc);
	if (!out)
		snprintf(msg, len, "out of memory");
	return out;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};

	/* SIGINT cuts the sleep short (no SA_RESTART). */
	nanosleep(&ts, NULL);
}

static int watch(const char *path, bool json, int64_t every_ms)
{
	struct sigaction sa = {.sa_handler = on_sigint};
	bool first = true;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!interrupted) {
		char msg[640];
		char *text = fetch(path, json, msg, sizeof(msg));

		if (interrupted) {
			free(text);
			break;
		}
		if (!text && first) {
			fprintf(stderr, "memcoord status: %s\n", msg);
			return 1;
		}
		first = false;
		/* Home and clear, then the frame in one write. */
		fputs("\033[H\033[2J", stdout);
		if (text)
			fputs(text, stdout);
		else
			printf("memcoord status: %s\n(retrying every %lld ms; Ctrl-C to quit)\n",
			       msg, (long long)every_ms);
		fflush(stdout);
		free(text);
		sleep_ms(every_ms);
	}
	return 0;
}

int mc_status_client_main(int argc, char **argv)
{
	const char *path_opt = NULL;
	bool json = false, watching = false;
	int64_t every_ms = 1000;
	char *path, *text, msg[640];
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--watch") == 0) {
			watching = true;
			/* An optional value: the next word, if it is a number. */
			if (i + 1 < argc && parse_interval(argv[i + 1], &every_ms) == 0)
				i++;
			else if (i + 1 < argc && argv[i + 1][0] != '-') {
				fprintf(stderr, "memcoord status: --watch: '%s' is not a number of"
					" seconds (0.1 to %d)\n", argv[i + 1], MAX_WATCH_S);
				return 2;
			}
		} else if (strncmp(a, "--watch=", 8) == 0) {
			watching = true;
			if (parse_interval(a + 8, &every_ms) < 0) {
				fprintf(stderr, "memcoord status: --watch: '%s' is not a number of"
					" seconds (0.1 to %d)\n", a + 8, MAX_WATCH_S);
				return 2;
			}
		} else if (strcmp(a, "--control-socket") == 0) {
			if (i + 1 >= argc || !argv[i + 1][0]) {
				fprintf(stderr, "memcoord status: --control-socket needs a path\n");
				return 2;
			}
			path_opt = argv[++i];
		} else if (strncmp(a, "--control-socket=", 17) == 0 && a[17]) {
			path_opt = a + 17;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "memcoord status: unknown option '%s' (see --help)\n", a);
			return 2;
		}
	}
	path = path_opt ? strdup(path_opt) : default_socket();
	if (!path) {
		fprintf(stderr, "memcoord status: out of memory\n");
		return 1;
	}
	if (strcmp(path, "none") == 0) {
		fprintf(stderr, "memcoord status: the control socket is disabled"
			" (control_socket = none); give its path with --control-socket\n");
		free(path);
		return 1;
	}
	if (watching) {
		rc = watch(path, json, every_ms);
		free(path);
		return rc;
	}
	text = fetch(path, json, msg, sizeof(msg));
	if (!text) {
		fprintf(stderr, "memcoord status: %s\n", msg);
		free(path);
		return 1;
	}
	fputs(text, stdout);
	free(text);
	free(path);
	return 0;
}
