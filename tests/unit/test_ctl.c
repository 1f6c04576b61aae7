/* The control socket (tunnel/ctl.h), without root: replies cut into parts
 * and put back together exactly (at small part sizes, and several MB
 * through a real socket), every malformed request and reply part refused
 * with a reason, an oversized request refused, a client that sends nothing
 * or stops reading dropped while others are served, the connection limit,
 * descriptor passing, the credential rule, and the socket file's life
 * (mode, group, stale files, a live server, removal), and streams (parts
 * as they come, a client that hangs up freed, one that does not read cut
 * off, keepalives, a signal ending the client's call, a last part when the
 * server closes). The server runs its
 * loop in a thread of this process; the clients are the test. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "loop_thread.h"
#include "tunnel/ctl.h"
#include "tunnel/log.h"
#include "tunnel/loop.h"
#include "tunnel/worker.h"

#define IDLE_MS   300
#define MAX_CONNS 4

static char dir[] = "/tmp/test_ctl.XXXXXX";
static char sock_path[128];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A string of n bytes with every kind of character the encoder escapes or
 * must not cut: quotes, backslashes, control bytes, NULs, 2-, 3- and 4-byte
 * UTF-8. */
static json_t *big_string(size_t n)
{
	static const char *const pieces[] = {
	        "flow ", "\"q\"",    "\\",           "\n\t",
	        "\x01",  "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
	        "/"};
	char *s = malloc(n + 8);
	size_t len = 0, i = 0;
	json_t *j;

	while (len < n) {
		const char *p = pieces[i++ % 9];
		size_t pl = strlen(p);

		memcpy(s + len, p, pl);
		len += pl;
		if (i % 7 == 0)
			s[len++] = '\0';
	}
	j = json_stringn(s, len);
	free(s);
	return j;
}

/* n flow-like objects, the kind a flow listing sends. */
static json_t *big_array(size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:I, s:b}", "id", (json_int_t)i,
		                                   "client", "alice", "dst", "203.0.113.80:443",
		                                   "bytes", (json_int_t)(i * 1499), "ok", i % 2));
	return a;
}

/* ---- the server under test, in a thread */

/* "slow": the reply deferred, the work (a sleep of args.ms) on a worker
 * thread, the answer from the loop's thread. */
static struct worker *slow_worker;
static int slow_done_count;

struct slow {
	struct ctl_pending *pending;
	json_int_t ms;
};

static void slow_run(void *arg)
{
	struct slow *sl = arg;

	usleep((useconds_t)sl->ms * 1000);
}

static void slow_done(void *arg)
{
	struct slow *sl = arg;

	slow_done_count++;
	ctl_pending_reply(sl->pending, 0, json_pack("{s:I}", "slept", sl->ms), NULL);
	free(sl);
}

static void slow_cancel(void *arg)
{
	struct slow *sl = arg;

	ctl_pending_reply(sl->pending, -ECANCELED, NULL, "cancelled");
	free(sl);
}

/* "stream": args.n parts {"i": i}, then with args.end a last part "done";
 * the stream's closed() and the index where a send was refused, counted for
 * the test's thread. */
static int streams_closed;
static int flood_refused_at = -1;

static void stream_closed(void *arg)
{
	__atomic_add_fetch(&streams_closed, 1, __ATOMIC_SEQ_CST);
}

static int stream_handler(struct ctl_request *req)
{
	struct ctl_stream *st = ctl_stream_start(req, stream_closed, NULL);
	json_int_t n = 0;
	int end = 0;

	json_unpack(req->args, "{s?I, s?b}", "n", &n, "end", &end);
	for (json_int_t i = 0; i < n; i++) {
		json_t *part = json_pack("{s:I}", "i", i);
		int ret = ctl_stream_send(st, part);

		json_decref(part);
		if (ret == -ENOBUFS) {
			__atomic_store_n(&flood_refused_at, (int)i, __ATOMIC_SEQ_CST);
			return CTL_DEFERRED; /* the token is gone */
		}
	}
	if (end)
		ctl_stream_end(st, 0, json_string("done"), NULL);
	return CTL_DEFERRED;
}

static int handler(void *arg, struct ctl_request *req, json_t **data, char *err, size_t errlen)
{
	json_int_t n = 0;

	if (!strcmp(req->cmd, "stream"))
		return stream_handler(req);

	if (!strcmp(req->cmd, "slow")) {
		struct slow *sl = calloc(1, sizeof(*sl));

		json_unpack(req->args, "{s:I}", "ms", &sl->ms);
		sl->pending = ctl_defer(req);
		if (worker_submit(slow_worker, slow_run, slow_done, slow_cancel, sl) < 0) {
			free(sl);
			snprintf(err, errlen, "busy");
			return -EBUSY;
		}
		return CTL_DEFERRED;
	}

	if (!strcmp(req->cmd, "echo")) {
		*data = json_incref(req->args);
		return 0;
	}
	if (!strcmp(req->cmd, "array") || !strcmp(req->cmd, "string")) {
		json_unpack(req->args, "{s:I}", "n", &n);
		*data = req->cmd[0] == 'a' ? big_array((size_t)n) : big_string((size_t)n);
		return 0;
	}
	if (!strcmp(req->cmd, "object")) { /* too large for a part, and not splittable */
		*data = json_pack("{s:o}", "all", big_string(2 * CTL_MSG_MAX));
		return 0;
	}
	if (!strcmp(req->cmd, "readfd")) {
		char *buf;
		size_t len;
		int ret;

		if (req->fd < 0) {
			snprintf(err, errlen, "no descriptor");
			return -EINVAL;
		}
		ret = ctl_fd_read(req->fd, 1024, &buf, &len, err, errlen);
		if (ret)
			return ret;
		*data = json_stringn(buf, len);
		free(buf);
		return 0;
	}
	if (!strcmp(req->cmd, "fail")) {
		snprintf(err, errlen, "it failed \xff on purpose");
		*data = json_pack("{s:i}", "detail", 7);
		return -EPERM;
	}
	snprintf(err, errlen, "unknown command \"%s\"", req->cmd);
	return -EINVAL;
}

