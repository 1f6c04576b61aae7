/* The server side of the control socket (see ctl.h): the listening socket,
 * credentials, one request per connection, replies queued and written as
 * the socket takes them, streams, and a timer that drops connections that
 * stall and sends the streams' keepalives. */
#include "tunnel/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "tunnel/log.h"
#include "tunnel/loop.h"
#include "tunnel/sockfile.h"

/* Descriptors one recvmsg() takes; a request may carry one, more are an
 * error (and closed). */
#define MAX_FDS 8

struct ctl_conn {
	struct ctl_server *srv;
	struct ctl_conn *prev, *next;
	int fd;
	struct ucred cred;
	uint64_t deadline;     /* CLOCK_MONOTONIC ns: dropped when it passes without progress */
	struct ctl_parts *out; /* the reply, once there is one */
	size_t sent;           /* parts of it written */
	bool pending;          /* deferred by the handler: out of the loop until answered */
	char cmd[CTL_CMD_MAX]; /* the request's, for messages */
	/* A stream (ctl_stream_start): out is its queue, the parts from sent
	 * on still to write. ended: the last part is queued; closed is NULL
	 * once the owner has given the token back (or was told). */
	bool stream, ended;
	ctl_stream_closed_fn *closed;
	void *closed_arg;
	uint64_t keepalive_at; /* CLOCK_MONOTONIC ns */
};

struct ctl_server {
	struct loop *loop;
	int fd, timer_fd;
	bool listening; /* false while accept() lacks descriptors: the tick retries */
	struct sockfile file;
	bool has_group;
	gid_t group;
	unsigned idle_ms, max_conns;
	size_t n_conns;
	struct ctl_conn *conns;
	bool timer_on;
	ctl_handler_fn handler;
	void *arg;
	char *rbuf; /* CTL_MSG_MAX bytes, shared by every connection */
	struct log_ratelimit rl_refused, rl_dropped, rl_bad;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool may_log(struct log_ratelimit *rl)
{
	unsigned long held;

	return log_ratelimit(rl, mono_ns(), 1000000000u, &held);
}

bool ctl_peer_allowed(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, bool has_group,
                      gid_t group)
{
	if (uid == 0)
		return true;
	if (!has_group)
		return false;
	if (gid == group)
		return true;
	for (size_t i = 0; i < n_groups; i++)
		if (groups[i] == group)
			return true;
	return false;
}

/* The peer's supplementary groups as the kernel holds them for its process
 * (SO_PEERGROUPS): what the socket file's mode is checked against, rather
 * than the group database, which a process may not reflect. */
static int peer_groups(int fd, gid_t **out, size_t *n)
{
	socklen_t len = 32 * sizeof(gid_t);
	gid_t *g = NULL;

	for (;;) {
		gid_t *ng = realloc(g, len ? len : sizeof(gid_t));

		if (!ng) {
			free(g);
			return -ENOMEM;
		}
		g = ng;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0)
			break;
		if (errno != ERANGE) {
			free(g);
			return -errno;
		}
	}
	*out = g;
	*n = len / sizeof(gid_t);
	return 0;
}

static void arm_timer(struct ctl_server *s, bool on)
{
	unsigned ms = s->idle_ms / 4 ? s->idle_ms / 4 : 1;
	struct itimerspec its = {0};

	if (on == s->timer_on)
		return;
	if (on) {
		its.it_interval.tv_sec = ms / 1000;
		its.it_interval.tv_nsec = (long)(ms % 1000) * 1000000L;
		its.it_value = its.it_interval;
	}
	if (timerfd_settime(s->timer_fd, 0, &its, NULL) == 0)
		s->timer_on = on;
}

static void conn_free(struct ctl_conn *c)
{
	struct ctl_server *s = c->srv;

	/* The stream's owner first, while the connection still exists. */
	if (c->closed) {
		ctl_stream_closed_fn *closed = c->closed;

		c->closed = NULL;
		closed(c->closed_arg);
	}
	loop_del(s->loop, c->fd);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	ctl_parts_free(c->out);
	free(c);
	if (!s->n_conns && s->listening)
		arm_timer(s, false);
}

