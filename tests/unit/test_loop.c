/* The event loop: more watches than any fixed table would hold, several
 * timers at once, a handler's -1 stopping the loop, and handlers that delete
 * and add watches while the rest of their wake-up's batch waits: an fd
 * deleted by a handler gets no event of that batch, not even when a watch
 * added after takes its slot (and its fd number), and an fd added gets none
 * of it either. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
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

static void test_many(void)
{
	struct state st = {.victim = -1};

	st.loop = loop_new();
	CHECK(st.loop != NULL);
	if (!st.loop)
		return;
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
}

/* Two watches made ready before loop_run(), so that one batch holds both;
 * whichever handler runs first does what the mode says to the other (or to
 * itself), then wakes the stop pipe, whose event comes in the next batch. */
enum mode {
	DEL_FREE,    /* deletes the other; its slot stays free */
	DEL_REUSE,   /* deletes and closes the other; a new pipe takes its slot and fd number */
	TIMER_REUSE, /* the other is an expired timerfd; deleted, a new timerfd takes its slot */
	TICK_REUSE,  /* deletes the other; a loop_tick() takes its slot */
	SELF_REUSE,  /* deletes and closes itself; a new pipe takes its slot */
};

struct batch;

struct peer {
	struct batch *b;
	int i;
};

struct batch {
	struct loop *loop;
	enum mode mode;
	int fds[2];  /* the two peers' ready fds, -1 once closed */
	int wfds[2]; /* the pipes' write ends, -1 for a timerfd */
	struct peer peers[2];
	int stop[2];
	int first; /* the peer whose handler ran first, -1 */
	int calls[2];
	int new_fd, new_wfd; /* the watch the first handler added */
	int new_calls;       /* calls of its handler in the batch that added it */
	int new_later;       /* calls once it was made ready, after */
	int tick_calls;
	int phase; /* 1: the batch of both peers; 2: the new watch made ready */
};

static int ready_timerfd(void)
{
	struct itimerspec its = {.it_value = {.tv_nsec = 1}};
	struct pollfd pfd;
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd < 0)
		return -1;
	timerfd_settime(fd, 0, &its, NULL);
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	poll(&pfd, 1, 1000); /* expired before loop_run(), in the first batch */
	return fd;
}

static int on_new(void *arg, uint32_t events)
{
	struct batch *b = arg;
	uint64_t buf;

	(void)events;
	if (b->phase == 1) {
		b->new_calls++;
		return 0;
	}
	b->new_later++;
	(void)!read(b->new_fd, &buf, sizeof(buf));
	return -1;
}

static int on_new_tick(void *arg)
{
	struct batch *b = arg;

	b->tick_calls++;
	return 0;
}

static void add_new_pipe(struct batch *b)
{
	int p[2];

	CHECK_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	b->new_fd = p[0];
	b->new_wfd = p[1];
	CHECK_INT(loop_add(b->loop, b->new_fd, EPOLLIN, on_new, b), 0);
}

static int on_peer(void *arg, uint32_t events)
{
	struct peer *p = arg;
	struct batch *b = p->b;
	int other = !p->i, old;
	struct itimerspec later = {.it_value = {.tv_sec = 3600}};
	uint64_t buf;

	(void)events;
	b->calls[p->i]++;
	(void)!read(b->fds[p->i], &buf, sizeof(buf));
	if (b->first >= 0)
		return 0;
	b->first = p->i;
	switch (b->mode) {
	case DEL_FREE:
		CHECK_INT(loop_del(b->loop, b->fds[other]), 0);
		break;
	case DEL_REUSE:
		old = b->fds[other];
		CHECK_INT(loop_del(b->loop, old), 0);
		close(old);
		b->fds[other] = -1;
		add_new_pipe(b);
		CHECK_INT(b->new_fd, old); /* the lowest fd free: the one just closed */
		break;
	case TIMER_REUSE:
		old = b->fds[other];
		CHECK_INT(loop_del(b->loop, old), 0);
		close(old);
		b->fds[other] = -1;
		b->new_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		CHECK(b->new_fd >= 0);
		CHECK_INT(timerfd_settime(b->new_fd, 0, &later, NULL), 0);
		CHECK_INT(loop_add(b->loop, b->new_fd, EPOLLIN, on_new, b), 0);
		break;
	case TICK_REUSE:
		CHECK_INT(loop_del(b->loop, b->fds[other]), 0);
		CHECK_INT(loop_tick(b->loop, 3600 * 1000, on_new_tick, b), 0);
		break;
	case SELF_REUSE:
		old = b->fds[p->i];
		CHECK_INT(loop_del(b->loop, old), 0);
		close(old);
		b->fds[p->i] = -1;
		add_new_pipe(b);
		break;
	}
	CHECK_INT(write(b->stop[1], "s", 1), 1);
	return 0;
}

