#include "tunnel/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum watch_kind { WATCH_FREE, WATCH_FD, WATCH_TIMER };

struct watch {
	enum watch_kind kind;
	uint32_t gen; /* bumped when the watch is deleted: see watch_key() */
	int fd;       /* a timer's is the loop's own */
	loop_fd_fn fn;
	loop_tick_fn tick_fn;
	void *arg;
};

struct loop {
	int epfd;
	int sigfd;
	loop_signal_fn sig_fn;
	void *sig_arg;
	struct watch *watches; /* grows; a free slot is reused */
	size_t n_watches;
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->sigfd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int saved = errno;
		free(l);
		errno = saved;
		return NULL;
	}
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	if (l->sigfd >= 0)
		close(l->sigfd);
	for (size_t i = 0; i < l->n_watches; i++)
		if (l->watches[i].kind == WATCH_TIMER)
			close(l->watches[i].fd);
	free(l->watches);
	close(l->epfd);
	free(l);
}

/* The epoll data of a watch is its slot in the table (stable while the table
 * grows, since it is an index) in the low 32 bits and the slot's generation in
 * the high ones. A handler may delete a watch whose event is later in the
 * batch that loop_run() is going through, and a watch added next may take
 * the freed slot (and the fd number): the generation, bumped on every delete,
 * tells the stale event from the new watch's. The signal fd has a key no slot
 * reaches, as the table stops short of SLOT_MAX slots. */
#define SLOT_MAX    UINT32_MAX
#define SLOT_SIGNAL UINT64_MAX

static uint64_t watch_key(const struct loop *l, size_t slot)
{
	return (uint64_t)l->watches[slot].gen << 32 | slot;
}

static int watch_fd(struct loop *l, int fd, uint32_t events, uint64_t key)
{
	struct epoll_event ev = {.events = events, .data.u64 = key};

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Frees a slot; an event of its old watch still in the batch is skipped. */
static void watch_clear(struct loop *l, size_t slot)
{
	uint32_t gen = l->watches[slot].gen + 1;

	l->watches[slot] = (struct watch){.kind = WATCH_FREE, .gen = gen};
}

/* A free slot of the table, grown if there is none; -ENOMEM. */
static int free_slot(struct loop *l, size_t *slot)
{
	struct watch *w;
	size_t i, cap;

	for (i = 0; i < l->n_watches; i++)
		if (l->watches[i].kind == WATCH_FREE)
			return *slot = i, 0;
	cap = l->n_watches ? l->n_watches * 2 : 8;
	if (cap >= SLOT_MAX || cap > SIZE_MAX / sizeof(*w))
		return -ENOMEM;
	w = realloc(l->watches, cap * sizeof(*w));
	if (!w)
		return -ENOMEM;
	memset(w + l->n_watches, 0, (cap - l->n_watches) * sizeof(*w));
	l->watches = w;
	*slot = l->n_watches;
	l->n_watches = cap;
	return 0;
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *arg)
{
	size_t slot;
	int err;

	err = free_slot(l, &slot);
	if (!err)
		err = watch_fd(l, fd, events, watch_key(l, slot));
	if (err)
		return err;
	l->watches[slot] = (struct watch){
	        .kind = WATCH_FD, .gen = l->watches[slot].gen, .fd = fd, .fn = fn, .arg = arg};
	return 0;
}

int loop_del(struct loop *l, int fd)
{
	for (size_t slot = 0; slot < l->n_watches; slot++) {
		if (l->watches[slot].kind == WATCH_FD && l->watches[slot].fd == fd) {
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
			watch_clear(l, slot);
			return 0;
		}
	}
	return -ENOENT;
}

int loop_mod(struct loop *l, int fd, uint32_t events)
{
	for (size_t slot = 0; slot < l->n_watches; slot++) {
		if (l->watches[slot].kind == WATCH_FD && l->watches[slot].fd == fd) {
			struct epoll_event ev = {.events = events, .data.u64 = watch_key(l, slot)};

			return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
		}
	}
	return -ENOENT;
}

int loop_signals(struct loop *l, const int *signals, int n, loop_signal_fn fn, void *arg)
{
	sigset_t set;
	int err;

	if (l->sigfd >= 0)
		return -EBUSY;
	sigemptyset(&set);
	for (int i = 0; i < n; i++)
		sigaddset(&set, signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	l->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigfd < 0)
		return -errno;
	err = watch_fd(l, l->sigfd, EPOLLIN, SLOT_SIGNAL);
	if (err)
		return err;
	l->sig_fn = fn;
	l->sig_arg = arg;
	return 0;
}

int loop_tick(struct loop *l, unsigned interval_ms, loop_tick_fn fn, void *arg)
{
	struct itimerspec its = {0};
	size_t slot;
	int fd, err;

	if (!interval_ms)
		return -EINVAL;
	err = free_slot(l, &slot);
	if (err)
		return err;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	its.it_interval.tv_sec = interval_ms / 1000;
	its.it_interval.tv_nsec = (long)(interval_ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	err = timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
	if (!err)
		err = watch_fd(l, fd, EPOLLIN, watch_key(l, slot));
	if (err) {
		close(fd);
		return err;
	}
	l->watches[slot] = (struct watch){.kind = WATCH_TIMER,
	                                  .gen = l->watches[slot].gen,
	                                  .fd = fd,
	                                  .tick_fn = fn,
	                                  .arg = arg};
	return 0;
}

static int on_signal(struct loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (l->sig_fn(l->sig_arg, (int)si.ssi_signo) < 0)
			return -1;
	return 0;
}

static int on_watch(struct watch *w, uint32_t events)
{
	uint64_t expirations;

	if (w->kind == WATCH_FD)
		return w->fn(w->arg, events);
	if (w->kind != WATCH_TIMER)
		return 0; /* cannot be: a free slot's events were all stale */
	/* However many intervals passed while the loop was busy, one call. */
	if (read(w->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return 0;
	return w->tick_fn(w->arg);
}

int loop_run(struct loop *l)
{
	struct epoll_event events[16];

	for (;;) {
		int n = epoll_wait(l->epfd, events, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			uint64_t key = events[i].data.u64;
			size_t slot = (uint32_t)key;
			int rc;

			if (key == SLOT_SIGNAL)
				rc = on_signal(l);
			else if (slot < l->n_watches && watch_key(l, slot) == key)
				rc = on_watch(&l->watches[slot], events[i].events);
			else
				rc = 0; /* its watch was deleted by a handler of this batch */
			if (rc < 0)
				return 0;
		}
	}
}