/* One error reply on a connection we will not keep: a fresh socket has room
 * for it, and if not, the close says enough. */
static void refuse(int fd, const char *why)
{
	struct ctl_reply r = {.ok = false, .error = (char *)why};
	struct ctl_parts *p = NULL;

	if (ctl_reply_encode(&r, CTL_MSG_MAX, &p) == 0 && p->n == 1)
		send(fd, p->buf[0], p->len[0], MSG_DONTWAIT | MSG_NOSIGNAL);
	ctl_parts_free(p);
	close(fd);
}

/* Writes what the socket takes; the connection is done (freed) when the
 * whole reply is out or the peer is gone. */
static void conn_write(struct ctl_conn *c)
{
	while (c->sent < c->out->n) {
		ssize_t n = send(c->fd, c->out->buf[c->sent], c->out->len[c->sent],
		                 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			log_debug("control: pid %d went before its reply was written: %s",
			          (int)c->cred.pid, strerror(errno));
			break;
		}
		c->sent++;
		c->deadline = mono_ns() + (uint64_t)c->srv->idle_ms * 1000000u;
	}
	conn_free(c);
}

/* A handler's answer (it takes data), or an error reply when it cannot be
 * sent as it is. */
static struct ctl_parts *encode_answer(const char *cmd, int rc, json_t *data, char *err)
{
	struct ctl_parts *p = NULL;
	struct ctl_reply r = {0};

	if (!cmd)
		cmd = "?";
	r.ok = rc == 0;
	if (rc && !err[0])
		snprintf(err, 1024, "%s", strerror(rc < 0 ? -rc : EIO));
	r.error = err;
	r.data = data;
	rc = ctl_reply_encode(&r, CTL_MSG_MAX, &p);
	if (rc == -EINVAL && !r.ok) {
		/* Not UTF-8: the handler quoted raw bytes. */
		for (char *q = err; *q; q++)
			if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
				*q = '?';
		rc = ctl_reply_encode(&r, CTL_MSG_MAX, &p);
	}
	if (rc) {
		log_warnx("control: the reply to \"%s\" cannot be sent: %s", cmd,
		          rc == -EMSGSIZE ? "too large for the socket" : strerror(-rc));
		r = (struct ctl_reply){.ok = false, .error = (char *)"the reply cannot be sent"};
		if (ctl_reply_encode(&r, CTL_MSG_MAX, &p) < 0)
			p = NULL;
	}
	json_decref(data);
	return p;
}

static int on_conn(void *arg, uint32_t events);

/* Sends c's reply from now on: only writing, a second request is not read. */
static void start_reply(struct ctl_conn *c, bool watched)
{
	struct ctl_server *s = c->srv;

	if (!c->out) {
		conn_free(c);
		return;
	}
	c->deadline = mono_ns() + (uint64_t)s->idle_ms * 1000000u;
	if ((watched ? loop_mod(s->loop, c->fd, EPOLLOUT)
	             : loop_add(s->loop, c->fd, EPOLLOUT, on_conn, c)) < 0) {
		conn_free(c);
		return;
	}
	conn_write(c);
}

struct ctl_pending *ctl_defer(struct ctl_request *req)
{
	struct ctl_conn *c = req->conn;

	c->pending = true;
	return (struct ctl_pending *)c;
}

void ctl_pending_reply(struct ctl_pending *p, int rc, json_t *data, const char *err)
{
	struct ctl_conn *c = (struct ctl_conn *)p;

	ctl_pending_send(p, ctl_answer_encode(c->cmd, rc, data, err));
}

struct ctl_parts *ctl_answer_encode(const char *cmd, int rc, json_t *data, const char *err)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", err ? err : "");
	return encode_answer(cmd, rc, data, buf);
}

void ctl_pending_send(struct ctl_pending *p, struct ctl_parts *parts)
{
	struct ctl_conn *c = (struct ctl_conn *)p;

	c->pending = false;
	c->out = parts;
	start_reply(c, false);
}