struct server {
	struct loop_thread lt;
	struct ctl_server *srv;
};

static int server_start(struct server *s, const char *path, const char *group)
{
	char err[256];
	int ret;

	if (loop_thread_new(&s->lt) < 0 || worker_new(&slow_worker, s->lt.loop) < 0)
		return -1;
	ret = ctl_server_open(&s->srv, s->lt.loop,
	                      &(struct ctl_server_params){.path = path,
	                                                  .group = group,
	                                                  .idle_ms = IDLE_MS,
	                                                  .max_conns = MAX_CONNS,
	                                                  .handler = handler},
	                      err, sizeof(err));
	if (ret) {
		fprintf(stderr, "server: %s\n", err);
		return ret;
	}
	return loop_thread_start(&s->lt);
}

static void server_stop(struct server *s)
{
	loop_thread_stop(&s->lt);
	worker_free(slow_worker);
	ctl_server_close(s->srv);
	loop_thread_free(&s->lt);
}

/* ---- raw clients */

static int raw_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), sndbuf = 4 * CTL_MSG_MAX;

	strcpy(sa.sun_path, sock_path);
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* Reads a whole reply from s (waiting at most 2 s a part): 0 and *out, or
 * -1 on EOF or garbage; *parts counts the messages. */
static int raw_reply(int s, struct ctl_reply **out, size_t *parts)
{
	struct ctl_reader *rd = ctl_reader_new();
	char *buf = malloc(CTL_MSG_MAX);
	char err[256];
	int ret = -1;

	*out = NULL;
	*parts = 0;
	for (;;) {
		struct pollfd p = {.fd = s, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 2000) != 1)
			break;
		n = recv(s, buf, CTL_MSG_MAX, 0);
		if (n < 0 && errno == ECONNRESET)
			continue;
		if (n <= 0)
			break;
		(*parts)++;
		ret = ctl_reader_feed(rd, buf, (size_t)n, err, sizeof(err));
		if (ret <= 0)
			break;
	}
	if (ret == 0)
		*out = ctl_reader_take(rd);
	ctl_reader_free(rd);
	free(buf);
	return ret == 0 ? 0 : -1;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* Sends len bytes of msg as one request; the reply must be an error whose
 * text holds want. */
static void refused_raw(const char *msg, size_t len, const char *want)
{
	struct ctl_reply *r = NULL;
	size_t parts;
	int s = raw_connect();

	CHECK(s >= 0);
	if (s < 0)
		return;
	CHECK(send(s, msg, len, MSG_NOSIGNAL) == (ssize_t)len);
	CHECK_INT(raw_reply(s, &r, &parts), 0);
	CHECK(r && !r->ok && r->error && strstr(r->error, want));
	CHECK(r && r->error && printable(r->error));
	if (r && (!r->error || !strstr(r->error, want)))
		fprintf(stderr, "  request %.40s: error \"%s\", want \"%s\"\n", msg,
		        r->error ? r->error : "(none)", want);
	ctl_reply_free(r);
	close(s);
}

/* ---- the pure halves */

static void round_trip(const struct ctl_reply *in, size_t part_max)
{
	struct ctl_reader *rd = ctl_reader_new();
	struct ctl_parts *p = NULL;
	struct ctl_reply *out = NULL;
	char err[256];
	int ret = -1;

	CHECK_INT(ctl_reply_encode(in, part_max, &p), 0);
	for (size_t i = 0; p && i < p->n; i++) {
		CHECK(p->len[i] <= part_max);
		ret = ctl_reader_feed(rd, p->buf[i], p->len[i], err, sizeof(err));
		CHECK_INT(ret, i + 1 < p->n ? 1 : 0);
	}
	out = ctl_reader_take(rd);
	CHECK(out != NULL);
	if (out) {
		CHECK_INT(out->ok, in->ok);
		CHECK(in->ok ? !out->error : out->error && !strcmp(out->error, in->error));
		CHECK(in->data ? json_equal(out->data, in->data) : out->data == NULL);
	}
	ctl_reply_free(out);
	ctl_parts_free(p);
	ctl_reader_free(rd);
}

