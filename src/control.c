/* memcoord — the control socket's server thread (control.h).
 *
 * One thread polls the listening socket, a stop eventfd and at most
 * MC_CONTROL_MAX_CLIENTS clients, all non-blocking. A client sends one
 * request line, gets one reply and is closed; one that is too slow either
 * way is dropped after MC_CONTROL_CLIENT_TIMEOUT_MS. Replies are built from
 * a status table copied out of the registry (status.h): the thread only
 * reads daemon state, and never waits on the arbiter or the collectors
 * beyond the arbiter's figures lock, held for a copy. */
#include "memcoord/control.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "memcoord/daemon.h"
#include "memcoord/log.h"
#include "memcoord/status.h"

/* Connections waiting to be accepted. */
#define LISTEN_BACKLOG 16

struct client {
	int fd;                       /* -1: free slot */
	int64_t deadline_ns;          /* real clock */
	size_t inlen;
	char in[MC_CONTROL_MAX_REQUEST + 1];  /* one byte more: "too long" */
	char *out;                    /* the reply, once the request is in */
	size_t outlen, outoff;
	bool draining;                /* replied: discard input until EOF */
};

struct mc_control {
	pthread_t thread;
	int lfd, stopfd;
	char *path;
	dev_t dev;                    /* of the socket file we bound */
	ino_t ino;
	struct mc_daemon *d;
	int64_t started_ns;
	bool optional;                /* the default path: failures are warnings */
	struct mc_status st;          /* reused between requests */
	struct client cl[MC_CONTROL_MAX_CLIENTS];
};

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->inlen = c->outlen = c->outoff = 0;
	c->draining = false;
}

/* "error: MESSAGE\n", or NULL without memory. */
static char *error_reply(const char *msg)
{
	char *r = NULL;

	if (asprintf(&r, "error: %s\n", msg) < 0)
		return NULL;
	return r;
}

/* The reply to a request, malloc'd; *len its length. NULL without memory. */
static char *make_reply(struct mc_control *c, const struct mc_control_req *req, size_t *len)
{
	struct mc_arbiter_stats arb;
	char *text = NULL, *r = NULL;
	size_t tlen = 0;
	FILE *f;
	int rc;

	if (req->cmd == MC_CTL_PING) {
		r = strdup("ok\npong\n");
		*len = r ? strlen(r) : 0;
		return r;
	}
	mc_daemon_arbiter_stats(c->d, &arb);
	rc = mc_status_build(&c->st, mc_daemon_registry(c->d), &arb, c->started_ns, mc_now_ns());
	if (rc < 0) {
		r = error_reply(rc == -EAGAIN ? "the daemon is starting; try again"
				: "out of memory");
		*len = r ? strlen(r) : 0;
		return r;
	}
	if (req->cmd == MC_CTL_STATUS_JSON) {
		char *json = mc_status_to_json(&c->st);

		if (json && asprintf(&r, "ok\n%s\n", json) < 0)
			r = NULL;
		free(json);
		*len = r ? strlen(r) : 0;
		return r;
	}
	f = open_memstream(&text, &tlen);
	if (!f)
		return NULL;
	fputs("ok\n", f);
	mc_status_print_text(&c->st, f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	*len = tlen;
	return text;
}

/* The request is complete (newline, end of input or full buffer): parse
 * it and queue the reply. */
static void client_request(struct mc_control *c, struct client *cl)
{
	struct mc_control_req req;
	char err[256];

	if (mc_control_parse(cl->in, cl->inlen, &req, err, sizeof(err)) < 0) {
		mc_debug("control: rejected a request: %s", err);
		cl->out = error_reply(err);
		cl->outlen = cl->out ? strlen(cl->out) : 0;
	} else {
		cl->out = make_reply(c, &req, &cl->outlen);
	}
	if (!cl->out)
		client_close(cl);
}

static void client_read(struct mc_control *c, struct client *cl)
{
	ssize_t n = recv(cl->fd, cl->in + cl->inlen, sizeof(cl->in) - cl->inlen, MSG_DONTWAIT);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			client_close(cl);
		return;
	}
	if (n == 0) {                /* the client shut down its side */
		client_request(c, cl);
		return;
	}
	cl->inlen += (size_t)n;
	if (memchr(cl->in + cl->inlen - (size_t)n, '\n', (size_t)n) ||
	    cl->inlen == sizeof(cl->in))
		client_request(c, cl);
}