/* ---- streams */

static size_t waiting(const struct ctl_conn *c)
{
	return c->out ? c->out->n - c->sent : 0;
}

/* Appends buf (taken) to c's queue; -ENOMEM. Written parts are let go
 * first, so the arrays hold what waits and no more. */
static int queue_part(struct ctl_conn *c, char *buf, size_t len)
{
	struct ctl_parts *p = c->out;
	char **nb;
	size_t *nl;

	if (!p && !(p = c->out = calloc(1, sizeof(*p)))) {
		free(buf);
		return -ENOMEM;
	}
	if (c->sent == p->n) {
		for (size_t i = 0; i < p->n; i++)
			free(p->buf[i]);
		p->n = c->sent = 0;
	}
	nb = realloc(p->buf, (p->n + 1) * sizeof(*nb));
	if (nb)
		p->buf = nb;
	nl = nb ? realloc(p->len, (p->n + 1) * sizeof(*nl)) : NULL;
	if (nl)
		p->len = nl;
	if (!nb || !nl) {
		free(buf);
		return -ENOMEM;
	}
	p->buf[p->n] = buf;
	p->len[p->n] = len;
	p->n++;
	return 0;
}

/* Encodes a part of r into c's queue and has the loop write it. */
static int queue_reply(struct ctl_conn *c, const struct ctl_reply *r, bool more)
{
	char *buf;
	size_t len;
	int ret;

	ret = ctl_part_encode(r, more, CTL_MSG_MAX, &buf, &len);
	if (!ret)
		ret = queue_part(c, buf, len);
	if (!ret && !c->pending && waiting(c) == 1 &&
	    loop_mod(c->srv->loop, c->fd, EPOLLIN | EPOLLOUT) == 0)
		c->deadline = mono_ns() + (uint64_t)c->srv->idle_ms * 1000000u;
	return ret;
}

/* Writes what the socket takes of a stream's queue. Done with the last
 * part, the connection goes; with all written, the loop waits for the
 * next part or the peer's hang-up. */
static void stream_write(struct ctl_conn *c)
{
	struct ctl_server *s = c->srv;

	while (waiting(c)) {
		ssize_t n = send(c->fd, c->out->buf[c->sent], c->out->len[c->sent],
		                 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* the deadline runs from the last progress */
		if (n < 0) {
			log_debug("control: pid %d went during its stream: %s", (int)c->cred.pid,
			          strerror(errno));
			conn_free(c);
			return;
		}
		c->sent++;
		c->deadline = mono_ns() + (uint64_t)s->idle_ms * 1000000u;
	}
	if (c->ended) {
		conn_free(c);
		return;
	}
	c->deadline = UINT64_MAX;
	c->keepalive_at = mono_ns() + (uint64_t)CTL_KEEPALIVE_MS * 1000000u;
	loop_mod(s->loop, c->fd, EPOLLIN);
}

/* A stream's events: anything to read is the peer gone (it sends nothing
 * after its request), then whatever waits is written. */
static void stream_event(struct ctl_conn *c)
{
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_DONTWAIT);

	if (n >= 0 || (errno != EAGAIN && errno != EINTR)) {
		log_debug("control: pid %d ended its stream of \"%s\"", (int)c->cred.pid, c->cmd);
		conn_free(c);
		return;
	}
	stream_write(c);
}

struct ctl_stream *ctl_stream_start(struct ctl_request *req, ctl_stream_closed_fn *closed,
                                    void *arg)
{
	struct ctl_conn *c = req->conn;

	c->stream = true;
	c->closed = closed;
	c->closed_arg = arg;
	c->keepalive_at = mono_ns() + (uint64_t)CTL_KEEPALIVE_MS * 1000000u;
	return (struct ctl_stream *)c;
}

