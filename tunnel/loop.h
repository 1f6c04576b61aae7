/* One event loop per thread: epoll, with signals (signalfd) and periodic
 * ticks (timerfds) arriving as ordinary events, so no handler ever runs behind
 * the loop's back. Handlers return 0 to go on or -1 to stop the loop. */
#ifndef EGRESS_LOOP_H
#define EGRESS_LOOP_H

#include <stdint.h>

struct loop;

typedef int (*loop_fd_fn)(void *arg, uint32_t events);
typedef int (*loop_signal_fn)(void *arg, int signo);
typedef int (*loop_tick_fn)(void *arg);

/* NULL and errno set on failure. */
struct loop *loop_new(void);
/* Accepts NULL. Closes the loop's own fds, not those added with loop_add(). */
void loop_free(struct loop *l);

/* Watches fd for events (EPOLLIN, ...); as many fds as wanted. The fd stays
 * the caller's. 0 or -errno.
 * Both may be called from a handler, loop_run() going through a batch of
 * events at the time: an fd deleted by a handler gets no event of the batch
 * in progress, and an fd added in a handler none of it either, even when it
 * takes the deleted one's place (its fd number, its slot); its events come
 * from the next wake-up on. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *arg);
/* Stops watching an fd added with loop_add(): 0, or -ENOENT when it is not
 * watched. The caller may close it at once. */
int loop_del(struct loop *l, int fd);
/* Changes the events watched on an fd added with loop_add(): 0, -ENOENT when
 * it is not watched, or -errno from epoll. */
int loop_mod(struct loop *l, int fd, uint32_t events);

/* Blocks the given signals and delivers them to fn. Once per loop. 0 or -errno. */
int loop_signals(struct loop *l, const int *signals, int n, loop_signal_fn fn, void *arg);
/* Calls fn every interval_ms milliseconds (> 0), once however many intervals
 * passed while the loop was busy; as many timers as wanted, each with its own
 * timerfd, which the loop closes. 0 or -errno. */
int loop_tick(struct loop *l, unsigned interval_ms, loop_tick_fn fn, void *arg);

/* Runs until a handler returns -1 (then 0) or epoll fails (-errno). */
int loop_run(struct loop *l);

#endif