static int on_stop(void *arg, uint32_t events)
{
	struct batch *b = arg;
	char c;

	(void)events;
	(void)!read(b->stop[0], &c, 1);
	return -1;
}

/* name: the mode as written, for the failure message. */
static void test_batch(enum mode mode, const char *name)
{
	int failed = check_failed;
	struct batch b = {.mode = mode, .first = -1, .new_fd = -1, .new_wfd = -1, .phase = 1};
	struct itimerspec now = {.it_value = {.tv_nsec = 1}};
	struct pollfd pfd;

	b.loop = loop_new();
	CHECK(b.loop != NULL);
	if (!b.loop)
		return;
	CHECK_INT(pipe2(b.stop, O_NONBLOCK | O_CLOEXEC), 0);
	CHECK_INT(loop_add(b.loop, b.stop[0], EPOLLIN, on_stop, &b), 0);
	for (int i = 0; i < 2; i++) {
		int p[2];

		b.peers[i] = (struct peer){.b = &b, .i = i};
		if (mode == TIMER_REUSE) {
			b.fds[i] = ready_timerfd();
			b.wfds[i] = -1;
			CHECK(b.fds[i] >= 0);
		} else {
			CHECK_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
			b.fds[i] = p[0];
			b.wfds[i] = p[1];
			CHECK_INT(write(b.wfds[i], "x", 1), 1);
		}
		CHECK_INT(loop_add(b.loop, b.fds[i], EPOLLIN, on_peer, &b.peers[i]), 0);
	}
	CHECK_INT(loop_run(b.loop), 0);

	CHECK(b.first >= 0);
	if (b.first < 0)
		goto out;
	CHECK_INT(b.calls[b.first], 1);
	/* A watch deleted by another's handler is not called for the event
	 * already in the batch; one that deleted itself had its call, and the
	 * other's event is still delivered. */
	CHECK_INT(b.calls[!b.first], mode == SELF_REUSE ? 1 : 0);
	/* The watch added in the handler, in the deleted one's slot, is not
	 * called for the deleted one's event. */
	CHECK_INT(b.new_calls, 0);
	CHECK_INT(b.tick_calls, 0);

	/* And it is called for its own events, after. */
	b.phase = 2;
	if (b.new_wfd >= 0)
		CHECK_INT(write(b.new_wfd, "y", 1), 1);
	else if (b.new_fd >= 0)
		CHECK_INT(timerfd_settime(b.new_fd, 0, &now, NULL), 0);
	if (b.new_fd >= 0) {
		pfd = (struct pollfd){.fd = b.new_fd, .events = POLLIN};
		CHECK_INT(poll(&pfd, 1, 1000), 1);
		CHECK_INT(loop_run(b.loop), 0);
		CHECK_INT(b.new_later, 1);
	}
out:
	loop_free(b.loop);
	for (int i = 0; i < 2; i++) {
		if (b.fds[i] >= 0)
			close(b.fds[i]);
		if (b.wfds[i] >= 0)
			close(b.wfds[i]);
	}
	if (b.new_fd >= 0)
		close(b.new_fd);
	if (b.new_wfd >= 0)
		close(b.new_wfd);
	close(b.stop[0]);
	close(b.stop[1]);
	if (check_failed > failed)
		fprintf(stderr, "test_loop: the failures above are of mode %s\n", name);
}

#define TEST_BATCH(mode) test_batch(mode, #mode)

int main(void)
{
	test_many();
	TEST_BATCH(DEL_FREE);
	TEST_BATCH(DEL_REUSE);
	TEST_BATCH(TIMER_REUSE);
	TEST_BATCH(TICK_REUSE);
	TEST_BATCH(SELF_REUSE);
	return check_done("test_loop");
}