static void test_encode(void)
{
	static const size_t sizes[] = {100, 173, 1000, 65536};
	json_t *values[] = {
	        NULL,
	        json_null(),
	        json_pack("{s:s, s:i}", "version", "0.1.0", "uptime", 5),
	        json_pack("[i,s,n,b,{s:[]},[]]", 1, "two", 1, "x"),
	        json_array(),
	        json_string(""),
	        big_string(5000),
	        big_array(300),
	};
	struct ctl_parts *p = NULL;

	for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			/* Whatever fits is put back exactly, ok or not. */
			struct ctl_reply ok = {.ok = true, .data = values[v]};
			struct ctl_reply bad = {
			        .ok = false, .error = "no: \"quoted\"", .data = values[v]};
			const struct ctl_reply *both[] = {&ok, &bad};

			for (int k = 0; k < 2; k++) {
				int ret = ctl_reply_encode(both[k], sizes[s], &p);

				ctl_parts_free(p);
				if (ret == 0) {
					round_trip(both[k], sizes[s]);
					continue;
				}
				/* Only the flows, whose elements (70 bytes) do not fit
				 * the smallest parts. */
				CHECK_INT(ret, -EMSGSIZE);
				CHECK(v == 7 && sizes[s] < 200);
			}
		}
	}
	/* A split array or string is many parts; one that fits, one. */
	struct ctl_reply r = {.ok = true, .data = values[6]};
	CHECK_INT(ctl_reply_encode(&r, 1000, &p), 0);
	CHECK(p && p->n > 5);
	ctl_parts_free(p);
	r.data = values[2];
	CHECK_INT(ctl_reply_encode(&r, 1000, &p), 0);
	CHECK(p && p->n == 1);
	CHECK(p && p->len[0] < 1000 && !memcmp(p->buf[0], "{\"ok\":true,\"more\":false,", 24));
	ctl_parts_free(p);
	/* What cannot be split does not fit. */
	r.data = values[2];
	CHECK_INT(ctl_reply_encode(&r, 40, &p), -EMSGSIZE);
	json_t *one = json_pack("[o]", big_string(2000));
	r.data = one;
	CHECK_INT(ctl_reply_encode(&r, 1000, &p), -EMSGSIZE);
	json_decref(one);
	/* An error that is not UTF-8 cannot be encoded. */
	struct ctl_reply e = {.ok = false, .error = "bad \xff"};
	CHECK_INT(ctl_reply_encode(&e, 1000, &p), -EINVAL);
	for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++)
		json_decref(values[v]);
}

/* Feeds parts; the last must be refused with -EPROTO, those before taken. */
static void bad_parts(const char *const *parts, size_t n, const char *why)
{
	struct ctl_reader *rd = ctl_reader_new();
	char err[256] = "";
	int ret = 0;

	for (size_t i = 0; i < n; i++)
		ret = ctl_reader_feed(rd, parts[i], strlen(parts[i]), err, sizeof(err));
	CHECK_INT(ret, -EPROTO);
	if (ret != -EPROTO)
		fprintf(stderr, "  accepted: %s\n", why);
	CHECK(ctl_reader_take(rd) == NULL);
	/* and nothing after */
	CHECK(ctl_reader_feed(rd, "{\"ok\":true,\"more\":false}", 24, err, sizeof(err)) < 0);
	ctl_reader_free(rd);
}

static void test_reader(void)
{
	static const struct {
		const char *parts[3];
		const char *why;
	} bad[] = {
	        {{"{\"ok\":true,\"more\":fals"}, "not JSON"},
	        {{"[]"}, "not an object"},
	        {{"{\"more\":false}"}, "no ok"},
	        {{"{\"ok\":true}"}, "no more"},
	        {{"{\"ok\":\"yes\",\"more\":false}"}, "ok not a boolean"},
	        {{"{\"ok\":true,\"more\":0}"}, "more not a boolean"},
	        {{"{\"ok\":true,\"more\":false,\"x\":1}"}, "unknown key"},
	        {{"{\"ok\":false,\"more\":false}"}, "error reply without error"},
	        {{"{\"ok\":false,\"more\":false,\"error\":5}"}, "error not a string"},
	        {{"{\"ok\":false,\"more\":false,\"error\":\"a\\u0000b\"}"}, "error with a NUL"},
	        {{"{\"ok\":true,\"more\":false,\"error\":\"x\"}"}, "ok with an error"},
	        {{"{\"ok\":true,\"more\":false,\"ok\":true}"}, "duplicate key"},
	        {{"{\"ok\":true,\"more\":true,\"data\":{}}"}, "split object"},
	        {{"{\"ok\":true,\"more\":true,\"data\":[1]}", "{\"ok\":false,\"more\":false}"},
	         "ok changes"},
	        {{"{\"ok\":false,\"more\":true,\"error\":\"e\"}",
	          "{\"ok\":false,\"more\":false,\"error\":\"e\"}"},
	         "a second error"},
	        {{"{\"ok\":true,\"more\":true,\"data\":[1]}",
	          "{\"ok\":true,\"more\":false,\"data\":\"s\"}"},
	         "array then string"},
	        {{"{\"ok\":true,\"more\":true,\"data\":[1]}",
	          "{\"ok\":true,\"more\":false,\"data\":5}"},
	         "array then number"},
	        {{"{\"ok\":true,\"more\":false}", "{\"ok\":true,\"more\":false}"}, "after the end"},
	};
	struct ctl_reader *rd = ctl_reader_new();
	struct ctl_reply *r;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = 0;

		while (n < 3 && bad[i].parts[n])
			n++;
		bad_parts(bad[i].parts, n, bad[i].why);
	}
	/* Parts without data count as empty runs. */
	CHECK_INT(ctl_reader_feed(rd, "{\"ok\":true,\"more\":true,\"data\":[1,2]}", 36, err, 256),
	          1);
	CHECK_INT(ctl_reader_feed(rd, "{\"ok\":true,\"more\":true}", 23, err, 256), 1);
	CHECK_INT(ctl_reader_feed(rd, "{\"ok\":true,\"more\":false,\"data\":[3]}", 35, err, 256),
	          0);
	r = ctl_reader_take(rd);
	json_t *want = json_pack("[i,i,i]", 1, 2, 3);
	CHECK(r && r->ok && json_equal(r->data, want));
	json_decref(want);
	ctl_reply_free(r);
	ctl_reader_free(rd);
}

