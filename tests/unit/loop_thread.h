/* A loop run on a thread of its own, for the tests of servers that live in
 * a loop (the control socket, wg show): the test's own thread is their
 * client. */
#ifndef EGRESS_TEST_LOOP_THREAD_H
#define EGRESS_TEST_LOOP_THREAD_H

#include <pthread.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "check.h"
#include "tunnel/loop.h"

struct loop_thread {
	struct loop *loop;
	int stop[2]; /* a byte written to stop[1] ends the loop */
	pthread_t thread;
};

static int loop_thread_on_stop(void *arg, uint32_t events)
{
	(void)arg;
	(void)events;
	return -1;
}

static void *loop_thread_main(void *arg)
{
	struct loop_thread *t = arg;

	loop_run(t->loop);
	return NULL;
}

/* The loop, to add the server to before loop_thread_start(). 0 or -1. */
static int loop_thread_new(struct loop_thread *t)
{
	t->stop[0] = t->stop[1] = -1;
	t->loop = loop_new();
	if (!t->loop || pipe(t->stop) < 0 ||
	    loop_add(t->loop, t->stop[0], EPOLLIN, loop_thread_on_stop, NULL) < 0)
		return -1;
	return 0;
}

static int loop_thread_start(struct loop_thread *t)
{
	return pthread_create(&t->thread, NULL, loop_thread_main, t) ? -1 : 0;
}

/* Ends the loop and waits for its thread; the server is the caller's to
 * close, then loop_thread_free(). */
static void loop_thread_stop(struct loop_thread *t)
{
	CHECK(write(t->stop[1], "x", 1) == 1);
	pthread_join(t->thread, NULL);
}

static void loop_thread_free(struct loop_thread *t)
{
	loop_free(t->loop);
	if (t->stop[0] >= 0)
		close(t->stop[0]);
	if (t->stop[1] >= 0)
		close(t->stop[1]);
}

#endif
