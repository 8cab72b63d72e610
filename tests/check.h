/* memcoord tests — a minimal check macro: report and keep going. */
#ifndef MEMCOORD_TEST_CHECK_H
#define MEMCOORD_TEST_CHECK_H

#include <stdio.h>

static int check_failures;

#define CHECK(expr)                                                          \
	do {                                                                 \
		if (!(expr)) {                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n",        \
				__FILE__, __LINE__, #expr);                  \
			check_failures++;                                    \
		}                                                            \
	} while (0)

#define TEST_SKIP 77

#endif