static void test_requests(void)
{
	struct ctl_request req = {0};
	json_t *root = NULL;
	char err[256];

	CHECK_INT(ctl_request_parse("{\"cmd\":\"policy.apply\",\"args\":{\"file\":\"x\"}}", 42,
	                            &root, &req, err, sizeof(err)),
	          0);
	CHECK_STR(req.cmd, "policy.apply");
	CHECK(json_is_string(json_object_get(req.args, "file")));
	json_decref(root);
	CHECK_INT(ctl_request_parse("{\"cmd\":\"status\"}", 16, &root, &req, err, sizeof(err)), 0);
	CHECK(json_is_object(req.args) && json_object_size(req.args) == 0);
	json_decref(root);
	/* The args helpers. */
	static const char *const known[] = {"file", "strict", NULL};
	json_t *args = json_pack("{s:s, s:b, s:i}", "file", "p.yaml", "strict", 1, "n", 3);
	const char *s = NULL;
	bool b = false;
	CHECK_INT(ctl_args_check(args, known, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unknown argument \"n\"") != NULL);
	CHECK_INT(ctl_arg_str(args, "file", true, &s, err, sizeof(err)), 0);
	CHECK_STR(s, "p.yaml");
	CHECK_INT(ctl_arg_str(args, "strict", true, &s, err, sizeof(err)), -EINVAL);
	CHECK_INT(ctl_arg_str(args, "nope", false, &s, err, sizeof(err)), -ENOENT);
	CHECK_INT(ctl_arg_bool(args, "strict", &b, err, sizeof(err)), 0);
	CHECK(b);
	CHECK_INT(ctl_arg_bool(args, "file", &b, err, sizeof(err)), -EINVAL);
	json_decref(args);
}

static void test_peer_rule(void)
{
	gid_t groups[] = {27, 100, 4};

	CHECK(ctl_peer_allowed(0, 0, NULL, 0, false, 0));
	CHECK(ctl_peer_allowed(0, 1000, NULL, 0, true, 100));
	CHECK(!ctl_peer_allowed(1000, 1000, groups, 3, false, 0));
	CHECK(!ctl_peer_allowed(1000, 100, groups, 3, false, 100)); /* no group: root only */
	CHECK(ctl_peer_allowed(1000, 100, NULL, 0, true, 100));     /* primary gid */
	CHECK(ctl_peer_allowed(1000, 1000, groups, 3, true, 100));  /* supplementary */
	CHECK(!ctl_peer_allowed(1000, 1000, groups, 3, true, 50));
	CHECK(!ctl_peer_allowed(65534, 65534, NULL, 0, true, 100));
}

/* ---- the socket file */

static int open_at(struct loop *l, const char *path, const char *group, struct ctl_server **out,
                   char *err)
{
	return ctl_server_open(
	        out, l,
	        &(struct ctl_server_params){.path = path, .group = group, .handler = handler}, err,
	        256);
}

static void test_socket_file(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct loop *l = loop_new();
	struct ctl_server *a = NULL, *b = NULL;
	struct group *g = getgrgid(getegid());
	char path[160], err[256];
	struct stat st;
	int fd;

	/* Not a socket: left alone. */
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(write(fd, "mine", 4) == 4);
	close(fd);
	CHECK_INT(open_at(l, path, NULL, &a, err), -EEXIST);
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4);
	unlink(path);

	/* A stale socket (nobody listens): replaced. */
	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(fd);
	CHECK_INT(open_at(l, path, g ? g->gr_name : NULL, &a, err), 0);
	/* Mode 0660 and the control group. */
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0660);
	CHECK_INT(st.st_gid, getegid());
	/* A live one: refused, and the first server keeps its file. */
	CHECK_INT(open_at(l, path, NULL, &b, err), -EADDRINUSE);
	CHECK(strstr(err, "another server answers") != NULL);
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	ctl_server_close(a);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);

	/* A missing directory is made, 0755; an unknown group refused. */
	snprintf(path, sizeof(path), "%s/run/egress.sock", dir);
	CHECK_INT(open_at(l, path, "no-such-group-egress", &a, err), -ENOENT);
	CHECK_INT(open_at(l, path, NULL, &a, err), 0);
	snprintf(path, sizeof(path), "%s/run", dir);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755);
	ctl_server_close(a);
	rmdir(path);
	loop_free(l);
}

