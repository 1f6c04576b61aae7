/* The worker thread: see worker.h. A queue under a mutex, a condition the
 * thread waits on, and an eventfd that wakes the loop when a job's run() is
 * over. The thread takes the next job only once the loop has run the last
 * one's done(). */
#include "tunnel/worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tunnel/loop.h"

struct job {
	worker_fn *run, *done, *cancel;
	void *arg;
	struct job *next;
};

struct worker {
	struct loop *loop;
	int efd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail; /* waiting, in order */
	size_t n_waiting;
	struct job *running; /* taken by the thread, its done() not yet run */
	bool finished;       /* running's run() is over */
	bool stop;
};

/* How much nicer than the loop the worker runs. On a machine with fewer
 * free cores than busy threads (two, shared with the edges' traffic), a
 * job that takes seconds of CPU (100,000 flows listed) would otherwise take
 * the loop's turns as often as it gets its own: the loop's packets wait
 * behind it. Niced, the job yields the CPU whenever the loop wants it and
 * takes the rest. */
#define WORKER_NICE 10

static void *thread_main(void *arg)
{
	struct worker *w = arg;
	uint64_t one = 1;

	/* Linux: a thread's nice value is its own (PRIO_PROCESS with its tid).
	 * Best effort: the jobs are correct at any priority. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), WORKER_NICE);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && (w->running || !w->head))
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stop)
			break;
		w->running = w->head;
		w->head = w->head->next;
		if (!w->head)
			w->tail = NULL;
		w->n_waiting--;
		w->finished = false;
		pthread_mutex_unlock(&w->mu);
		w->running->run(w->running->arg);
		pthread_mutex_lock(&w->mu);
		w->finished = true;
		/* A full counter cannot happen: the loop reads it before the
		 * next job ends. */
		(void)!write(w->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* The loop's side: the job whose run() is over gets its done(), and the
 * thread may take the next. */
static int on_done(void *arg, uint32_t events)
{
	struct worker *w = arg;
	struct job *j = NULL;
	uint64_t n;

	(void)events;
	if (read(w->efd, &n, sizeof(n)) < 0)
		return 0; /* a stale wake-up */
	pthread_mutex_lock(&w->mu);
	if (w->running && w->finished) {
		j = w->running;
		w->running = NULL;
	}
	pthread_mutex_unlock(&w->mu);
	if (j) {
		j->done(j->arg);
		free(j);
	}
	pthread_mutex_lock(&w->mu);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

int worker_new(struct worker **out, struct loop *l)
{
	struct worker *w = calloc(1, sizeof(*w));
	sigset_t all, old;
	int ret;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->loop = l;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		ret = -errno;
		free(w);
		return ret;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	ret = loop_add(l, w->efd, EPOLLIN, on_done, w);
	if (ret < 0)
		goto fail;
	/* Signals stay with the loop's thread (its signalfd): the worker
	 * blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&w->thread, NULL, thread_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		loop_del(l, w->efd);
		goto fail;
	}
	*out = w;
	return 0;
fail:
	close(w->efd);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
	return ret;
}

int worker_submit(struct worker *w, worker_fn *run, worker_fn *done, worker_fn *cancel, void *arg)
{
	struct job *j;

	pthread_mutex_lock(&w->mu);
	if (w->n_waiting >= WORKER_QUEUE_MAX) {
		pthread_mutex_unlock(&w->mu);
		return -EBUSY;
	}
	pthread_mutex_unlock(&w->mu);
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct job){.run = run, .done = done, .cancel = cancel, .arg = arg};
	pthread_mutex_lock(&w->mu);
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	w->n_waiting++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

size_t worker_pending(const struct worker *w)
{
	struct worker *m = (struct worker *)w; /* the mutex, not the state */
	size_t n;

	pthread_mutex_lock(&m->mu);
	n = w->n_waiting + (w->running != NULL);
	pthread_mutex_unlock(&m->mu);
	return n;
}

void worker_free(struct worker *w)
{
	struct job *j, *next;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	/* The thread ends once the job it runs (if any) is over. */
	pthread_join(w->thread, NULL);
	if (w->running) {
		w->running->done(w->running->arg);
		free(w->running);
	}
	for (j = w->head; j; j = next) {
		next = j->next;
		if (j->cancel)
			j->cancel(j->arg);
		free(j);
	}
	loop_del(w->loop, w->efd);
	close(w->efd);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
