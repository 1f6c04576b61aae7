/* The few macros every unit test uses. A failed CHECK prints where and what,
 * and the test goes on so one run shows every failure; check_done() prints
 * the summary line and gives main()'s return value (1 on a failure or when
 * nothing was checked), check_skip() the one for a test that cannot run. */
#ifndef EGRESS_TEST_CHECK_H
#define EGRESS_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/prefix.h"

static int check_passed, check_failed;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (cond) {                                                                      \
			check_passed++;                                                          \
		} else {                                                                         \
			check_failed++;                                                          \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                                \
	} while (0)

#define CHECK_INT(got, want)                                                                  \
	do {                                                                                  \
		long long g_ = (long long)(got), w_ = (long long)(want);                      \
		if (g_ == w_) {                                                               \
			check_passed++;                                                       \
		} else {                                                                      \
			check_failed++;                                                       \
			fprintf(stderr, "%s:%d: %s is %lld, want %lld\n", __FILE__, __LINE__, \
			        #got, g_, w_);                                                \
		}                                                                             \
	} while (0)

#define CHECK_STR(got, want)                                                                      \
	do {                                                                                      \
		const char *g_ = (got), *w_ = (want);                                             \
		if (g_ && w_ && strcmp(g_, w_) == 0) {                                            \
			check_passed++;                                                           \
		} else {                                                                          \
			check_failed++;                                                           \
			fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n", __FILE__, __LINE__, \
			        #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");                    \
		}                                                                                 \
	} while (0)

#define CHECK_MEM(got, want, len)                                                                \
	do {                                                                                     \
		if (memcmp((got), (want), (len)) == 0) {                                         \
			check_passed++;                                                          \
		} else {                                                                         \
			check_failed++;                                                          \
			fprintf(stderr, "%s:%d: %s differs from %s\n", __FILE__, __LINE__, #got, \
			        #want);                                                          \
		}                                                                                \
	} while (0)

/* Hex string (no spaces) to bytes; returns the number of bytes. */
static inline size_t check_unhex(unsigned char *out, size_t cap, const char *hex)
{
	size_t n = 0;

	while (hex[0] && hex[1] && n < cap) {
		unsigned v;
		sscanf(hex, "%2x", &v);
		out[n++] = (unsigned char)v;
		hex += 2;
	}
	return n;
}

/* A prefix written in a test, "ADDRESS" (the full length) or "ADDRESS/LEN" as
 * prefix_parse() reads it; a typo is counted as a failure and gives family 0. */
static inline struct prefix check_prefix(const char *s)
{
	struct prefix p;

	memset(&p, 0, sizeof(p));
	if (prefix_parse(&p, s, AF_UNSPEC) < 0) {
		fprintf(stderr, "cannot parse the test's prefix %s\n", s);
		check_failed++;
	}
	return p;
}

/* The whole of TEST_DATA_DIR/name (a golden file), malloc'd; NULL, said on
 * stderr, when it cannot be read. */
static inline char *check_read_data(const char *name)
{
	char path[512], *buf = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "%s: cannot open\n", path);
		return NULL;
	}
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* A test that checked nothing proves nothing: zero checks fail. */
static inline int check_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
	if (check_passed + check_failed == 0) {
		fprintf(stderr, "%s: no check ran; a test that checks nothing fails\n", name);
		return 1;
	}
	return check_failed ? 1 : 0;
}

/* What main() returns for a test that cannot run here; tests/CMakeLists.txt
 * gives it to ctest as SKIP_RETURN_CODE, so ctest reports the test as
 * skipped rather than passed. */
#define CHECK_SKIPPED 77

/* The whole test cannot run on this machine: says why, loudly, and gives
 * main()'s return value. ctest skips whole tests only, so a case that may
 * be impossible here is a test of its own (see test_config's "hostname"),
 * never a quiet return in the middle of one that reports "passed". */
static inline int check_skip(const char *name, const char *why)
{
	if (check_failed)
		return check_done(name);
	fprintf(stderr, "%s: SKIPPED, not run: %s\n", name, why);
	printf("%s: SKIPPED (%d checks had run)\n", name, check_passed + check_failed);
	return CHECK_SKIPPED;
}

#endif