/* ---- the server */

static size_t open_fds(void)
{
	char p[64];
	size_t n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		n += access(p, F_OK) == 0;
	}
	return n;
}

static struct ctl_reply *call(const char *cmd, json_t *args, int fd)
{
	struct ctl_reply *r = NULL;
	char err[256];
	int ret = ctl_call(sock_path, cmd, args, fd, 0, &r, err, sizeof(err));

	CHECK_INT(ret, 0);
	if (ret)
		fprintf(stderr, "  %s: %s\n", cmd, err);
	return r;
}

static void test_malformed(void)
{
	static const struct {
		const char *msg;
		const char *want;
	} bad[] = {
	        {"{", "not JSON"},
	        {"\xff\xfe{}", "not JSON"},
	        {"{\"cmd\":\"echo\"} x", "not JSON"},
	        {"{\"cmd\":\"a\",\"cmd\":\"b\"}", "not JSON"},
	        {"{\"cmd\":\"echo\\u0000x\"}", "not JSON"},
	        {"[]", "is an array, not an object"},
	        {"\"status\"", "is a string, not an object"},
	        {"42", "is a number"},
	        {"{}", "no \"cmd\""},
	        {"{\"cmd\":5}", "\"cmd\" is a number"},
	        {"{\"cmd\":null}", "\"cmd\" is null"},
	        {"{\"cmd\":\"\"}", "not a command name"},
	        {"{\"cmd\":\"Status\"}", "not a command name"},
	        {"{\"cmd\":\"a b\"}", "not a command name"},
	        {"{\"cmd\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	         "not a command name"},
	        {"{\"cmd\":\"echo\",\"args\":[]}", "\"args\" is an array"},
	        {"{\"cmd\":\"echo\",\"args\":\"x\"}", "\"args\" is a string"},
	        {"{\"cmd\":\"echo\",\"extra\":1}", "unknown key \"extra\""},
	        {"{\"cmd\":\"nosuch\"}", "unknown command \"nosuch\""},
	        {"{\"cmd\":\"readfd\"}", "no descriptor"},
	};
	char *deep = malloc(20001);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused_raw(bad[i].msg, strlen(bad[i].msg), bad[i].want);
	refused_raw("", 0, "empty request");
	/* Deeper than the parser goes. */
	memset(deep, '[', 10000);
	memset(deep + 10000, ']', 10000);
	refused_raw(deep, 20000, "not JSON");
	free(deep);
}

static void test_oversized(void)
{
	size_t len = CTL_MSG_MAX + 100;
	char *big = malloc(len);
	struct ctl_reply *r = NULL;
	char err[256];

	/* A valid request, only too large. */
	memcpy(big, "{\"cmd\":\"echo\",\"args\":{\"s\":\"", 27);
	memset(big + 27, 'x', len - 27 - 3);
	memcpy(big + len - 3, "\"}}", 3);
	refused_raw(big, len, "request larger than 131072 bytes");
	/* The client does not even send it. */
	json_t *args = json_pack("{s:s%}", "s", big + 27, len - 30);
	CHECK_INT(ctl_call(sock_path, "echo", args, -1, 2000, &r, err, sizeof(err)), -EMSGSIZE);
	json_decref(args);
	free(big);
}

static void test_big_replies(void)
{
	json_t *args, *want;
	struct ctl_reply *r;
	size_t parts = 0;
	int s;

	/* 60,000 flows (some 4 MB) come back element for element. */
	want = big_array(60000);
	args = json_pack("{s:i}", "n", 60000);
	r = call("array", args, -1);
	CHECK(r && r->ok && json_equal(r->data, want));
	ctl_reply_free(r);
	/* ... in many parts. */
	s = raw_connect();
	char req[64];
	int n = snprintf(req, sizeof(req), "{\"cmd\":\"array\",\"args\":{\"n\":60000}}");
	CHECK(send(s, req, (size_t)n, 0) == n);
	CHECK_INT(raw_reply(s, &r, &parts), 0);
	CHECK(parts > 20);
	CHECK(r && json_equal(r->data, want));
	ctl_reply_free(r);
	close(s);
	json_decref(want);
	json_decref(args);

	/* 5 MB of text, escapes and multibyte characters included. */
	want = big_string(5 << 20);
	args = json_pack("{s:i}", "n", 5 << 20);
	r = call("string", args, -1);
	CHECK(r && r->ok && json_equal(r->data, want));
	ctl_reply_free(r);
	json_decref(want);
	json_decref(args);

	/* An error reply carries its data; raw bytes in it come out as '?'. */
	r = call("fail", NULL, -1);
	CHECK(r && !r->ok && r->error && !strcmp(r->error, "it failed ? on purpose"));
	CHECK(r && json_integer_value(json_object_get(r->data, "detail")) == 7);
	ctl_reply_free(r);
	/* Data too large that cannot be split becomes an error. */
	r = call("object", NULL, -1);
	CHECK(r && !r->ok && r->error && strstr(r->error, "cannot be sent"));
	ctl_reply_free(r);
}

static void test_stalled(void)
{
	struct ctl_reply *r;
	json_t *args = json_pack("{s:s}", "k", "v");
	struct pollfd p;
	size_t parts = 0;
	uint64_t t0;
	char c;
	int a, b;

	/* A client that sends nothing is dropped after IDLE_MS... */
	a = raw_connect();
	t0 = now_ms();
	/* ... while another one is served. */
	r = call("echo", args, -1);
	CHECK(r && r->ok && json_equal(r->data, args));
	ctl_reply_free(r);
	p = (struct pollfd){.fd = a, .events = POLLIN};
	CHECK_INT(poll(&p, 1, 5 * IDLE_MS), 1);
	CHECK_INT(recv(a, &c, 1, MSG_DONTWAIT), 0);
	CHECK(now_ms() - t0 >= IDLE_MS - 20);
	CHECK(now_ms() - t0 <= 3 * IDLE_MS);
	close(a);

	/* One that asks for 4 MB and never reads is dropped too: what it
	 * finds later is a part of the reply, then the end. */
	b = raw_connect();
	const char *req = "{\"cmd\":\"array\",\"args\":{\"n\":60000}}";
	CHECK(send(b, req, strlen(req), 0) == (ssize_t)strlen(req));
	/* Once the reply is under way (the handler may be slow under
	 * sanitizers), stop reading for longer than IDLE_MS. */
	p = (struct pollfd){.fd = b, .events = POLLIN};
	CHECK_INT(poll(&p, 1, 10000), 1);
	usleep(4 * IDLE_MS * 1000);
	r = call("echo", args, -1); /* served meanwhile */
	CHECK(r && r->ok);
	ctl_reply_free(r);
	CHECK_INT(raw_reply(b, &r, &parts), -1);
	CHECK(parts >= 1 && parts < 20);
	ctl_reply_free(r);
	close(b);
	json_decref(args);
}

static void test_limit(void)
{
	struct ctl_reply *r = NULL;
	int idle[MAX_CONNS];
	char err[256];

	for (int i = 0; i < MAX_CONNS; i++)
		idle[i] = raw_connect();
	usleep(50000);
	CHECK_INT(ctl_call(sock_path, "echo", NULL, -1, 2000, &r, err, sizeof(err)), 0);
	CHECK(r && !r->ok && strstr(r->error, "too many connections"));
	ctl_reply_free(r);
	for (int i = 0; i < MAX_CONNS; i++)
		close(idle[i]);
	/* Served again once they are gone. */
	for (int i = 0; i < 100; i++) {
		r = NULL;
		if (ctl_call(sock_path, "echo", NULL, -1, 2000, &r, err, sizeof(err)) == 0 && r->ok)
			break;
		ctl_reply_free(r);
		r = NULL;
		usleep(10000);
	}
	CHECK(r && r->ok);
	ctl_reply_free(r);
}

static void test_fds(void)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} cm;
	char path[160], text[] = "version: 1\ndefault: deny\n";
	const char *req = "{\"cmd\":\"readfd\"}";
	struct iovec iov = {.iov_base = (void *)req, .iov_len = strlen(req)};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = cm.buf,
	                    .msg_controllen = sizeof(cm.buf)};
	struct ctl_reply *r;
	struct cmsghdr *h;
	size_t before, parts;
	int fd, pfd[2], three[3], s;

	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	/* A file travels as a descriptor and is read from its start. */
	r = call("readfd", NULL, fd);
	CHECK(r && r->ok && json_is_string(r->data) && !strcmp(json_string_value(r->data), text));
	ctl_reply_free(r);
	/* Not a regular file: refused without reading. */
	CHECK(pipe(pfd) == 0);
	r = call("readfd", NULL, pfd[0]);
	CHECK(r && !r->ok && strstr(r->error, "not a regular file"));
	ctl_reply_free(r);
	/* Three at once: refused, and all three closed in the server. */
	usleep(20000);
	before = open_fds();
	three[0] = fd, three[1] = pfd[0], three[2] = pfd[1];
	memset(&cm, 0, sizeof(cm));
	h = CMSG_FIRSTHDR(&mh);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(three));
	memcpy(CMSG_DATA(h), three, sizeof(three));
	s = raw_connect();
	CHECK(sendmsg(s, &mh, 0) == (ssize_t)strlen(req));
	CHECK_INT(raw_reply(s, &r, &parts), 0);
	CHECK(r && !r->ok && strstr(r->error, "more than one descriptor"));
	ctl_reply_free(r);
	close(s);
	/* The server is in this process: every descriptor it got is closed. */
	usleep(20000);
	CHECK_INT(open_fds(), before);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
	unlink(path);
}

