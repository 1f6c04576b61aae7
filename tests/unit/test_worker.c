/* tunnel/worker: jobs run on another thread one at a time, in order, each
 * done() on the loop's thread before the next run() starts; a full queue is
 * refused; freeing waits for the running job and cancels the waiting ones. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "check.h"
#include "tunnel/loop.h"
#include "tunnel/worker.h"

static pthread_t loop_thread;
static char trace[256];
static size_t n_trace;
static int done_count;
static struct loop *loop;
static int stop_after;

struct job {
	char name;
	bool ran_off_loop;
};

static void mark(char c)
{
	if (n_trace + 1 < sizeof(trace))
		trace[n_trace++] = c;
}

static int started; /* run()s begun, from the worker thread */

static void run(void *arg)
{
	struct job *j = arg;

	j->ran_off_loop = !pthread_equal(pthread_self(), loop_thread);
	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
	mark(j->name);
	usleep(20000);
	mark(j->name);
}

static int on_stop(void *arg, uint32_t events)
{
	char c;

	(void)!read(*(int *)arg, &c, 1);
	return -1;
}

static int stop_pipe[2];

static void done(void *arg)
{
	struct job *j = arg;

	CHECK(pthread_equal(pthread_self(), loop_thread));
	CHECK(j->ran_off_loop);
	mark((char)(j->name - 'a' + 'A'));
	free(j);
	if (++done_count == stop_after)
		CHECK(write(stop_pipe[1], "x", 1) == 1);
}

static int cancelled;

static void cancel(void *arg)
{
	cancelled++;
	free(arg);
}

static struct job *job(char name)
{
	struct job *j = calloc(1, sizeof(*j));

	j->name = name;
	return j;
}

int main(void)
{
	struct worker *w = NULL;
	int ret;

	loop_thread = pthread_self();
	loop = loop_new();
	CHECK(loop && pipe(stop_pipe) == 0);
	CHECK_INT(loop_add(loop, stop_pipe[0], EPOLLIN, on_stop, &stop_pipe[0]), 0);
	CHECK_INT(worker_new(&w, loop), 0);
	if (!w)
		return check_done("test_worker");

	/* Three jobs: each run() whole (twice its letter), then its done()
	 * (the capital), before the next begins. */
	stop_after = 3;
	CHECK_INT(worker_submit(w, run, done, cancel, job('a')), 0);
	CHECK_INT(worker_submit(w, run, done, cancel, job('b')), 0);
	CHECK_INT(worker_submit(w, run, done, cancel, job('c')), 0);
	CHECK(worker_pending(w) >= 1);
	CHECK_INT(loop_run(loop), 0);
	CHECK_STR(trace, "aaAbbBccC");
	CHECK_INT(worker_pending(w), 0);

	/* A full queue refuses; freeing finishes the running job (its done()
	 * runs) and cancels the rest. */
	done_count = 0;
	stop_after = -1;
	for (int i = 0; i < WORKER_QUEUE_MAX; i++)
		CHECK_INT(worker_submit(w, run, done, cancel, job('x')), 0);
	/* Until the first is running, WORKER_QUEUE_MAX wait; then one less. */
	for (int i = 0; i < 2000 && __atomic_load_n(&started, __ATOMIC_SEQ_CST) < 4; i++)
		usleep(1000);
	CHECK_INT(__atomic_load_n(&started, __ATOMIC_SEQ_CST), 4);
	CHECK_INT(worker_submit(w, run, done, cancel, job('y')), 0);
	struct job *z = job('z');
	ret = worker_submit(w, run, done, cancel, z);
	CHECK_INT(ret, -EBUSY);
	if (ret == -EBUSY)
		free(z); /* still the caller's */
	worker_free(w);
	CHECK_INT(done_count, 1);
	CHECK_INT(cancelled, WORKER_QUEUE_MAX);
	worker_free(NULL);
	loop_free(loop);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	return check_done("test_worker");
}
