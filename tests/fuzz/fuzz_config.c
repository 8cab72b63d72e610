/* Fuzz target: the configuration file (config_file.c), fed from memory.
 *
 * Any input: the loader returns 0 or -EINVAL, never crashes; a rejected file
 * has messages, an accepted one none; every message line names the file
 * ("fuzz:LINE: ...") and is printable (values are echoed escaped). An
 * accepted file survives the --check-config round trip: printing it and
 * reading the print back gives the same print, every [domain:] section is
 * found by its key, validation and a deep copy do not crash. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memcoord/config.h"

#include "fuzz.h"

#define NAME "fuzz"

static char err[16384];

/* Load text[len] over the defaults. */
static int load(struct mc_config *c, const void *text, size_t len)
{
	FILE *f = fmemopen((void *)text, len, "r");
	int rc;

	FUZZ_ASSERT(f != NULL, "fmemopen of %zu bytes", len);
	mc_config_defaults(c);
	rc = mc_config_load_stream(c, f, NAME, err, sizeof(err));
	fclose(f);
	return rc;
}

static char *print(const struct mc_config *c, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	FUZZ_ASSERT(f != NULL, "open_memstream");
	mc_config_print(c, f);
	fclose(f);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mc_config c, back, copy;
	const char *bad;
	char *text, *text2;
	size_t len, len2;
	int rc;

	rc = load(&c, data, size);
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL, "rc %d", rc);
	FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL, "unterminated message");
	FUZZ_ASSERT((rc == 0) == (err[0] == '\0'), "rc %d with message \"%s\"", rc, err);
	bad = fuzz_unprefixed_line(err, NAME ":");
	FUZZ_ASSERT(!bad, "message without the file name: \"%s\"", bad);
	bad = fuzz_unprintable_line(err);
	FUZZ_ASSERT(!bad, "unprintable message: \"%s\"", bad);
	if (rc < 0) {
		mc_config_free(&c);
		return 0;
	}
	FUZZ_ASSERT(c.config_path == NULL, "the stream loader set config_path");

	for (size_t i = 0; i < c.ndoms; i++) {
		const struct mc_dom_cfg *d = &c.doms[i];

		FUZZ_ASSERT(mc_config_find_domain(&c, d->by_uuid ? d->uuid : NULL,
						  d->by_uuid ? NULL : d->key) == d,
			    "[domain:%s] not found by its own key", d->key);
	}
	mc_config_validate(&c, err, sizeof(err));
	FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL, "unterminated message");

	/* --check-config prints a file that reads back to itself. */
	text = print(&c, &len);
	rc = load(&back, text, len);
	FUZZ_ASSERT(rc == 0, "the printed configuration does not load: %s\n%s", err, text);
	text2 = print(&back, &len2);
	FUZZ_ASSERT(len == len2 && memcmp(text, text2, len) == 0,
		    "the printed configuration reads back differently:\n%s\n----\n%s", text, text2);
	free(text);
	free(text2);
	mc_config_free(&back);

	FUZZ_ASSERT(mc_config_copy(&copy, &c) == 0, "copy failed");
	mc_config_free(&copy);
	mc_config_free(&c);
	return 0;
}
