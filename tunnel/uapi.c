/* `wg show`: the request parser, the get reply's renderer, and the server
 * that answers on the loop (see uapi.h). */
#include "tunnel/uapi.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "tunnel/crypto.h"
#include "tunnel/log.h"
#include "tunnel/loop.h"
#include "tunnel/prefix.h"
#include "tunnel/sockfile.h"
#include "tunnel/wg.h"

/* --- the request parser --- */

/* S_INVALID and S_TOO_BIG are final: no byte after a bad request can mean
 * anything. */
enum { S_OP, S_GET_END, S_SET_BOL, S_SET_LINE, S_INVALID, S_TOO_BIG };

static enum uapi_op final_op(const struct uapi_parser *p)
{
	return p->state == S_INVALID   ? UAPI_INVALID
	       : p->state == S_TOO_BIG ? UAPI_TOO_BIG
	                               : UAPI_MORE;
}

static enum uapi_op invalid(struct uapi_parser *p)
{
	p->state = S_INVALID;
	return UAPI_INVALID;
}

/* One byte; UAPI_MORE until it ends a request. */
static enum uapi_op parse_byte(struct uapi_parser *p, char ch)
{
	switch (p->state) {
	case S_OP:
		if (ch != '\n') {
			/* No operation is longer than "get=1". */
			if (p->n + 1 >= sizeof(p->op))
				return invalid(p);
			p->op[p->n++] = ch;
			return UAPI_MORE;
		}
		/* By length too: a NUL inside is junk, not the end. */
		if (p->n == 5 && memcmp(p->op, "get=1", 5) == 0)
			p->state = S_GET_END;
		else if (p->n == 5 && memcmp(p->op, "set=1", 5) == 0)
			p->state = S_SET_BOL;
		else
			return invalid(p);
		p->n = 0;
		return UAPI_MORE;
	case S_GET_END:
		/* A get has no lines: the blank line must follow at once. */
		if (ch != '\n')
			return invalid(p);
		p->state = S_OP;
		return UAPI_GET;
	case S_SET_BOL:
	case S_SET_LINE:
		if (++p->n > UAPI_SET_MAX) {
			p->state = S_TOO_BIG;
			return UAPI_TOO_BIG;
		}
		if (ch == '\n' && p->state == S_SET_BOL) {
			p->state = S_OP;
			p->n = 0;
			return UAPI_SET;
		}
		p->state = ch == '\n' ? S_SET_BOL : S_SET_LINE;
		return UAPI_MORE;
	default:
		return final_op(p);
	}
}

size_t uapi_parse(struct uapi_parser *p, const void *buf, size_t len, enum uapi_op *op)
{
	const char *s = buf;
	size_t i = 0;

	*op = final_op(p);
	while (*op == UAPI_MORE && i < len)
		*op = parse_byte(p, s[i++]);
	return i;
}

/* --- the reply to get --- */

/* What one line may take at most, so that the reply's buffer is sized once
 * and no copy of the private key is left behind by a realloc(). */
#define DEVICE_BYTES 256 /* private_key, listen_port, fwmark, errno */
#define PEER_BYTES   512 /* every line of a peer but its prefixes */
#define PREFIX_BYTES (sizeof("allowed_ip=") + PREFIX_STRLEN)

struct out {
	char *buf;
	size_t len, cap;
	bool overflow;
};

static void __attribute__((format(printf, 2, 3))) put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->overflow = true;
	else
		o->len += (size_t)n;
}

static void put_key(struct out *o, const char *name, const uint8_t *key)
{
	static const char digits[] = "0123456789abcdef";
	char hex[2 * 32 + 1];

	for (size_t i = 0; i < 32; i++) {
		hex[2 * i] = digits[key[i] >> 4];
		hex[2 * i + 1] = digits[key[i] & 15];
	}
	hex[64] = '\0';
	put(o, "%s=%s\n", name, hex);
	crypto_wipe(hex, sizeof(hex));
}

static void put_peer(struct out *o, const struct wg_peer *p, uint64_t now)
{
	char ep[WG_ENDPOINT_STRLEN], pf[PREFIX_STRLEN];
	struct wg_peer_stats st;
	const struct prefix *allowed;
	size_t n;

	wg_peer_stats(p, now, &st);
	put_key(o, "public_key", wg_peer_public_key(p));
	put_key(o, "preshared_key", wg_peer_psk(p));
	put(o, "protocol_version=1\n");
	if (wg_peer_endpoint_format(p, ep, sizeof(ep)))
		put(o, "endpoint=%s\n", ep);
	/* The device keeps the wall-clock second of the last handshake, the
	 * one SIGUSR1 reports; wg(8) prints no finer than seconds. */
	put(o, "last_handshake_time_sec=%llu\n", (unsigned long long)st.last_handshake_unix);
	put(o, "last_handshake_time_nsec=0\n");
	put(o, "tx_bytes=%llu\n", (unsigned long long)st.tx_bytes);
	put(o, "rx_bytes=%llu\n", (unsigned long long)st.rx_bytes);
	put(o, "persistent_keepalive_interval=%u\n", wg_peer_keepalive(p));
	allowed = wg_peer_allowed(p, &n);
	for (size_t i = 0; i < n; i++)
		put(o, "allowed_ip=%s\n", prefix_format(&allowed[i], pf, sizeof(pf)));
}

