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

#define LOOP_MAX_WATCHES 32

struct watch {
	int fd;
	loop_fd_fn fn;
	void *arg;
};

struct loop {
	int epfd;
	int sigfd;
	loop_signal_fn sig_fn;
	void *sig_arg;
	int timerfd;
	loop_tick_fn tick_fn;
	void *tick_arg;
	struct watch watches[LOOP_MAX_WATCHES];
	int n_watches;
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->sigfd = -1;
	l->timerfd = -1;
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
	if (l->timerfd >= 0)
		close(l->timerfd);
	close(l->epfd);
	free(l);
}

/* The epoll data of a watch is its slot; the signal and timer fds use the
 * slots past the table. */
enum { SLOT_SIGNAL = LOOP_MAX_WATCHES, SLOT_TIMER };

static int watch_fd(struct loop *l, int fd, uint32_t events, uint64_t slot)
{
	struct epoll_event ev = {.events = events, .data.u64 = slot};

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_fn fn, void *arg)
{
	int slot, err;

	for (slot = 0; slot < LOOP_MAX_WATCHES; slot++)
		if (!l->watches[slot].fn)
			break;
	if (slot == LOOP_MAX_WATCHES)
		return -ENOSPC;
	err = watch_fd(l, fd, events, (uint64_t)slot);
	if (err)
		return err;
	l->watches[slot] = (struct watch){.fd = fd, .fn = fn, .arg = arg};
	return 0;
}

int loop_del(struct loop *l, int fd)
{
	for (int slot = 0; slot < LOOP_MAX_WATCHES; slot++) {
		if (l->watches[slot].fn && l->watches[slot].fd == fd) {
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
			l->watches[slot] = (struct watch){0};
			return 0;
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
	int err;

	if (l->timerfd >= 0)
		return -EBUSY;
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->timerfd < 0)
		return -errno;
	its.it_interval.tv_sec = interval_ms / 1000;
	its.it_interval.tv_nsec = (long)(interval_ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	if (timerfd_settime(l->timerfd, 0, &its, NULL) < 0)
		return -errno;
	err = watch_fd(l, l->timerfd, EPOLLIN, SLOT_TIMER);
	if (err)
		return err;
	l->tick_fn = fn;
	l->tick_arg = arg;
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

static int on_timer(struct loop *l)
{
	uint64_t expirations;

	if (read(l->timerfd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return 0;
	return l->tick_fn(l->tick_arg);
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
			uint64_t slot = events[i].data.u64;
			int rc;

			if (slot == SLOT_SIGNAL)
				rc = on_signal(l);
			else if (slot == SLOT_TIMER)
				rc = on_timer(l);
			else if (l->watches[slot].fn)
				rc = l->watches[slot].fn(l->watches[slot].arg, events[i].events);
			else
				rc = 0; /* deleted by an earlier handler of this batch */
			if (rc < 0)
				return 0;
		}
	}
}