int ctl_stream_send(struct ctl_stream *st, json_t *data)
{
	struct ctl_conn *c = (struct ctl_conn *)st;
	struct ctl_reply r = {.ok = true, .data = data};
	char why[96];

	if (waiting(c) < CTL_STREAM_QUEUE) {
		int ret = queue_reply(c, &r, true);

		return ret == -EINVAL ? -EMSGSIZE : ret;
	}
	/* A client that does not keep up is cut off, never waited for: what
	 * waits goes, the error is the last part. */
	snprintf(why, sizeof(why), "too slow: %d parts were waiting; cut off", CTL_STREAM_QUEUE);
	for (size_t i = c->sent; i < c->out->n; i++)
		free(c->out->buf[i]);
	c->out->n = c->sent;
	if (may_log(&c->srv->rl_dropped))
		log_info("control: cut off pid %d, which did not read its stream of \"%s\"",
		         (int)c->cred.pid, c->cmd);
	c->closed = NULL;
	c->ended = true;
	r = (struct ctl_reply){.ok = false, .error = why};
	if (queue_reply(c, &r, false) < 0)
		loop_mod(c->srv->loop, c->fd,
		         EPOLLIN | EPOLLOUT); /* nothing to send: the close says it */
	return -ENOBUFS;
}

void ctl_stream_end(struct ctl_stream *st, int rc, json_t *data, const char *err)
{
	struct ctl_conn *c = (struct ctl_conn *)st;
	struct ctl_reply r = {.ok = rc == 0, .data = data};
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", err && err[0] ? err : strerror(rc < 0 ? -rc : EIO));
	r.error = rc ? buf : NULL;
	c->closed = NULL;
	c->ended = true;
	if (queue_reply(c, &r, false) < 0) {
		r = (struct ctl_reply){.ok = false,
		                       .error = (char *)"the last part cannot be sent"};
		if (queue_reply(c, &r, false) < 0)
			loop_mod(c->srv->loop, c->fd, EPOLLIN | EPOLLOUT);
	}
	json_decref(data);
}

/* The tick's part: a keepalive on each stream that has been quiet. */
static void stream_tick(struct ctl_conn *c, uint64_t now)
{
	struct ctl_reply r = {.ok = true};

	if (c->ended || waiting(c) || now < c->keepalive_at)
		return;
	c->keepalive_at = now + (uint64_t)CTL_KEEPALIVE_MS * 1000000u;
	queue_reply(c, &r, true);
}

/* At close: the last part, and what the socket takes of the queue at once. */
static void stream_close(struct ctl_conn *c)
{
	struct ctl_reply r = {.ok = true};

	if (!c->ended && queue_reply(c, &r, false) == 0)
		c->ended = true;
	while (waiting(c) && send(c->fd, c->out->buf[c->sent], c->out->len[c->sent],
	                          MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
		c->sent++;
}

/* Takes the request (one message) and queues its reply. */
static void conn_read(struct ctl_conn *c)
{
	struct ctl_server *s = c->srv;
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = {.iov_base = s->rbuf, .iov_len = CTL_MSG_MAX};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = cm.buf,
	                    .msg_controllen = sizeof(cm.buf)};
	struct ctl_request req = {
	        .fd = -1, .pid = c->cred.pid, .uid = c->cred.uid, .gid = c->cred.gid};
	struct ctl_reply bad = {.ok = false};
	int fds[MAX_FDS], n_fds = 0;
	json_t *root = NULL;
	char err[256] = "";
	ssize_t n;

	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return; /* a stale wake-up (see on_conn): nothing yet */
	if (n < 0) {
		conn_free(c);
		return;
	}
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
			if (n_fds < MAX_FDS)
				memcpy(&fds[n_fds++], CMSG_DATA(h) + i * sizeof(int), sizeof(int));
	}
	/* n == 0 is an empty message or the peer gone: an error reply tells
	 * the one and fails on the other. */
	if (mh.msg_flags & MSG_TRUNC)
		snprintf(err, sizeof(err), "request larger than %d bytes", CTL_MSG_MAX);
	else if (n_fds > 1 || (mh.msg_flags & MSG_CTRUNC))
		snprintf(err, sizeof(err), "more than one descriptor with a request");
	else if (ctl_request_parse(s->rbuf, (size_t)n, &root, &req, err, sizeof(err)) == 0)
		err[0] = '\0';
	if (err[0]) {
		if (may_log(&s->rl_bad))
			log_debug("control: bad request from pid %d: %s", (int)c->cred.pid, err);
		for (int i = 0; i < n_fds; i++)
			close(fds[i]);
		bad.error = err;
		if (ctl_reply_encode(&bad, CTL_MSG_MAX, &c->out) < 0)
			c->out = NULL;
	} else {
		char herr[1024] = "";
		json_t *data = NULL;
		int rc;

		req.fd = n_fds ? fds[0] : -1;
		req.conn = c;
		snprintf(c->cmd, sizeof(c->cmd), "%s", req.cmd);
		rc = s->handler(s->arg, &req, &data, herr, sizeof(herr));
		if (req.fd >= 0)
			close(req.fd);
		if (rc == CTL_DEFERRED && c->stream) {
			/* The loop watches for the peer's hang-up and writes. */
			json_decref(data);
			json_decref(root);
			if (loop_mod(s->loop, c->fd, EPOLLIN | (waiting(c) ? EPOLLOUT : 0)) < 0)
				conn_free(c);
			else
				c->deadline = waiting(c)
				                      ? mono_ns() + (uint64_t)s->idle_ms * 1000000u
				                      : UINT64_MAX;
			return;
		}
		if (rc == CTL_DEFERRED && c->pending) {
			/* Out of the loop until the answer: a peer that hangs up
			 * meanwhile is found when the reply is written. */
			json_decref(data);
			json_decref(root);
			loop_del(s->loop, c->fd);
			c->deadline = UINT64_MAX;
			return;
		}
		c->out = encode_answer(c->cmd, rc == CTL_DEFERRED ? -EIO : rc, data, herr);
	}
	json_decref(root);
	start_reply(c, true);
}

