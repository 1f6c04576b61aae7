/* The event loop: more watches than any fixed table would hold, several
 * timers at once, a watch deleted by an earlier handler of the same wake-up,
 * and a handler's -1 stopping the loop. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "check.h"
#include "tunnel/loop.h"

#define N_PIPES 100

struct state {
	struct loop *loop;
	int fds[N_PIPES][2];
	int seen[N_PIPES];
	int n_seen;
	int fast_ticks, slow_ticks;
	int victim; /* read end that the first handler deletes */
	int victim_calls;
};

static int on_pipe(void *arg, uint32_t events)
{
	int *slot = arg;
	struct state *st = (struct state *)((char *)(slot - *slot) - offsetof(struct state, seen));
	int i = *slot;
	char c;

	(void)events;
	if (st->fds[i][0] == st->victim)
		st->victim_calls++;
	if (read(st->fds[i][0], &c, 1) == 1)
		st->n_seen++;
	/* The first handler to run deletes the victim, whose event may already
	 * be in this wake-up's batch: it must not be called. */
	if (st->victim >= 0 && st->fds[i][0] != st->victim) {
		CHECK_INT(loop_del(st->loop, st->victim), 0);
		st->victim = -2;
	}
	return 0;
}

static int on_fast(void *arg)
{
	struct state *st = arg;

	st->fast_ticks++;
	return 0;
}

static int on_slow(void *arg)
{
	struct state *st = arg;

	st->slow_ticks++;
	/* Stop once every pipe has been read and the fast timer ran a few times. */
	return st->n_seen >= N_PIPES - 1 && st->fast_ticks >= 3 ? -1 : 0;
}

int main(void)
{
	struct state st = {.victim = -1};

	st.loop = loop_new();
	CHECK(st.loop != NULL);
	if (!st.loop)
		return check_done("test_loop");
	for (int i = 0; i < N_PIPES; i++) {
		st.seen[i] = i;
		CHECK_INT(pipe2(st.fds[i], O_NONBLOCK | O_CLOEXEC), 0);
		CHECK_INT(loop_add(st.loop, st.fds[i][0], EPOLLIN, on_pipe, &st.seen[i]), 0);
		CHECK_INT(write(st.fds[i][1], "x", 1), 1);
	}
	st.victim = st.fds[1][0]; /* in the first wake-up with pipe 0, written just before */
	CHECK_INT(loop_del(st.loop, 12345), -ENOENT);
	CHECK_INT(loop_tick(st.loop, 0, on_fast, &st), -EINVAL);
	CHECK_INT(loop_tick(st.loop, 10, on_fast, &st), 0);
	CHECK_INT(loop_tick(st.loop, 50, on_slow, &st), 0);
	CHECK_INT(loop_run(st.loop), 0);

	CHECK_INT(st.n_seen, N_PIPES - 1);
	CHECK_INT(st.victim_calls, 0);
	CHECK(st.fast_ticks >= 3);
	CHECK(st.slow_ticks >= 1);
	/* A freed slot is taken again. */
	CHECK_INT(loop_add(st.loop, st.fds[1][0], EPOLLIN, on_pipe, &st.seen[1]), 0);

	loop_free(st.loop);
	for (int i = 0; i < N_PIPES; i++) {
		close(st.fds[i][0]);
		close(st.fds[i][1]);
	}
	return check_done("test_loop");
}
