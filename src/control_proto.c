/* memcoord — the control protocol's request parser (control.h). Its input
 * comes from any local client that can reach the socket: every byte is
 * checked, nothing is trusted, nothing is allocated. */
#include "memcoord/control.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "memcoord/util.h"

/* At most this many words in a request ("status json"). */
#define MAX_WORDS 4
/* At most this much of a bad word is echoed back. */
#define SHOW_LEN 32

struct word {
	const char *p;
	size_t len;
};

static bool word_is(const struct word *w, const char *s)
{
	return w->len == strlen(s) && memcmp(w->p, s, w->len) == 0;
}

/* The words have been checked to be printable ASCII: safe to echo. */
static int bad_word(const char *what, const struct word *w, char *err, size_t errlen)
{
	mc_seterr(err, errlen, "%s '%.*s%s' (known: status, status json, ping)", what,
	       (int)(w->len > SHOW_LEN ? SHOW_LEN : w->len), w->p,
	       w->len > SHOW_LEN ? "..." : "");
	return -EINVAL;
}

int mc_control_parse(const char *buf, size_t len, struct mc_control_req *req,
		     char *err, size_t errlen)
{
	struct word w[MAX_WORDS];
	size_t nw = 0, i = 0;

	if (err && errlen)
		err[0] = '\0';
	memset(req, 0, sizeof(*req));
	if (len > MC_CONTROL_MAX_REQUEST) {
		mc_seterr(err, errlen, "request too long (at most %d bytes)", MC_CONTROL_MAX_REQUEST);
		return -EMSGSIZE;
	}
	/* One line: the newline, if any, ends the buffer. */
	if (len && buf[len - 1] == '\n')
		len--;
	if (len && buf[len - 1] == '\r')
		len--;
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)buf[k];

		if (c == '\n') {
			mc_seterr(err, errlen, "one request per connection");
			return -EINVAL;
		}
		if ((c < 0x20 && c != '\t') || c >= 0x7f) {
			mc_seterr(err, errlen, "binary data in the request (byte 0x%02x at %zu)", c, k);
			return -EINVAL;
		}
	}
	while (i < len) {
		size_t start;

		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (nw == MAX_WORDS) {
			mc_seterr(err, errlen, "too many words in the request");
			return -EINVAL;
		}
		start = i;
		while (i < len && buf[i] != ' ' && buf[i] != '\t')
			i++;
		w[nw].p = buf + start;
		w[nw].len = i - start;
		nw++;
	}
	if (nw == 0) {
		mc_seterr(err, errlen, "empty request (known: status, status json, ping)");
		return -EINVAL;
	}
	if (word_is(&w[0], "ping")) {
		if (nw > 1)
			return bad_word("ping takes no argument, got", &w[1], err, errlen);
		req->cmd = MC_CTL_PING;
		return 0;
	}
	if (!word_is(&w[0], "status"))
		return bad_word("unknown command", &w[0], err, errlen);
	if (nw == 1) {
		req->cmd = MC_CTL_STATUS_TEXT;
		return 0;
	}
	if (nw > 2 || !word_is(&w[1], "json"))
		return bad_word("status: unknown argument", &w[1], err, errlen);
	req->cmd = MC_CTL_STATUS_JSON;
	return 0;
}