/* Whatever the events say, the socket calls decide: an event may be stale
 * (the slot reused within one wake-up), and EPOLLHUP arrives with data
 * still to read. */
static int on_conn(void *arg, uint32_t events)
{
	struct ctl_conn *c = arg;

	(void)events;
	if (c->stream)
		stream_event(c);
	else if (c->out)
		conn_write(c);
	else
		conn_read(c);
	return 0;
}

static void accept_one(struct ctl_server *s, int fd)
{
	struct ctl_conn *c = NULL;
	socklen_t len = sizeof(struct ucred);
	struct ucred cred;
	gid_t *groups = NULL;
	size_t n_groups = 0;
	char why[160];
	int sndbuf = 2 * CTL_MSG_MAX, err;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		refuse(fd, "cannot read peer credentials");
		return;
	}
	err = cred.uid ? peer_groups(fd, &groups, &n_groups) : 0;
	if (err) {
		refuse(fd, "cannot read peer credentials");
		return;
	}
	if (!ctl_peer_allowed(cred.uid, cred.gid, groups, n_groups, s->has_group, s->group)) {
		free(groups);
		if (may_log(&s->rl_refused))
			log_warnx("control: refused pid %d (uid %u): neither root nor in the "
			          "control group",
			          (int)cred.pid, (unsigned)cred.uid);
		snprintf(why, sizeof(why), "permission denied: uid %u is neither root nor in %s",
		         (unsigned)cred.uid,
		         s->has_group ? "the control group" : "any control group");
		refuse(fd, why);
		return;
	}
	free(groups);
	if (s->n_conns >= s->max_conns) {
		if (may_log(&s->rl_refused))
			log_warnx("control: refused pid %d: %u connections open already",
			          (int)cred.pid, s->max_conns);
		refuse(fd, "too many connections; try again");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		refuse(fd, "out of memory");
		return;
	}
	*c = (struct ctl_conn){.srv = s,
	                       .fd = fd,
	                       .cred = cred,
	                       .deadline = mono_ns() + (uint64_t)s->idle_ms * 1000000u};
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (loop_add(s->loop, fd, EPOLLIN, on_conn, c) < 0) {
		free(c);
		refuse(fd, "out of memory");
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	arm_timer(s, true);
}

