/* libFuzzer target: the control socket's request parser. Any bytes, any
 * length (the server passes at most MC_CONTROL_MAX_REQUEST + 1): the
 * parser must return 0 with a known command, or an error with a message
 * that is printable and terminated — never crash, read out of bounds or
 * leave the message unterminated. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memcoord/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mc_control_req req;
	char err[256];
	/* An exact-size copy, so that ASan sees any read past the end. */
	char *buf = malloc(size ? size : 1);
	int rc;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(err, 'x', sizeof(err));
	rc = mc_control_parse(buf, size, &req, err, sizeof(err));
	if (rc == 0) {
		if (req.cmd != MC_CTL_STATUS_TEXT && req.cmd != MC_CTL_STATUS_JSON &&
		    req.cmd != MC_CTL_PING)
			abort();
		if (err[0] != '\0')
			abort();
	} else {
		size_t n = strnlen(err, sizeof(err));

		if (rc != -EINVAL && rc != -EMSGSIZE)
			abort();
		if (n == 0 || n == sizeof(err))
			abort();
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
				abort();
	}
	free(buf);
	return 0;
}