int uapi_render(const struct wg_device *d, char **out, size_t *len)
{
	struct out o = {.cap = DEVICE_BYTES};
	const struct wg_peer *p;
	uint64_t now = wg_now();
	uint32_t mark = wg_device_fwmark(d);

	for (size_t i = 0; (p = wg_device_peer(d, i)); i++) {
		size_t n;

		wg_peer_allowed(p, &n);
		o.cap += PEER_BYTES + n * PREFIX_BYTES;
	}
	o.buf = malloc(o.cap);
	if (!o.buf)
		return -ENOMEM;
	put_key(&o, "private_key", wg_device_private_key(d));
	put(&o, "listen_port=%u\n", wg_device_port(d));
	if (mark)
		put(&o, "fwmark=%u\n", mark);
	for (size_t i = 0; (p = wg_device_peer(d, i)); i++)
		put_peer(&o, p, now);
	put(&o, "errno=0\n\n");
	if (o.overflow) {
		/* The bounds above are wrong: a bug, not the client's doing. */
		log_errx("wg show: the reply outgrew its %zu bytes", o.cap);
		uapi_reply_free(o.buf, o.cap);
		return -EOVERFLOW;
	}
	*out = o.buf;
	*len = o.len;
	return 0;
}

void uapi_reply_free(char *reply, size_t len)
{
	if (!reply)
		return;
	crypto_wipe(reply, len);
	free(reply);
}

int uapi_socket_path(char *buf, size_t size, const char *dir, const char *ifname)
{
	int n = snprintf(buf, size, "%s/%s.sock", dir, ifname);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* --- the server --- */

struct uapi_conn {
	struct uapi_server *srv;
	struct uapi_conn *prev, *next;
	int fd;
	pid_t pid;
	uint64_t deadline; /* CLOCK_MONOTONIC ns: dropped when it passes without progress */
	struct uapi_parser parser;
	char *out; /* the reply being written, NULL while reading */
	size_t out_len, sent;
	bool last; /* close once the reply is out: the request was bad */
};

struct uapi_server {
	struct loop *loop;
	struct wg_device *dev;
	struct sockfile file;
	int fd, timer_fd;
	bool listening; /* false while accept() lacks descriptors: the tick retries */
	bool timer_on;
	unsigned idle_ms, max_conns;
	size_t n_conns;
	struct uapi_conn *conns;
	struct log_ratelimit rl_refused, rl_dropped, rl_set, rl_bad;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One line a second at most of each kind, whatever clients do. */
static bool may_log(struct log_ratelimit *rl)
{
	unsigned long held;

	return log_ratelimit(rl, mono_ns(), 1000000000u, &held);
}

static void arm_timer(struct uapi_server *s, bool on)
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

static void conn_free(struct uapi_conn *c)
{
	struct uapi_server *s = c->srv;

	loop_del(s->loop, c->fd);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	uapi_reply_free(c->out, c->out_len);
	free(c);
	if (!s->n_conns && s->listening)
		arm_timer(s, false);
}

static void progress(struct uapi_conn *c)
{
	c->deadline = mono_ns() + (uint64_t)c->srv->idle_ms * 1000000u;
}

/* Writes what the socket takes; then reads the next request, or closes. */
static void conn_write(struct uapi_conn *c)
{
	while (c->sent < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->sent, c->out_len - c->sent,
		                 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			conn_free(c);
			return;
		}
		c->sent += (size_t)n;
		progress(c);
	}
	uapi_reply_free(c->out, c->out_len);
	c->out = NULL;
	if (c->last || loop_mod(c->srv->loop, c->fd, EPOLLIN) < 0)
		conn_free(c);
}

/* Queues the reply (taken) and writes what the socket takes of it now. */
static void reply(struct uapi_conn *c, char *out, size_t len, bool last)
{
	if (!out || loop_mod(c->srv->loop, c->fd, EPOLLOUT) < 0) {
		uapi_reply_free(out, len);
		conn_free(c);
		return;
	}
	c->out = out;
	c->out_len = len;
	c->sent = 0;
	c->last = last;
	conn_write(c);
}

/* An errno reply. Negative, as wireguard-go sends them: wg(8) negates the
 * number it reads for perror(). */
static void reply_errno(struct uapi_conn *c, int err, bool last)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "errno=%d\n\n", -err);

	reply(c, strdup(buf), (size_t)n, last);
}