static int on_listen(void *arg, uint32_t events)
{
	struct ctl_server *s = arg;

	(void)events;
	/* A bounded batch, so a flood of connections cannot hold the loop. */
	for (int i = 0; i < 32; i++) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			accept_one(s, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* Level-triggered, the listener would wake us at once again:
			 * rest it until the next tick. */
			if (may_log(&s->rl_dropped))
				log_warn("control: cannot accept a connection");
			if (loop_mod(s->loop, s->fd, 0) == 0) {
				s->listening = false;
				arm_timer(s, true);
			}
		}
		break;
	}
	return 0;
}

static int on_tick(void *arg, uint32_t events)
{
	struct ctl_server *s = arg;
	uint64_t expirations, now = mono_ns();
	struct ctl_conn *c, *next;

	(void)events;
	if (read(s->timer_fd, &expirations, sizeof(expirations)) < 0)
		return 0;
	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->stream)
			stream_tick(c, now);
		if (c->deadline > now)
			continue;
		if (may_log(&s->rl_dropped))
			log_info("control: dropped pid %d, which %s for %u ms", (int)c->cred.pid,
			         c->out ? "did not read its reply" : "sent no request", s->idle_ms);
		conn_free(c);
	}
	if (!s->listening && loop_mod(s->loop, s->fd, EPOLLIN) == 0)
		s->listening = true;
	if (!s->n_conns && s->listening)
		arm_timer(s, false);
	return 0;
}

static int resolve_group(struct ctl_server *s, const char *name, char *err, size_t errlen)
{
	struct group *g;

	if (!name || !name[0])
		return 0;
	errno = 0;
	g = getgrnam(name);
	if (!g) {
		snprintf(err, errlen, "control group %s: %s", name,
		         errno ? strerror(errno) : "no such group");
		return errno ? -errno : -ENOENT;
	}
	s->has_group = true;
	s->group = g->gr_gid;
	return 0;
}

int ctl_server_open(struct ctl_server **out, struct loop *l, const struct ctl_server_params *p,
                    char *err, size_t errlen)
{
	struct ctl_server *s = NULL;
	int ret;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->rbuf = malloc(CTL_MSG_MAX))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->loop = l;
	s->fd = s->timer_fd = -1;
	s->listening = true;
	s->idle_ms = p->idle_ms ? p->idle_ms : CTL_IDLE_MS;
	s->max_conns = p->max_conns ? p->max_conns : CTL_MAX_CONNS;
	s->handler = p->handler;
	s->arg = p->arg;
	ret = resolve_group(s, p->group, err, errlen);
	if (ret)
		goto fail;
	ret = sockfile_listen(&s->file, p->path, SOCK_SEQPACKET, 0660,
	                      s->has_group ? s->group : (gid_t)-1, err, errlen);
	if (ret < 0)
		goto fail;
	s->fd = ret;
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd < 0 || loop_add(l, s->timer_fd, EPOLLIN, on_tick, s) < 0) {
		ret = -errno;
		snprintf(err, errlen, "timer: %s", strerror(errno));
		goto fail;
	}
	ret = loop_add(l, s->fd, EPOLLIN, on_listen, s);
	if (ret) {
		snprintf(err, errlen, "event loop: %s", strerror(-ret));
		loop_del(l, s->timer_fd);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->fd >= 0)
		close(s->fd);
	sockfile_remove(&s->file);
	free(s->rbuf);
	free(s);
	return ret;
}

void ctl_server_close(struct ctl_server *s)
{
	if (!s)
		return;
	for (struct ctl_conn *c = s->conns; c; c = c->next)
		if (c->stream)
			stream_close(c);
	while (s->conns)
		conn_free(s->conns);
	loop_del(s->loop, s->fd);
	loop_del(s->loop, s->timer_fd);
	close(s->fd);
	close(s->timer_fd);
	sockfile_remove(&s->file);
	free(s->rbuf);
	free(s);
}

size_t ctl_server_conns(const struct ctl_server *s)
{
	return s->n_conns;
}
