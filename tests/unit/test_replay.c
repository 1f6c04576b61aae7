/* The replay window against the table of the Linux kernel's WireGuard counter
 * self-test (selftest/counter.c), with its window size as ours. */
#include <stdint.h>

#include "tests/unit/check.h"
#include "tunnel/replay.h"

#define T_LIM (REPLAY_WINDOW_SIZE + 1)
#define RAM   REPLAY_REJECT_AFTER_MESSAGES

static struct replay r;

static void t(uint64_t n, bool want, int line)
{
	bool got = replay_accept(&r, n);

	if (got == want) {
		check_passed++;
	} else {
		check_failed++;
		fprintf(stderr, "%s:%d: replay_accept(%llu) is %d, want %d\n", __FILE__, line,
		        (unsigned long long)n, got, want);
	}
}
#define T(n, want) t((n), (want), __LINE__)

static void table(void)
{
	replay_init(&r);
	T(0, true);
	T(1, true);
	T(1, false);
	T(9, true);
	T(8, true);
	T(7, true);
	T(7, false);
	T(T_LIM, true);
	T(T_LIM - 1, true);
	T(T_LIM - 1, false);
	T(T_LIM - 2, true);
	T(2, true);
	T(2, false);
	T(T_LIM + 16, true);
	T(3, false);
	T(T_LIM + 16, false);
	T(T_LIM * 4, true);
	T(T_LIM * 4 - (T_LIM - 1), true);
	T(10, false);
	T(T_LIM * 4 - T_LIM, false);
	T(T_LIM * 4 - (T_LIM + 1), false);
	T(T_LIM * 4 - (T_LIM - 2), true);
	T(T_LIM * 4 + 1 - T_LIM, false);
	T(0, false);
	T(RAM, false);
	T(RAM - 1, true);
	T(RAM, false);
	T(RAM - 1, false);
	T(RAM - 2, true);
	T(RAM + 1, false);
	T(RAM + 2, false);
	T(RAM - 2, false);
	T(RAM - 3, true);
	T(0, false);
}

static void sweeps(void)
{
	uint64_t i;

	/* A full window ahead of 0, then 0 is still inside. */
	replay_init(&r);
	for (i = 1; i <= REPLAY_WINDOW_SIZE; i++)
		T(i, true);
	T(0, true);
	T(0, false);

	/* One more and 0 has fallen out; 1 has not. */
	replay_init(&r);
	for (i = 2; i <= REPLAY_WINDOW_SIZE + 1; i++)
		T(i, true);
	T(1, true);
	T(0, false);

	/* Arriving in reverse order across the whole window. */
	replay_init(&r);
	for (i = REPLAY_WINDOW_SIZE + 1; i-- > 0;)
		T(i, true);

	replay_init(&r);
	for (i = REPLAY_WINDOW_SIZE + 2; i-- > 1;)
		T(i, true);
	T(0, false);

	replay_init(&r);
	for (i = REPLAY_WINDOW_SIZE + 1; i-- > 1;)
		T(i, true);
	T(REPLAY_WINDOW_SIZE + 1, true);
	T(0, false);

	replay_init(&r);
	for (i = REPLAY_WINDOW_SIZE + 1; i-- > 1;)
		T(i, true);
	T(0, true);
	T(REPLAY_WINDOW_SIZE + 1, true);
}

static void limits(void)
{
	/* The limit holds even for a first packet, and a jump far ahead wipes
	 * the whole ring without touching memory past it. */
	replay_init(&r);
	T(REPLAY_REJECT_AFTER_MESSAGES, false);
	T(UINT64_MAX, false);
	T(REPLAY_REJECT_AFTER_MESSAGES - 1, true);
	T(REPLAY_REJECT_AFTER_MESSAGES - 1 - REPLAY_WINDOW_SIZE, true);
	T(REPLAY_REJECT_AFTER_MESSAGES - 2 - REPLAY_WINDOW_SIZE, false);

	replay_init(&r);
	T(5, true);
	T(5 + 3 * REPLAY_BITS_TOTAL, true);
	T(5 + 2 * REPLAY_BITS_TOTAL, false);
	T(5 + 3 * REPLAY_BITS_TOTAL - 1, true);
	T(5 + 3 * REPLAY_BITS_TOTAL, false);
}

int main(void)
{
	CHECK_INT(REPLAY_WINDOW_SIZE, 8128);
	table();
	sweeps();
	limits();
	return check_done("test_replay");
}
