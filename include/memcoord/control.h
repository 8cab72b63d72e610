/* memcoord — the control socket: a read-only status service on a UNIX
 * stream socket, and its protocol.
 *
 * Protocol (one request per connection, documented in docs/operations.md):
 * the client sends one line of at most MC_CONTROL_MAX_REQUEST bytes,
 * newline included (a line ended by the client's shutdown is accepted too);
 * the server answers
 *     "ok\n" followed by the body, or
 *     "error: MESSAGE\n"
 * and closes the connection. Requests:
 *     status          the status table as text
 *     status json     the status table as one JSON document
 *     ping            body "pong\n"
 * Words are separated by blanks; a trailing "\r" is ignored. Nothing a
 * client sends can change the daemon: there is no writing request. */
#ifndef MEMCOORD_CONTROL_H
#define MEMCOORD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_CONTROL_DEFAULT_PATH "/run/memcoord/memcoord.sock"
/* The longest request, newline included. */
#define MC_CONTROL_MAX_REQUEST 4096
/* Clients served at once; more are answered "error: busy" and closed. */
#define MC_CONTROL_MAX_CLIENTS 8
/* A client has this long (real time) to send its request and read the
 * reply; then it is dropped. */
#define MC_CONTROL_CLIENT_TIMEOUT_MS 5000

enum mc_control_cmd {
	MC_CTL_STATUS_TEXT = 1,
	MC_CTL_STATUS_JSON,
	MC_CTL_PING,
};

struct mc_control_req {
	enum mc_control_cmd cmd;
};

/* Parse one request: len bytes of buf, which need not be NUL-terminated
 * and may hold anything. At most one line: a newline must be the last
 * byte if there is one. Pure: no allocation, no I/O. Returns 0 with *req
 * filled, or -EINVAL (malformed, binary, unknown command) or -EMSGSIZE
 * (longer than MC_CONTROL_MAX_REQUEST), with a message for the client in
 * err (always terminated when errlen > 0). */
int mc_control_parse(const char *buf, size_t len, struct mc_control_req *req,
		     char *err, size_t errlen);

struct mc_daemon;
struct mc_control;

/* Create the socket at path (its directory is created 0700 when missing;
 * the socket is 0600) and start the server thread, which answers from the
 * daemon's registry and arbiter figures. A socket file left by a daemon
 * that is gone is replaced; a live one is not (-EADDRINUSE). Errors are
 * logged: as warnings when `optional` (the default path), else as errors. */
int mc_control_start(struct mc_control **out, const char *path, struct mc_daemon *d,
		     int64_t started_ns, bool optional);
/* Stop and join the thread, remove the socket. Accepts NULL. */
void mc_control_stop(struct mc_control *c);

/* memcoord status [--json] [--watch [SECONDS]] [--control-socket PATH]:
 * the client, argv[0] being "status". Returns the exit status. */
int mc_status_client_main(int argc, char **argv);

#endif