static void client_write(struct client *cl)
{
	ssize_t n = send(cl->fd, cl->out + cl->outoff, cl->outlen - cl->outoff,
			 MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			client_close(cl);
		return;
	}
	cl->outoff += (size_t)n;
	if (cl->outoff < cl->outlen)
		return;
	/* Closing a UNIX socket with unread input resets the peer, which
	 * may then lose the reply (an oversized request, say): end our side
	 * and read the rest to the client's end (or the deadline). */
	free(cl->out);
	cl->out = NULL;
	if (shutdown(cl->fd, SHUT_WR) < 0)
		client_close(cl);
	else
		cl->draining = true;
}

static void client_drain(struct client *cl)
{
	char sink[4096];
	ssize_t n = recv(cl->fd, sink, sizeof(sink), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		client_close(cl);
}

static void accept_clients(struct mc_control *c)
{
	for (;;) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *free_slot = NULL;

		if (fd < 0)
			return;     /* EAGAIN, or a client gone before accept */
		for (int i = 0; i < MC_CONTROL_MAX_CLIENTS; i++)
			if (c->cl[i].fd < 0) {
				free_slot = &c->cl[i];
				break;
			}
		if (!free_slot) {
			static const char busy[] = "error: busy, try again\n";

			/* Best effort: the reply fits any socket buffer. */
			char sink[MC_CONTROL_MAX_REQUEST];

			if (send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				mc_debug("control: busy reply: %s", strerror(errno));
			/* What the client sent already, read so that closing
			 * does not reset it before it reads the reply. */
			shutdown(fd, SHUT_WR);
			while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
				;
			close(fd);
			continue;
		}
		free_slot->fd = fd;
		free_slot->inlen = 0;
		free_slot->deadline_ns = mc_real_now_ns() +
					 MC_CONTROL_CLIENT_TIMEOUT_MS * MC_NS_PER_MS;
	}
}

static void *control_main(void *arg)
{
	struct mc_control *c = arg;
	struct pollfd pfd[2 + MC_CONTROL_MAX_CLIENTS];
	int slot[2 + MC_CONTROL_MAX_CLIENTS];

	rcu_register_thread();
	pthread_setname_np(pthread_self(), "mc-control");
	for (;;) {
		int64_t now = mc_real_now_ns(), next = INT64_MAX;
		int n = 2, timeout;

		pfd[0] = (struct pollfd){.fd = c->stopfd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = c->lfd, .events = POLLIN};
		for (int i = 0; i < MC_CONTROL_MAX_CLIENTS; i++) {
			struct client *cl = &c->cl[i];

			if (cl->fd < 0)
				continue;
			if (now >= cl->deadline_ns) {
				mc_debug("control: a client timed out");
				client_close(cl);
				continue;
			}
			if (cl->deadline_ns < next)
				next = cl->deadline_ns;
			pfd[n] = (struct pollfd){.fd = cl->fd,
						 .events = cl->out ? POLLOUT : POLLIN};
			slot[n++] = i;
		}
		timeout = next == INT64_MAX ? -1
			: (int)((next - now) / MC_NS_PER_MS + 1);
		if (poll(pfd, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			mc_err("control: poll: %s; the control socket stops answering",
			       strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		for (int k = 2; k < n; k++) {
			struct client *cl = &c->cl[slot[k]];

			if (!pfd[k].revents)
				continue;
			if (cl->draining)
				client_drain(cl);
			else if (cl->out)
				client_write(cl);
			else if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
				client_read(c, cl);
		}
		if (pfd[1].revents & POLLIN)
			accept_clients(c);
	}
	for (int i = 0; i < MC_CONTROL_MAX_CLIENTS; i++)
		client_close(&c->cl[i]);
	rcu_unregister_thread();
	return NULL;
}

/* The socket's directory, created 0700 when missing (only the last
 * component: /run itself must exist). */
static int make_dir(const char *path, enum mc_log_level lvl)
{
	char *dir = strdup(path), *slash;
	int rc = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			rc = -errno;
			mc_log(lvl, "control socket: cannot create the directory %s: %s", dir,
			       strerror(errno));
		}
	}
	free(dir);
	return rc;
}

/* A socket file already at the path: another daemon's if it answers, else
 * left by one that is gone, and replaced. */
static int clear_old(const char *path, const struct sockaddr_un *sa,
		     enum mc_log_level lvl)
{
	struct stat sb;
	int fd, rc;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(sb.st_mode)) {
		mc_log(lvl, "control socket: %s exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (rc == 0) {
		mc_log(lvl, "control socket: %s is in use (another memcoord is running?)", path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		mc_log(lvl, "control socket: cannot remove the old socket %s: %s", path,
		       strerror(errno));
		return -errno;
	}
	return 0;
}

static int open_socket(struct mc_control *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat sb;
	mode_t old;
	int rc;
	/* The default socket is a convenience: its failures are warnings. */
	enum mc_log_level lvl = c->optional ? MC_LOG_WARNING : MC_LOG_ERR;

	if (strlen(c->path) >= sizeof(sa.sun_path)) {
		mc_log(lvl, "control socket: the path %s is too long (at most %zu bytes)", c->path,
		       sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	rc = make_dir(c->path, lvl);
	if (rc < 0)
		return rc;
	rc = clear_old(c->path, &sa, lvl);
	if (rc < 0)
		return rc;
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->lfd < 0)
		goto fail;
	/* The socket file takes its mode from the umask at bind: owner-only
	 * from its first instant. A file another thread creates meanwhile
	 * would only be more private than asked. */
	old = umask(0177);
	rc = bind(c->lfd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0)
		goto fail;
	if (chmod(c->path, 0600) < 0 || stat(c->path, &sb) < 0 ||
	    listen(c->lfd, LISTEN_BACKLOG) < 0) {
		rc = -errno;
		unlink(c->path);
		errno = -rc;
		goto fail;
	}
	c->dev = sb.st_dev;
	c->ino = sb.st_ino;
	return 0;
fail:
	rc = -errno;
	mc_log(lvl, "control socket %s: %s", c->path, strerror(errno));
	return rc;
}

int mc_control_start(struct mc_control **out, const char *path, struct mc_daemon *d,
		     int64_t started_ns, bool optional)
{
	struct mc_control *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->lfd = c->stopfd = -1;
	c->d = d;
	c->started_ns = started_ns;
	c->optional = optional;
	mc_status_init(&c->st);
	for (int i = 0; i < MC_CONTROL_MAX_CLIENTS; i++)
		c->cl[i].fd = -1;
	c->path = strdup(path);
	if (!c->path) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = open_socket(c);
	if (rc < 0)
		goto fail;
	c->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->stopfd < 0) {
		rc = -errno;
		goto fail_unlink;
	}
	rc = -pthread_create(&c->thread, NULL, control_main, c);
	if (rc < 0)
		goto fail_unlink;
	mc_info("control socket %s", c->path);
	*out = c;
	return 0;
fail_unlink:
	mc_err("control socket: cannot start its thread: %s", strerror(-rc));
	unlink(c->path);
fail:
	if (c->stopfd >= 0)
		close(c->stopfd);
	if (c->lfd >= 0)
		close(c->lfd);
	free(c->path);
	free(c);
	return rc;
}

void mc_control_stop(struct mc_control *c)
{
	uint64_t one = 1;
	struct stat sb;

	if (!c)
		return;
	/* An eventfd write fails only when the counter would overflow. */
	if (write(c->stopfd, &one, sizeof(one)) < 0)
		mc_debug("control: stop: %s", strerror(errno));
	pthread_join(c->thread, NULL);
	close(c->stopfd);
	close(c->lfd);
	/* Remove the socket unless another daemon has replaced it since. */
	if (lstat(c->path, &sb) == 0 && sb.st_dev == c->dev && sb.st_ino == c->ino)
		unlink(c->path);
	mc_status_fini(&c->st);
	free(c->path);
	free(c);
}