static void answer(struct uapi_conn *c, enum uapi_op op)
{
	struct uapi_server *s = c->srv;
	char *out = NULL;
	size_t len = 0;
	int e;

	switch (op) {
	case UAPI_GET:
		e = uapi_render(s->dev, &out, &len);
		if (e < 0) {
			reply_errno(c, -e, true);
			return;
		}
		reply(c, out, len, false);
		return;
	case UAPI_SET:
	case UAPI_TOO_BIG:
		/* EPERM: wg set says "Operation not permitted", which is the
		 * truth, where ENOSYS or EOPNOTSUPP would suggest a missing
		 * feature and EROFS a file system. */
		if (may_log(&s->rl_set))
			log_warnx("wg show socket: refused a set (wg set) from pid %d: the "
			          "configuration file is the only source of configuration",
			          (int)c->pid);
		reply_errno(c, EPERM, op == UAPI_TOO_BIG);
		return;
	default:
		if (may_log(&s->rl_bad))
			log_debug("wg show socket: pid %d sent no get or set request", (int)c->pid);
		reply_errno(c, EINVAL, true);
		return;
	}
}

/* Takes the bytes of one request and no more (MSG_PEEK first): the rest is
 * the next request's, read once this one is answered. */
static void conn_read(struct uapi_conn *c)
{
	char buf[1024];
	enum uapi_op op;
	ssize_t n;
	size_t used;

	n = recv(c->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(c); /* gone, or done */
		return;
	}
	used = uapi_parse(&c->parser, buf, (size_t)n, &op);
	if (used && recv(c->fd, buf, used, MSG_DONTWAIT) != (ssize_t)used) {
		conn_free(c);
		return;
	}
	progress(c);
	if (op != UAPI_MORE)
		answer(c, op);
}

/* The events only say that something happened: the socket calls decide. */
static int on_conn(void *arg, uint32_t events)
{
	struct uapi_conn *c = arg;

	(void)events;
	if (c->out)
		conn_write(c);
	else
		conn_read(c);
	return 0;
}

/* The socket file is 0600 and root's; the credentials are checked all the
 * same, since the reply holds the private key. */
static void accept_one(struct uapi_server *s, int fd)
{
	socklen_t len = sizeof(struct ucred);
	struct uapi_conn *c;
	struct ucred cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		if (may_log(&s->rl_refused))
			log_warnx("wg show socket: refused a client that is not root");
		close(fd);
		return;
	}
	if (s->n_conns >= s->max_conns) {
		if (may_log(&s->rl_refused))
			log_warnx("wg show socket: refused pid %d: %u connections open already",
			          (int)cred.pid, s->max_conns);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || loop_add(s->loop, fd, EPOLLIN, on_conn, c) < 0) {
		free(c);
		close(fd);
		return;
	}
	c->srv = s;
	c->fd = fd;
	c->pid = cred.pid;
	progress(c);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	arm_timer(s, true);
}

static int on_listen(void *arg, uint32_t events)
{
	struct uapi_server *s = arg;

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
			/* Level-triggered, the listener would wake us at once
			 * again: rest it until the next tick. */
			if (may_log(&s->rl_dropped))
				log_warn("wg show socket: cannot accept a connection");
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
	struct uapi_server *s = arg;
	uint64_t expirations, now = mono_ns();
	struct uapi_conn *c, *next;

	(void)events;
	if (read(s->timer_fd, &expirations, sizeof(expirations)) < 0)
		return 0;
	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->deadline > now)
			continue;
		if (may_log(&s->rl_dropped))
			log_info("wg show socket: dropped pid %d, which %s for %u ms", (int)c->pid,
			         c->out ? "did not read its reply" : "sent no whole request",
			         s->idle_ms);
		conn_free(c);
	}
	if (!s->listening && loop_mod(s->loop, s->fd, EPOLLIN) == 0)
		s->listening = true;
	if (!s->n_conns && s->listening)
		arm_timer(s, false);
	return 0;
}

int uapi_open(struct uapi_server **out, struct loop *l, const struct uapi_params *p, char *err,
              size_t errlen)
{
	struct uapi_server *s = NULL;
	char path[SOCKFILE_PATH_MAX];
	const char *dir = p->dir ? p->dir : UAPI_DIR;
	int ret;

	*out = NULL;
	if (uapi_socket_path(path, sizeof(path), dir, p->ifname) < 0) {
		snprintf(err, errlen, "%s/%s.sock: path too long for a socket", dir, p->ifname);
		return -ENAMETOOLONG;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->loop = l;
	s->dev = p->dev;
	s->fd = s->timer_fd = -1;
	s->listening = true;
	s->idle_ms = p->idle_ms ? p->idle_ms : UAPI_IDLE_MS;
	s->max_conns = p->max_conns ? p->max_conns : UAPI_MAX_CONNS;
	ret = sockfile_listen(&s->file, path, SOCK_STREAM, 0600, (gid_t)-1, err, errlen);
	if (ret < 0)
		goto fail;
	s->fd = ret;
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ret = s->timer_fd < 0 ? -errno : loop_add(l, s->timer_fd, EPOLLIN, on_tick, s);
	if (ret < 0) {
		snprintf(err, errlen, "timer: %s", strerror(-ret));
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
	free(s);
	return ret;
}

void uapi_close(struct uapi_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_free(s->conns);
	loop_del(s->loop, s->fd);
	loop_del(s->loop, s->timer_fd);
	close(s->fd);
	close(s->timer_fd);
	sockfile_remove(&s->file);
	free(s);
}

size_t uapi_conns(const struct uapi_server *s)
{
	return s->n_conns;
}