/* A deferred reply: the loop serves others meanwhile, the answer arrives
 * whole after the idle time has passed, and a client that hangs up before
 * it costs nothing. */
struct slow_call {
	pthread_t thread;
	json_int_t ms;
	struct ctl_reply *r;
};

static void *slow_call_run(void *arg)
{
	struct slow_call *sc = arg;
	json_t *args = json_pack("{s:I}", "ms", sc->ms);
	char err[256];

	if (ctl_call(sock_path, "slow", args, -1, 0, &sc->r, err, sizeof(err)) < 0)
		sc->r = NULL;
	json_decref(args);
	return NULL;
}

static void test_deferred(void)
{
	struct slow_call sc = {.ms = 2 * IDLE_MS};
	struct ctl_reply *r;
	json_int_t slept = 0;
	uint64_t t0;
	const char *slow100 = "{\"cmd\":\"slow\",\"args\":{\"ms\":100}}";
	size_t before;
	int s, done;

	t0 = now_ms();
	CHECK(pthread_create(&sc.thread, NULL, slow_call_run, &sc) == 0);
	usleep(50000);
	/* The loop is free while the slow request waits for its worker. */
	json_t *one = json_pack("{s:i}", "x", 1);
	r = call("echo", one, -1);
	json_decref(one);
	CHECK(r && r->ok);
	CHECK(now_ms() - t0 < (uint64_t)IDLE_MS);
	ctl_reply_free(r);
	pthread_join(sc.thread, NULL);
	CHECK(sc.r && sc.r->ok);
	CHECK(sc.r && json_unpack(sc.r->data, "{s:I}", "slept", &slept) == 0 && slept == sc.ms);
	CHECK(now_ms() - t0 >= (uint64_t)sc.ms);
	ctl_reply_free(sc.r);

	/* Gone before its answer: the answer is dropped, the connection freed. */
	usleep(20000);
	before = open_fds();
	done = slow_done_count;
	s = raw_connect();
	CHECK(send(s, slow100, strlen(slow100), 0) == (ssize_t)strlen(slow100));
	usleep(20000);
	close(s);
	for (int i = 0; i < 100 && slow_done_count == done; i++)
		usleep(10000);
	CHECK_INT(slow_done_count, done + 1);
	usleep(20000);
	CHECK_INT(open_fds(), before);
}

