/* Long work off an event loop: one thread that runs jobs one at a time,
 * each job's run() on that thread and then its done() back on the loop's
 * thread, so the loop keeps moving packets while a job takes its time (a
 * policy of 10,000 CIDRs compiled and sent to the kernel, a conntrack walk).
 *
 * A job's done() has run before the next job's run() starts: what done()
 * changes (the state the loop reads) is never seen half-changed by a later
 * run(). run() must not touch what the loop's handlers change. */
#ifndef EGRESS_WORKER_H
#define EGRESS_WORKER_H

#include <stddef.h>

struct loop;
struct worker;

typedef void worker_fn(void *arg);

/* A worker serving l. 0 or -errno. */
int worker_new(struct worker **out, struct loop *l);
/* Queues a job: run(arg) on the worker's thread, then done(arg) on the
 * loop's; or, when the worker is freed before the job started, cancel(arg)
 * instead of both. 0, -EBUSY when WORKER_QUEUE_MAX jobs wait already,
 * -ENOMEM. */
#define WORKER_QUEUE_MAX 16
int worker_submit(struct worker *w, worker_fn *run, worker_fn *done, worker_fn *cancel, void *arg);
/* Jobs queued or running now (for tests and status). */
size_t worker_pending(const struct worker *w);
/* Accepts NULL. Waits for the job that runs and calls its done(), calls
 * cancel() for each that had not started; then the thread is gone. From the
 * loop's thread. */
void worker_free(struct worker *w);

#endif
