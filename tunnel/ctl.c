/* The control protocol's messages (see ctl.h): request parsing, replies cut
 * into parts and put back together, the client's call, and the helpers
 * handlers use. The server is in ctl_server.c. */
#include "tunnel/ctl.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* Writes a message into err and makes it printable ASCII: it may quote what
 * a peer sent, and goes into logs and replies. Returns ret. */
static int say(int ret, char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int say(int ret, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errlen)
		return ret;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return ret;
}

/* At most 40 bytes of s, for quoting in a message (say() cleans it). */
static const char *cut(const char *s, char buf[48])
{
	size_t n = strlen(s);

	if (n <= 40)
		return s;
	memcpy(buf, s, 37);
	strcpy(buf + 37, "...");
	return buf;
}

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* ---- requests */

static bool valid_cmd(const char *s, size_t len)
{
	if (!len || len >= CTL_CMD_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

int ctl_request_parse(const void *buf, size_t len, json_t **root, struct ctl_request *req,
                      char *err, size_t errlen)
{
	json_t *j = NULL, *cmd, *args, *v;
	json_error_t je;
	const char *key;
	char q[48];
	int ret = -EINVAL;

	*root = NULL;
	if (!len)
		return say(-EINVAL, err, errlen, "empty request");
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!j)
		return say(-EINVAL, err, errlen, "request is not JSON: %s (at byte %d)", je.text,
		           je.position);
	if (!json_is_object(j)) {
		say(ret, err, errlen, "request is %s, not an object", type_name(j));
		goto out;
	}
	json_object_foreach(j, key, v)
	{
		if (strcmp(key, "cmd") && strcmp(key, "args")) {
			say(ret, err, errlen, "request has an unknown key \"%s\"", cut(key, q));
			goto out;
		}
	}
	cmd = json_object_get(j, "cmd");
	if (!cmd) {
		say(ret, err, errlen, "request has no \"cmd\"");
		goto out;
	}
	if (!json_is_string(cmd)) {
		say(ret, err, errlen, "\"cmd\" is %s, not a string", type_name(cmd));
		goto out;
	}
	if (!valid_cmd(json_string_value(cmd), json_string_length(cmd))) {
		say(ret, err, errlen,
		    "\"cmd\": \"%s\" is not a command name (1-%d of a-z 0-9 . _ -)",
		    cut(json_string_value(cmd), q), CTL_CMD_MAX - 1);
		goto out;
	}
	args = json_object_get(j, "args");
	if (args && !json_is_object(args)) {
		say(ret, err, errlen, "\"args\" is %s, not an object", type_name(args));
		goto out;
	}
	if (!args) {
		args = json_object();
		if (!args || json_object_set_new(j, "args", args) < 0) {
			ret = say(-ENOMEM, err, errlen, "out of memory");
			goto out;
		}
	}
	req->cmd = json_string_value(cmd);
	req->args = args;
	*root = j;
	return 0;
out:
	json_decref(j);
	return ret;
}

/* ---- replies: encoding into parts */

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_put(struct buf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int buf_str(struct buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

void ctl_parts_free(struct ctl_parts *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->buf[i]);
	free(p->buf);
	free(p->len);
	free(p);
}

struct encoder {
	const struct ctl_reply *r;
	size_t part_max;
	const char *error; /* the error as a JSON string, or NULL */
	struct ctl_parts *parts;
	size_t cap;
};

/* The bytes of a part around its data: {"ok":..,"more":false,"error":..,"data":}
 * (with more false, the longer of the two). */
static size_t overhead(const struct encoder *e, bool first)
{
	return strlen("{\"ok\":false,\"more\":false,\"data\":}") +
	       (first && e->error ? strlen(",\"error\":") + strlen(e->error) : 0);
}

/* Appends the part holding data text (NULL: no data key). */
static int emit(struct encoder *e, bool more, const char *open, const char *data, size_t len,
                const char *close)
{
	struct ctl_parts *p = e->parts;
	struct buf b = {0};
	bool first = p->n == 0;
	int ret;

	if (p->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 4;
		char **nb = realloc(p->buf, cap * sizeof(*nb));
		size_t *nl;

		if (!nb)
			return -ENOMEM;
		p->buf = nb;
		nl = realloc(p->len, cap * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		p->len = nl;
		e->cap = cap;
	}
	ret = buf_str(&b, e->r->ok ? "{\"ok\":true" : "{\"ok\":false");
	if (!ret)
		ret = buf_str(&b, more ? ",\"more\":true" : ",\"more\":false");
	if (!ret && first && e->error) {
		ret = buf_str(&b, ",\"error\":");
		if (!ret)
			ret = buf_str(&b, e->error);
	}
	if (!ret && data) {
		ret = buf_str(&b, ",\"data\":");
		if (!ret)
			ret = buf_str(&b, open);
		if (!ret)
			ret = buf_put(&b, data, len);
		if (!ret)
			ret = buf_str(&b, close);
	}
	if (!ret)
		ret = buf_str(&b, "}");
	if (ret) {
		free(b.p);
		return ret;
	}
	if (b.len > e->part_max) { /* only when the error alone is too long */
		free(b.p);
		return -EMSGSIZE;
	}
	p->buf[p->n] = b.p;
	p->len[p->n] = b.len;
	p->n++;
	return 0;
}

/* Elements packed greedily into parts, each element whole. */
static int split_array(struct encoder *e, const json_t *a)
{
	struct buf body = {0};
	size_t i, count = 0;
	json_t *v;
	int ret = 0;

	json_array_foreach(a, i, v)
	{
		size_t room = overhead(e, e->parts->n == 0) + 2; /* [ and ] */
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		size_t tl;

		if (!t) {
			ret = -EINVAL;
			break;
		}
		tl = strlen(t);
		if (count && room + body.len + 1 + tl > e->part_max) {
			ret = emit(e, true, "[", body.p, body.len, "]");
			body.len = 0;
			count = 0;
			room = overhead(e, false) + 2;
		}
		if (!ret && room + tl > e->part_max)
			ret = -EMSGSIZE;
		if (!ret && count)
			ret = buf_put(&body, ",", 1);
		if (!ret)
			ret = buf_put(&body, t, tl);
		free(t);
		if (ret)
			break;
		count++;
	}
	if (!ret)
		ret = emit(e, false, "[", body.p ? body.p : "", body.len, "]");
	free(body.p);
	return ret;
}

/* Runs of bytes cut between UTF-8 sequences, each as large as fits once
 * escaped. */
static int split_string(struct encoder *e, const json_t *s)
{
	const char *v = json_string_value(s);
	size_t n = json_string_length(s), off = 0;
	int ret = 0;

	do {
		size_t room = overhead(e, e->parts->n == 0), budget, take;
		char *t = NULL;
		size_t tl = 0;

		if (room >= e->part_max)
			return -EMSGSIZE;
		budget = e->part_max - room;
		take = n - off < budget ? n - off : budget;
		for (;;) {
			json_t *chunk;

			while (take && off + take < n &&
			       ((unsigned char)v[off + take] & 0xc0) == 0x80)
				take--;
			if (!take && off < n)
				return -EMSGSIZE;
			chunk = json_stringn(v + off, take);
			t = chunk ? json_dumps(chunk, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
			json_decref(chunk);
			if (!t)
				return -ENOMEM;
			tl = strlen(t);
			if (tl <= budget)
				break;
			free(t);
			/* Escapes made it longer: shrink in proportion, at least by one. */
			take = take * budget / tl < take ? take * budget / tl : take - 1;
		}
		ret = emit(e, off + take < n, "", t, tl, "");
		free(t);
		off += take;
	} while (!ret && off < n);
	return ret;
}

int ctl_reply_encode(const struct ctl_reply *r, size_t part_max, struct ctl_parts **out)
{
	struct encoder e = {.r = r, .part_max = part_max};
	char *error = NULL, *t = NULL;
	int ret;

	*out = NULL;
	e.parts = calloc(1, sizeof(*e.parts));
	if (!e.parts)
		return -ENOMEM;
	if (!r->ok) {
		json_t *s = json_string(r->error ? r->error : "failed");

		error = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
		json_decref(s);
		if (!error) {
			ret = -EINVAL;
			goto out;
		}
		e.error = error;
	}
	if (json_is_array(r->data)) {
		ret = split_array(&e, r->data);
	} else if (json_is_string(r->data)) {
		ret = split_string(&e, r->data);
	} else if (r->data) {
		t = json_dumps(r->data, JSON_COMPACT | JSON_ENCODE_ANY);
		ret = t ? emit(&e, false, "", t, strlen(t), "") : -EINVAL;
	} else {
		ret = emit(&e, false, NULL, NULL, 0, NULL);
	}
out:
	free(t);
	free(error);
	if (ret) {
		ctl_parts_free(e.parts);
		return ret;
	}
	*out = e.parts;
	return 0;
}

int ctl_part_encode(const struct ctl_reply *r, bool more, size_t part_max, char **buf, size_t *len)
{
	json_t *j;
	char *t;

	*buf = NULL;
	j = json_pack("{s:b, s:b}", "ok", r->ok, "more", more);
	if (!j)
		return -ENOMEM;
	if ((!r->ok &&
	     json_object_set_new(j, "error", json_string(r->error ? r->error : "failed"))) ||
	    (r->data && json_object_set(j, "data", r->data))) {
		json_decref(j);
		return -EINVAL; /* an error that is not UTF-8 */
	}
	t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (!t)
		return -EINVAL;
	*len = strlen(t);
	if (*len > part_max) {
		free(t);
		return -EMSGSIZE;
	}
	*buf = t;
	return 0;
}

void ctl_reply_free(struct ctl_reply *r)
{
	if (!r)
		return;
	free(r->error);
	json_decref(r->data);
	free(r);
}

/* ---- replies: reading them back */

enum { KIND_NONE, KIND_ARRAY, KIND_STRING };

struct ctl_reader {
	int state; /* 0 reading, 1 complete, -1 failed */
	size_t parts, total;
	bool ok;
	char *error;
	int kind;
	json_t *array;
	struct buf str;
	struct ctl_reply *reply;
};

struct ctl_reader *ctl_reader_new(void)
{
	return calloc(1, sizeof(struct ctl_reader));
}

void ctl_reader_free(struct ctl_reader *rd)
{
	if (!rd)
		return;
	free(rd->error);
	json_decref(rd->array);
	free(rd->str.p);
	ctl_reply_free(rd->reply);
	free(rd);
}

struct ctl_reply *ctl_reader_take(struct ctl_reader *rd)
{
	struct ctl_reply *r = rd->reply;

	rd->reply = NULL;
	return r;
}

/* Checks one part's envelope: 0 or -EPROTO with the reason. */
static int part_check(const json_t *j, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(j))
		return say(-EPROTO, err, errlen, "a reply part is %s, not an object", type_name(j));
	json_object_foreach((json_t *)j, key, v)
	{
		if (strcmp(key, "ok") && strcmp(key, "more") && strcmp(key, "error") &&
		    strcmp(key, "data"))
			return say(-EPROTO, err, errlen, "a reply part has an unknown key");
	}
	if (!json_is_boolean(json_object_get(j, "ok")))
		return say(-EPROTO, err, errlen, "a reply part has no boolean \"ok\"");
	if (!json_is_boolean(json_object_get(j, "more")))
		return say(-EPROTO, err, errlen, "a reply part has no boolean \"more\"");
	v = json_object_get(j, "error");
	if (v && (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)))
		return say(-EPROTO, err, errlen, "a reply's \"error\" is not a string");
	return 0;
}

/* One part's JSON into *j, its envelope checked: 0, or -EPROTO with the
 * reason and nothing kept. */
static int part_load(const void *buf, size_t len, json_t **j, char *err, size_t errlen)
{
	json_error_t je;
	int ret;

	*j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
	if (!*j)
		return say(-EPROTO, err, errlen, "a reply part is not JSON: %s", je.text);
	ret = part_check(*j, err, errlen);
	if (ret) {
		json_decref(*j);
		*j = NULL;
	}
	return ret;
}

int ctl_part_parse(const void *buf, size_t len, struct ctl_reply **out, bool *more, char *err,
                   size_t errlen)
{
	struct ctl_reply *r = NULL;
	json_t *j, *error;
	int ret;

	*out = NULL;
	ret = part_load(buf, len, &j, err, errlen);
	if (ret)
		return ret;
	r = calloc(1, sizeof(*r));
	if (!r) {
		ret = say(-ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	r->ok = json_is_true(json_object_get(j, "ok"));
	*more = json_is_true(json_object_get(j, "more"));
	error = json_object_get(j, "error");
	if (r->ok == !!error) {
		ret = say(-EPROTO, err, errlen,
		          r->ok ? "a reply that is ok has an \"error\""
		                : "an error reply without \"error\"");
		goto out;
	}
	if (error && !(r->error = strdup(json_string_value(error)))) {
		ret = say(-ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	r->data = json_incref(json_object_get(j, "data"));
	*out = r;
	r = NULL;
out:
	ctl_reply_free(r);
	json_decref(j);
	return ret;
}

/* Adds one part's data to a split reply. */
static int add_data(struct ctl_reader *rd, json_t *data, char *err, size_t errlen)
{
	int kind;

	if (!data)
		return 0;
	kind = json_is_array(data) ? KIND_ARRAY : json_is_string(data) ? KIND_STRING : KIND_NONE;
	if (kind == KIND_NONE)
		return say(-EPROTO, err, errlen,
		           "a part of a split reply holds %s, not an array or a string",
		           type_name(data));
	if (rd->kind != KIND_NONE && rd->kind != kind)
		return say(-EPROTO, err, errlen, "the parts of a reply hold different types");
	rd->kind = kind;
	if (kind == KIND_STRING) {
		if (buf_put(&rd->str, json_string_value(data), json_string_length(data)) < 0)
			return say(-ENOMEM, err, errlen, "out of memory");
		return 0;
	}
	if (!rd->array && !(rd->array = json_array()))
		return say(-ENOMEM, err, errlen, "out of memory");
	if (json_array_extend(rd->array, data) < 0)
		return say(-ENOMEM, err, errlen, "out of memory");
	return 0;
}

static int finish(struct ctl_reader *rd, json_t *single, char *err, size_t errlen)
{
	struct ctl_reply *r = calloc(1, sizeof(*r));

	if (!r)
		return say(-ENOMEM, err, errlen, "out of memory");
	r->ok = rd->ok;
	r->error = rd->error;
	rd->error = NULL;
	if (single) {
		r->data = json_incref(single);
	} else if (rd->kind == KIND_ARRAY) {
		r->data = rd->array;
		rd->array = NULL;
	} else if (rd->kind == KIND_STRING) {
		/* Runs of valid UTF-8 put together are valid UTF-8. */
		r->data = json_stringn(rd->str.p ? rd->str.p : "", rd->str.len);
		if (!r->data) {
			ctl_reply_free(r);
			return say(-ENOMEM, err, errlen, "out of memory");
		}
	}
	rd->reply = r;
	return 0;
}

static int feed(struct ctl_reader *rd, const void *buf, size_t len, char *err, size_t errlen)
{
	json_t *j, *error, *data;
	bool ok, more;
	int ret;

	if (rd->state)
		return say(-EPROTO, err, errlen, "a message after the end of the reply");
	if (len > CTL_REPLY_MAX - rd->total)
		return say(-EMSGSIZE, err, errlen, "a reply larger than %u bytes", CTL_REPLY_MAX);
	rd->total += len;
	ret = part_load(buf, len, &j, err, errlen);
	if (ret)
		return ret;
	ok = json_is_true(json_object_get(j, "ok"));
	more = json_is_true(json_object_get(j, "more"));
	error = json_object_get(j, "error");
	data = json_object_get(j, "data");
	if (rd->parts == 0) {
		rd->ok = ok;
		if (ok && error) {
			ret = say(-EPROTO, err, errlen, "a reply that is ok has an \"error\"");
			goto out;
		}
		if (!ok && !error) {
			ret = say(-EPROTO, err, errlen, "an error reply without \"error\"");
			goto out;
		}
		if (error && !(rd->error = strdup(json_string_value(error)))) {
			ret = say(-ENOMEM, err, errlen, "out of memory");
			goto out;
		}
	} else if (ok != rd->ok || error) {
		ret = say(-EPROTO, err, errlen,
		          "a later part of a reply changes \"ok\" or \"error\"");
		goto out;
	}
	if (rd->parts == 0 && !more) {
		ret = finish(rd, data, err, errlen);
	} else {
		ret = add_data(rd, data, err, errlen);
		if (!ret && !more)
			ret = finish(rd, NULL, err, errlen);
	}
	rd->parts++;
	if (!ret)
		ret = more ? 1 : 0;
out:
	json_decref(j);
	return ret;
}

int ctl_reader_feed(struct ctl_reader *rd, const void *buf, size_t len, char *err, size_t errlen)
{
	int ret = feed(rd, buf, len, err, errlen);

	if (ret < 0) {
		rd->state = -1;
		ctl_reply_free(rd->reply);
		rd->reply = NULL;
	} else if (ret == 0)
		rd->state = 1;
	return ret;
}

/* ---- the client */

static int send_request(int s, const char *text, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = {.iov_base = (void *)text, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (sendmsg(s, &mh, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int connect_to(const char *path, unsigned timeout_ms, int *out, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000,
	                     .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s, sndbuf = 2 * CTL_MSG_MAX, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return say(-ENAMETOOLONG, err, errlen, "%s: path too long for a socket", path);
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return say(-errno, err, errlen, "socket: %s", strerror(errno));
	/* Blocking, with timeouts: connect() to a full backlog and every later
	 * call then give up with EAGAIN. */
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
		close(s);
		return say(ret, err, errlen, "cannot connect to %s: %s", path, strerror(-ret));
	}
	*out = s;
	return 0;
}

/* Connects to path and sends {"cmd": cmd, "args": args} with fd: 0 with
 * *out, the socket (its timeouts timeout_ms), or -errno with err. */
static int send_call(const char *path, const char *cmd, json_t *args, int fd, unsigned timeout_ms,
                     int *out, bool *unsent, char *err, size_t errlen)
{
	json_t *req;
	char *text = NULL;
	int s = -1, ret, send_err;
	size_t len;

	*out = -1;
	req = json_pack("{s:s}", "cmd", cmd);
	if (req && (!args || json_object_set(req, "args", args) == 0))
		text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text)
		return say(-ENOMEM, err, errlen, "out of memory");
	len = strlen(text);
	if (len > CTL_MSG_MAX) {
		ret = say(-EMSGSIZE, err, errlen, "request of %zu bytes is larger than %d", len,
		          CTL_MSG_MAX);
		goto out;
	}
	ret = connect_to(path, timeout_ms, &s, err, errlen);
	if (ret)
		goto out;
	/* A server that refuses us has answered and closed before reading:
	 * the answer is still there to read. */
	send_err = send_request(s, text, len, fd);
	if (send_err == -EAGAIN) {
		ret = say(-ETIMEDOUT, err, errlen, "%s takes no request (timed out)", path);
		goto out;
	}
	if (send_err && send_err != -EPIPE && send_err != -ECONNRESET) {
		ret = say(send_err, err, errlen, "cannot send to %s: %s", path,
		          strerror(-send_err));
		goto out;
	}
	*unsent = send_err != 0;
	*out = s;
	s = -1;
out:
	if (s >= 0)
		close(s);
	free(text);
	return ret;
}

/* The next message from s into rbuf: its length (> 0), or -errno with err:
 * -ETIMEDOUT, -EPROTO (closed, or too large), -EINTR when stop_on_signal. */
static int recv_part(int s, char *rbuf, const char *path, unsigned timeout_ms, bool stop_on_signal,
                     bool unsent, bool *reset, char *err, size_t errlen)
{
	for (;;) {
		struct iovec iov = {.iov_base = rbuf, .iov_len = CTL_MSG_MAX};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR && stop_on_signal)
			return -EINTR;
		if (n < 0 && errno == EINTR)
			continue;
		/* A server that closes with our request unread (a refusal) leaves
		 * ECONNRESET, reported once, ahead of the reply it queued. */
		if (n < 0 && errno == ECONNRESET && !*reset) {
			*reset = true;
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			return say(-ETIMEDOUT, err, errlen, "no answer from %s within %u ms", path,
			           timeout_ms);
		if (n <= 0)
			return say(-EPROTO, err, errlen, "%s closed the connection before %s", path,
			           unsent ? "taking the request" : "the end of its reply");
		if (mh.msg_flags & MSG_TRUNC)
			return say(-EPROTO, err, errlen, "%s sent a message larger than %d bytes",
			           path, CTL_MSG_MAX);
		return (int)n;
	}
}

int ctl_call(const char *path, const char *cmd, json_t *args, int fd, unsigned timeout_ms,
             struct ctl_reply **out, char *err, size_t errlen)
{
	struct ctl_reader *rd = NULL;
	char *rbuf = NULL;
	int s = -1, ret;
	bool reset = false, unsent = false;

	*out = NULL;
	if (!timeout_ms)
		timeout_ms = CTL_TIMEOUT_MS;
	rbuf = malloc(CTL_MSG_MAX);
	rd = ctl_reader_new();
	if (!rbuf || !rd) {
		ret = say(-ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	ret = send_call(path, cmd, args, fd, timeout_ms, &s, &unsent, err, errlen);
	while (!ret) {
		int n = recv_part(s, rbuf, path, timeout_ms, false, unsent, &reset, err, errlen);

		ret = n < 0 ? n : ctl_reader_feed(rd, rbuf, (size_t)n, err, errlen);
		if (ret == 1)
			ret = 0;
		else if (ret == 0)
			break;
	}
	if (!ret)
		*out = ctl_reader_take(rd);
out:
	if (s >= 0)
		close(s);
	ctl_reader_free(rd);
	free(rbuf);
	return ret;
}

int ctl_stream_call(const char *path, const char *cmd, json_t *args, int fd, ctl_part_fn *part,
                    void *arg, struct ctl_reply **out, char *err, size_t errlen)
{
	struct ctl_reply *r = NULL;
	char *rbuf = malloc(CTL_MSG_MAX);
	int s = -1, ret;
	bool reset = false, unsent = false, more = true;

	*out = NULL;
	if (!rbuf)
		return say(-ENOMEM, err, errlen, "out of memory");
	ret = send_call(path, cmd, args, fd, CTL_STREAM_TIMEOUT_MS, &s, &unsent, err, errlen);
	while (!ret && more) {
		int n = recv_part(s, rbuf, path, CTL_STREAM_TIMEOUT_MS, true, unsent, &reset, err,
		                  errlen);

		ctl_reply_free(r);
		r = NULL;
		ret = n < 0 ? n : ctl_part_parse(rbuf, (size_t)n, &r, &more, err, errlen);
		if (!ret && more && !r->ok)
			ret = say(-EPROTO, err, errlen, "an error part with more to come");
		else if (!ret && more && r->data)
			ret = part(arg, r->data);
	}
	if (!ret) {
		*out = r;
		r = NULL;
	}
	ctl_reply_free(r);
	if (s >= 0)
		close(s);
	free(rbuf);
	return ret;
}

/* ---- helpers for handlers */

int ctl_args_check(json_t *args, const char *const *known, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	char q[48];

	json_object_foreach(args, key, v)
	{
		size_t i;

		for (i = 0; known[i]; i++)
			if (!strcmp(key, known[i]))
				break;
		if (!known[i])
			return say(-EINVAL, err, errlen, "unknown argument \"%s\"", cut(key, q));
	}
	return 0;
}

int ctl_arg_str(json_t *args, const char *key, bool required, const char **out, char *err,
                size_t errlen)
{
	json_t *v = json_object_get(args, key);

	if (!v)
		return required ? say(-ENOENT, err, errlen, "missing argument \"%s\"", key)
		                : -ENOENT;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return say(-EINVAL, err, errlen, "argument \"%s\" is %s, not a string", key,
		           json_is_string(v) ? "a string with a NUL byte" : type_name(v));
	*out = json_string_value(v);
	return 0;
}

int ctl_arg_bool(json_t *args, const char *key, bool *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(args, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return say(-EINVAL, err, errlen, "argument \"%s\" is %s, not a boolean", key,
		           type_name(v));
	*out = json_is_true(v);
	return 0;
}

int ctl_fd_read(int fd, size_t max, char **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *p = NULL;
	size_t n = 0;
	int ret;

	*buf = NULL;
	if (fstat(fd, &st) < 0)
		return say(-errno, err, errlen, "passed descriptor: %s", strerror(errno));
	/* A FIFO, socket or device could block the loop or never end. */
	if (!S_ISREG(st.st_mode))
		return say(-EINVAL, err, errlen, "passed descriptor is not a regular file");
	if ((uint64_t)st.st_size > max)
		return say(-EFBIG, err, errlen, "passed file is larger than %zu bytes", max);
	p = malloc(max + 1);
	if (!p)
		return say(-ENOMEM, err, errlen, "out of memory");
	/* From the start whatever the offset, and never more than max + 1:
	 * the file may grow while we read. */
	for (;;) {
		ssize_t r = pread(fd, p + n, max + 1 - n, (off_t)n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = say(-errno, err, errlen, "passed file: %s", strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			ret = say(-EFBIG, err, errlen, "passed file is larger than %zu bytes", max);
			goto fail;
		}
	}
	p[n] = '\0';
	*buf = p;
	*len = n;
	return 0;
fail:
	free(p);
	return ret;
}