/* ---- streams */

static void test_part_parse(void)
{
	static const char *const bad[] = {
	        "",
	        "nope",
	        "[]",
	        "{\"ok\":true}",
	        "{\"ok\":true,\"more\":1}",
	        "{\"ok\":true,\"more\":true,\"error\":\"x\"}",
	        "{\"ok\":false,\"more\":false}",
	        "{\"ok\":true,\"more\":true,\"extra\":1}",
	};
	struct ctl_reply *r = NULL, in = {.ok = true, .data = NULL};
	char err[256], *buf = NULL;
	bool more = false;
	size_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(ctl_part_parse(bad[i], strlen(bad[i]), &r, &more, err, sizeof(err)),
		          -EPROTO);
		CHECK(!r && printable(err));
	}
	/* a keepalive: no data */
	CHECK_INT(ctl_part_encode(&in, true, CTL_MSG_MAX, &buf, &len), 0);
	CHECK_INT(ctl_part_parse(buf, len, &r, &more, err, sizeof(err)), 0);
	CHECK(r && r->ok && more && !r->data && !r->error);
	ctl_reply_free(r);
	free(buf);
	/* an object part, and a last error part */
	in.data = json_pack("{s:i}", "i", 7);
	CHECK_INT(ctl_part_encode(&in, true, CTL_MSG_MAX, &buf, &len), 0);
	free(buf);
	CHECK_INT(ctl_part_encode(&in, true, len - 1, &buf, &len), -EMSGSIZE);
	CHECK_INT(ctl_part_encode(&in, true, CTL_MSG_MAX, &buf, &len), 0);
	CHECK_INT(ctl_part_parse(buf, len, &r, &more, err, sizeof(err)), 0);
	CHECK(r && r->ok && more && json_equal(r->data, in.data));
	ctl_reply_free(r);
	free(buf);
	json_decref(in.data);
	in = (struct ctl_reply){.ok = false, .error = "too slow"};
	CHECK_INT(ctl_part_encode(&in, false, CTL_MSG_MAX, &buf, &len), 0);
	CHECK_INT(ctl_part_parse(buf, len, &r, &more, err, sizeof(err)), 0);
	CHECK(r && !r->ok && !more && r->error && !strcmp(r->error, "too slow"));
	ctl_reply_free(r);
	free(buf);
}

struct seen_parts {
	json_int_t next;
	bool in_order;
};

static int got_part(void *arg, json_t *data)
{
	struct seen_parts *sp = arg;
	json_int_t i = -1;

	sp->in_order &= json_unpack(data, "{s:I}", "i", &i) == 0 && i == sp->next;
	sp->next++;
	return 0;
}

/* The next message on s within ms: a part, or NULL. */
static struct ctl_reply *raw_part(int s, int ms, bool *more)
{
	struct ctl_reply *r = NULL;
	char buf[4096], err[256];
	struct pollfd p = {.fd = s, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, ms) != 1 || (n = recv(s, buf, sizeof(buf), 0)) <= 0)
		return NULL;
	if (ctl_part_parse(buf, (size_t)n, &r, more, err, sizeof(err)) < 0)
		return NULL;
	return r;
}

