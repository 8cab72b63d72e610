/* memcoord fuzz targets — shared helpers: a failed invariant aborts (so
 * libFuzzer records the input as a crash), and a reader that turns the
 * fuzzer's bytes into numbers (zeros once they run out). */
#ifndef MEMCOORD_FUZZ_H
#define MEMCOORD_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond, ...)                                                   \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__,  \
				__LINE__, #cond);                                \
			fprintf(stderr, __VA_ARGS__);                            \
			fputc('\n', stderr);                                     \
			abort();                                                 \
		}                                                                \
	} while (0)

struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline uint64_t fuzz_bytes(struct fuzz_in *in, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		v <<= 8;
		if (in->left) {
			v |= *in->p++;
			in->left--;
		}
	}
	return v;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in) { return (uint8_t)fuzz_bytes(in, 1); }
static inline uint32_t fuzz_u32(struct fuzz_in *in) { return (uint32_t)fuzz_bytes(in, 4); }
static inline uint64_t fuzz_u64(struct fuzz_in *in) { return fuzz_bytes(in, 8); }

/* Uniform-ish in [lo, hi]. */
static inline uint64_t fuzz_range(struct fuzz_in *in, uint64_t lo, uint64_t hi)
{
	uint64_t v = fuzz_u64(in);

	if (hi <= lo)
		return lo;
	if (hi - lo == UINT64_MAX)
		return v;
	return lo + v % (hi - lo + 1);
}

/* Every line of a message list is printable: no control characters but the
 * newlines between lines (a hostile file must not write to a terminal or
 * a log through memcoord's messages). NULL if so, else the offending line. */
static inline const char *fuzz_unprintable_line(const char *msg)
{
	const char *line = msg;

	for (const char *p = msg; *p; p++) {
		if (*p == '\n') {
			line = p + 1;
			continue;
		}
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return line;
	}
	return NULL;
}

/* Every line starts with prefix, but for the "(N more problems not shown)"
 * trailer. NULL if so, else the offending line. */
static inline const char *fuzz_unprefixed_line(const char *msg, const char *prefix)
{
	size_t pl = strlen(prefix);

	for (const char *line = msg; *line;) {
		const char *nl = strchr(line, '\n');

		if (strncmp(line, prefix, pl) && line[0] != '(')
			return line;
		if (!nl)
			break;
		line = nl + 1;
	}
	return NULL;
}

#endif