static int raw_stream(const char *req)
{
	int s = raw_connect();

	if (s >= 0 && send(s, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		close(s);
		return -1;
	}
	return s;
}

static bool closed_reaches(int want)
{
	for (int i = 0; i < 200 && __atomic_load_n(&streams_closed, __ATOMIC_SEQ_CST) < want; i++)
		usleep(10000);
	return __atomic_load_n(&streams_closed, __ATOMIC_SEQ_CST) == want;
}

static void on_sigusr2(int signo)
{
}

static void *interrupt_main(void *arg)
{
	usleep(200000);
	pthread_kill(*(pthread_t *)arg, SIGUSR2);
	return NULL;
}

static void test_stream(void)
{
	struct seen_parts sp = {.in_order = true};
	struct ctl_reply *r = NULL;
	json_t *args = json_pack("{s:i, s:b}", "n", 5, "end", 1);
	struct sigaction sa = {.sa_handler = on_sigusr2};
	pthread_t self = pthread_self(), t;
	char err[256];
	bool more = false;
	int s, closed = __atomic_load_n(&streams_closed, __ATOMIC_SEQ_CST);
	size_t before = open_fds();
	uint64_t t0;

	/* Parts in order, then the last part; closed() is not called for a
	 * stream its owner ended. */
	CHECK_INT(
	        ctl_stream_call(sock_path, "stream", args, -1, got_part, &sp, &r, err, sizeof(err)),
	        0);
	CHECK(sp.in_order && sp.next == 5);
	CHECK(r && r->ok && json_is_string(r->data) && !strcmp(json_string_value(r->data), "done"));
	ctl_reply_free(r);
	/* An ordinary call cannot take a stream's parts. */
	CHECK_INT(ctl_call(sock_path, "stream", args, -1, 0, &r, err, sizeof(err)), -EPROTO);
	json_decref(args);
	/* An error reply to the request is the last part at once. */
	sp = (struct seen_parts){.in_order = true};
	CHECK_INT(ctl_stream_call(sock_path, "fail", NULL, -1, got_part, &sp, &r, err, sizeof(err)),
	          0);
	CHECK(r && !r->ok && sp.next == 0);
	ctl_reply_free(r);

	/* A client that hangs up: closed() once, the connection freed. */
	s = raw_stream("{\"cmd\":\"stream\",\"args\":{\"n\":2}}");
	for (int i = 0; i < 2; i++) {
		r = raw_part(s, 2000, &more);
		CHECK(r && r->ok && more && r->data);
		ctl_reply_free(r);
	}
	close(s);
	CHECK(closed_reaches(closed + 1));
	usleep(20000);
	CHECK_INT(open_fds(), before);

	/* A client that does not read: the part after CTL_STREAM_QUEUE waiting
	 * is refused, and what waits is replaced by the error as the last part;
	 * the owner is told by the refusal, not by closed(). */
	s = raw_stream("{\"cmd\":\"stream\",\"args\":{\"n\":300}}");
	usleep(100000);
	CHECK_INT(__atomic_load_n(&flood_refused_at, __ATOMIC_SEQ_CST), CTL_STREAM_QUEUE);
	r = raw_part(s, 2000, &more);
	CHECK(r && !r->ok && !more && r->error && strstr(r->error, "too slow"));
	ctl_reply_free(r);
	CHECK(!raw_part(s, 500, &more)); /* and the server closed it */
	close(s);
	CHECK(closed_reaches(closed + 1));

	/* A quiet stream gets keepalives: parts without data. */
	s = raw_stream("{\"cmd\":\"stream\"}");
	t0 = now_ms();
	r = raw_part(s, CTL_KEEPALIVE_MS + 3000, &more);
	CHECK(r && r->ok && more && !r->data);
	CHECK(now_ms() - t0 >= CTL_KEEPALIVE_MS - 100);
	ctl_reply_free(r);
	close(s);
	CHECK(closed_reaches(closed + 2));

	/* A signal ends the client's call (no SA_RESTART): -EINTR, and the
	 * server notices the hang-up. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	args = json_pack("{s:i}", "n", 1);
	sp = (struct seen_parts){.in_order = true};
	CHECK(pthread_create(&t, NULL, interrupt_main, &self) == 0);
	t0 = now_ms();
	CHECK_INT(
	        ctl_stream_call(sock_path, "stream", args, -1, got_part, &sp, &r, err, sizeof(err)),
	        -EINTR);
	CHECK(now_ms() - t0 < 2000 && sp.next == 1 && !r);
	pthread_join(t, NULL);
	json_decref(args);
	signal(SIGUSR2, SIG_DFL);
	CHECK(closed_reaches(closed + 3));
}

int main(void)
{
	struct server s;

	log_set_level(LOG_LVL_ERR);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", dir);
	test_peer_rule();
	test_requests();
	test_encode();
	test_reader();
	test_socket_file();
	CHECK_INT(server_start(&s, sock_path, NULL), 0);
	test_malformed();
	test_oversized();
	test_big_replies();
	test_stalled();
	test_limit();
	test_fds();
	test_deferred();
	test_part_parse();
	test_stream();
	/* A stream open when the server closes: its last part, then closed(). */
	int live = raw_stream("{\"cmd\":\"stream\",\"args\":{\"n\":1}}");
	int closed = __atomic_load_n(&streams_closed, __ATOMIC_SEQ_CST);
	bool more = true;
	struct ctl_reply *r = raw_part(live, 2000, &more);

	CHECK(r && r->ok && more);
	ctl_reply_free(r);
	server_stop(&s);
	CHECK_INT(__atomic_load_n(&streams_closed, __ATOMIC_SEQ_CST), closed + 1);
	r = raw_part(live, 2000, &more);
	CHECK(r && r->ok && !more);
	ctl_reply_free(r);
	close(live);
	rmdir(dir);
	return check_done("test_ctl");
}
