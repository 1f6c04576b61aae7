/* `wg show` (tunnel/uapi.h), without root: the request parser on whole
 * requests, junk, oversized set requests and every way of cutting a stream
 * into reads; the get reply rendered from a device with two peers, one of
 * which has done a handshake and sent a packet; and the server in a thread of
 * this process: get, set refused, junk answered and closed, several requests
 * on one connection, a reply larger than the socket's buffer to a slow reader,
 * clients that stall dropped, the connection limit, and the socket file's life
 * (mode 0600, stale files of either type replaced, a live server of either
 * type refused, removal). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "tunnel/loop.h"
#include "tunnel/uapi.h"
#include "loop_thread.h"
#include "wgtest.h"

#define IDLE_MS   300
#define MAX_CONNS 4

static char dir[] = "/tmp/test_uapi.XXXXXX";
static char sock_path[128];

/* ---- the parser */

/* Feeds s (len bytes) in pieces of step bytes and lists what it ends with:
 * "G" per get, "S" per set, then "I" or "B" (too big) if it ends so, "." if
 * it ends in the middle of a request. */
static void parse_all(const char *s, size_t len, size_t step, char *out, size_t outlen)
{
	struct uapi_parser p = {0};
	enum uapi_op op = UAPI_MORE;
	size_t off = 0, n = 0;

	while (off < len && n + 2 < outlen) {
		size_t piece = len - off < step ? len - off : step;
		size_t used = uapi_parse(&p, s + off, piece, &op);

		off += used;
		if (op == UAPI_GET || op == UAPI_SET)
			out[n++] = op == UAPI_GET ? 'G' : 'S';
		else if (op == UAPI_INVALID || op == UAPI_TOO_BIG)
			break;
		else if (used != piece)
			out[n++] = '?'; /* MORE must take every byte */
	}
	if (op == UAPI_INVALID)
		out[n++] = 'I';
	else if (op == UAPI_TOO_BIG)
		out[n++] = 'B';
	else if (op == UAPI_MORE)
		out[n++] = '.';
	out[n] = '\0';
}

static void check_parse(const char *s, size_t len, const char *want)
{
	char got[64];

	/* The same whatever the reads: whole, byte by byte, and in threes. */
	for (size_t step = 1; step <= len + 1; step = step == 1 ? 3 : step == 3 ? len + 1 : step) {
		parse_all(s, len, step, got, sizeof(got));
		CHECK_STR(got, want);
		if (strcmp(got, want) != 0)
			fprintf(stderr, "  in %zu-byte reads of \"%.*s\"\n", step, (int)len, s);
		if (step == len + 1)
			break;
	}
}

#define PARSE(lit, want) check_parse(lit, sizeof(lit) - 1, want)

static void test_parse(void)
{
	struct uapi_parser p = {0};
	enum uapi_op op;
	char *big;

	PARSE("get=1\n\n", "G");
	PARSE("set=1\npublic_key=00\nremove=true\n\n", "S");
	PARSE("set=1\n\n", "S");
	PARSE("get=1\n\nget=1\n\n", "GG");
	PARSE("set=1\nx=1\n\nget=1\n\n", "SG");
	PARSE("get=1\n", ".");
	PARSE("get=1", ".");
	PARSE("", ".");
	PARSE("set=1\nprivate_key=00\n", ".");
	/* Junk: anything but the two operations, a get with a line, any case. */
	PARSE("\n", "I");
	PARSE("foo=1\n\n", "I");
	PARSE("get=2\n\n", "I");
	PARSE("get=11\n\n", "I");
	PARSE("GET=1\n\n", "I");
	PARSE("get=1 \n\n", "I");
	PARSE("get=1\r\n\r\n", "I");
	PARSE("get=1\nx\n\n", "I");
	PARSE("get\n\n", "I");
	PARSE("get=1\n\nfoo\n", "GI");
	PARSE("get=\0\n\n", "I");
	PARSE("set=1\0\n\n", "I");
	/* An operation line longer than any operation is junk before its end. */
	PARSE("get=1get=1get=1get=1", "I");

	/* Nothing is taken after junk. */
	CHECK_INT(uapi_parse(&p, "foo\n", 4, &op), 4);
	CHECK_INT(op, UAPI_INVALID);
	CHECK_INT(uapi_parse(&p, "get=1\n\n", 7, &op), 0);
	CHECK_INT(op, UAPI_INVALID);

	/* A set request up to UAPI_SET_MAX bytes after its operation line is
	 * read to its end; one byte more is too big, and final. */
	big = malloc(UAPI_SET_MAX + 16);
	memcpy(big, "set=1\n", 6);
	memset(big + 6, 'a', UAPI_SET_MAX - 1);
	big[6 + UAPI_SET_MAX - 2] = '\n';
	big[6 + UAPI_SET_MAX - 1] = '\n';
	check_parse(big, 6 + UAPI_SET_MAX, "S");
	big[6 + UAPI_SET_MAX - 1] = 'a';
	big[6 + UAPI_SET_MAX] = '\n';
	check_parse(big, 6 + UAPI_SET_MAX + 1, "B");
	memset(&p, 0, sizeof(p));
	CHECK_INT(uapi_parse(&p, big, 6 + UAPI_SET_MAX + 1, &op), 6 + UAPI_SET_MAX + 1);
	CHECK_INT(op, UAPI_TOO_BIG);
	CHECK_INT(uapi_parse(&p, "\n", 1, &op), 0);
	CHECK_INT(op, UAPI_TOO_BIG);
	free(big);
}

/* ---- the renderer */

static void hex(char out[65], const uint8_t *key)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", key[i]);
}

struct world {
	uint8_t priv[32], pub[32], psk[32];
	int tun[2];
	struct wgtest_peer edge;
	uint8_t other_pub[32];
	struct wg_device *dev;
	struct wg_peer *p1, *p2;
};

/* A device with two peers: edge, a real one that completes a handshake and
 * sends one 28-byte packet, with a PSK and a keepalive, and other, which never
 * speaks and has an IPv6 endpoint and two prefixes with host bits. */
static int world_up(struct world *w)
{
	uint8_t other_priv[32], buf[256], pkt[64];
	struct noise_keys keys;
	struct prefix a1[] = {check_prefix("100.64.0.2/32"), check_prefix("fd00:64::2/128")};
	struct prefix a2[] = {check_prefix("10.1.2.3/8"), check_prefix("2001:db8:1::1/48")};
	struct sockaddr_in6 ep6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};

	memset(w, 0, sizeof(*w));
	crypto_x25519_genkey(w->priv);
	crypto_x25519_pubkey(w->pub, w->priv);
	crypto_random(w->psk, sizeof(w->psk));
	crypto_x25519_genkey(other_priv);
	crypto_x25519_pubkey(w->other_pub, other_priv);
	inet_pton(AF_INET6, "2001:db8::5", &ep6.sin6_addr);
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, w->tun) == 0);
	if (wgtest_peer_init(&w->edge, w->pub, w->psk) < 0)
		return -1;
	w->dev = wg_device_new(&(struct wg_device_params){
	        .private_key = w->priv, .tun_fd = w->tun[0], .mtu = 1420});
	CHECK(w->dev != NULL);
	if (!w->dev)
		return -1;
	w->p1 = wg_peer_add(w->dev, &(struct wg_peer_params){.name = "edge",
	                                                     .public_key = w->edge.pub,
	                                                     .psk = w->psk,
	                                                     .persistent_keepalive = 25,
	                                                     .allowed = a1,
	                                                     .n_allowed = 2});
	w->p2 = wg_peer_add(w->dev, &(struct wg_peer_params){.name = "other",
	                                                     .public_key = w->other_pub,
	                                                     .endpoint = (struct sockaddr *)&ep6,
	                                                     .endpoint_len = sizeof(ep6),
	                                                     .allowed = a2,
	                                                     .n_allowed = 2});
	CHECK(w->p1 && w->p2);
	if (!w->p1 || !w->p2 || wgtest_handshake(w->dev, &w->edge, 7, &keys) < 0)
		return -1;
	size_t n = wgtest_ip_packet(pkt, 0x64400002);
	size_t mlen = wgtest_data_message(buf, &keys, 0, pkt, n);
	wgtest_input(w->dev, buf, mlen, (struct sockaddr *)&w->edge.from, sizeof(w->edge.from));
	CHECK(recv(w->tun[1], buf, sizeof(buf), MSG_DONTWAIT) == (ssize_t)n);
	crypto_wipe(&keys, sizeof(keys));
	return 0;
}

static void world_down(struct world *w)
{
	wg_device_free(w->dev);
	wgtest_peer_close(&w->edge);
	close(w->tun[0]);
	close(w->tun[1]);
}

/* What wg show must get for w, written out line by line. */
static void expected(const struct world *w, char *out, size_t size)
{
	char k[65], e[65], psk[65], o[65];
	struct wg_peer_stats s;

	wg_peer_stats(w->p1, wgtest_now, &s);
	hex(k, w->priv);
	hex(e, w->edge.pub);
	hex(psk, w->psk);
	hex(o, w->other_pub);
	snprintf(out, size,
	         "private_key=%s\n"
	         "listen_port=%u\n"
	         "public_key=%s\n"
	         "preshared_key=%s\n"
	         "protocol_version=1\n"
	         "endpoint=127.0.0.1:%u\n"
	         "last_handshake_time_sec=%llu\n"
	         "last_handshake_time_nsec=0\n"
	         "tx_bytes=0\n"
	         "rx_bytes=28\n"
	         "persistent_keepalive_interval=25\n"
	         "allowed_ip=100.64.0.2/32\n"
	         "allowed_ip=fd00:64::2/128\n"
	         "public_key=%s\n"
	         "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
	         "protocol_version=1\n"
	         "endpoint=[2001:db8::5]:443\n"
	         "last_handshake_time_sec=0\n"
	         "last_handshake_time_nsec=0\n"
	         "tx_bytes=0\n"
	         "rx_bytes=0\n"
	         "persistent_keepalive_interval=0\n"
	         "allowed_ip=10.0.0.0/8\n"
	         "allowed_ip=2001:db8:1::/48\n"
	         "errno=0\n\n",
	         k, wg_device_port(w->dev), e, psk, ntohs(w->edge.from.sin6_port),
	         (unsigned long long)s.last_handshake_unix, o);
}

static void test_render(struct world *w)
{
	char want[4096], *got = NULL;
	struct wg_peer_stats s;
	size_t len = 0;

	wg_peer_stats(w->p1, wgtest_now, &s);
	CHECK_INT(s.rx_bytes, 28);
	CHECK(s.last_handshake_unix > 0);
	expected(w, want, sizeof(want));
	CHECK_INT(uapi_render(w->dev, &got, &len), 0);
	CHECK(got && len == strlen(want));
	CHECK_STR(got, want);
	uapi_reply_free(got, len);

	CHECK_INT(uapi_socket_path(want, 108, "/var/run/wireguard", "egress0"), 0);
	CHECK_STR(want, "/var/run/wireguard/egress0.sock");
	memset(want, 'd', 90);
	want[90] = '\0';
	char path[108];
	CHECK_INT(uapi_socket_path(path, sizeof(path), want, "abcdefghijklmno"), -ENAMETOOLONG);
	CHECK_INT(uapi_socket_path(path, sizeof(path), want, "abcdefghijk"), 0);
}

/* ---- the server, in a thread */

struct server {
	struct loop_thread lt;
	struct uapi_server *srv;
};

static int server_open(struct server *s, struct wg_device *d, const char *ifname, char *err)
{
	s->srv = NULL;
	if (loop_thread_new(&s->lt) < 0)
		return -1;
	return uapi_open(&s->srv, s->lt.loop,
	                 &(struct uapi_params){.dir = dir,
	                                       .ifname = ifname,
	                                       .dev = d,
	                                       .idle_ms = IDLE_MS,
	                                       .max_conns = MAX_CONNS},
	                 err, 256);
}

static int server_start(struct server *s, struct wg_device *d)
{
	char err[256];
	int ret = server_open(s, d, "wgtest0", err);

	if (ret) {
		fprintf(stderr, "server: %s\n", err);
		return ret;
	}
	return loop_thread_start(&s->lt);
}

static void server_stop(struct server *s)
{
	loop_thread_stop(&s->lt);
	uapi_close(s->srv);
	loop_thread_free(&s->lt);
}

static int client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads until "\n\n" ends an answer (wg's way), EOF or timeout_ms without a
 * byte: what came, NUL-terminated, in buf; its length, or -1 on timeout. */
static ssize_t read_answer(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t n = 0;

	while (n + 1 < size) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&pfd, 1, timeout_ms) != 1)
			return -1;
		r = recv(fd, buf + n, 1, 0); /* one byte: never past the answer */
		if (r <= 0)
			break;
		n++;
		if (n >= 2 && buf[n - 1] == '\n' && buf[n - 2] == '\n')
			break;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

/* The connection is closed by the server within a second: an end, or a
 * reset when the server left bytes of ours unread (junk it stopped at). */
static bool closed(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char c;
	ssize_t r;

	if (poll(&pfd, 1, 1000) != 1)
		return false;
	r = recv(fd, &c, 1, MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno == ECONNRESET);
}

/* The server has n connections within two seconds. */
static bool conns_become(struct server *s, size_t n)
{
	for (int i = 0; i < 2000; i++) {
		if (uapi_conns(s->srv) == n)
			return true;
		usleep(1000);
	}
	return false;
}

static void say(int fd, const char *s)
{
	CHECK(send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s));
}

static void test_server(struct world *w)
{
	struct server s;
	char want[4096], got[8192];
	struct stat st;
	int fd, fds[MAX_CONNS];

	if (server_start(&s, w->dev) < 0) {
		CHECK(!"server started");
		return;
	}
	expected(w, want, sizeof(want));
	CHECK(stat(sock_path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0600);

	/* wg's get, then its set on the same connection, then a get again. */
	fd = client();
	CHECK(fd >= 0);
	say(fd, "get=1\n\n");
	CHECK(read_answer(fd, got, sizeof(got), 1000) > 0);
	CHECK_STR(got, want);
	say(fd, "set=1\npublic_key=0000\nremove=true\n\n");
	CHECK(read_answer(fd, got, sizeof(got), 1000) > 0);
	CHECK_STR(got, "errno=-1\n\n");
	say(fd, "get=1\n\n");
	CHECK(read_answer(fd, got, sizeof(got), 1000) > 0);
	CHECK_STR(got, want);
	close(fd);

	/* Two gets in one write: two answers, in order. */
	fd = client();
	say(fd, "get=1\n\nget=1\n\n");
	CHECK(read_answer(fd, got, sizeof(got), 1000) > 0);
	CHECK_STR(got, want);
	CHECK(read_answer(fd, got, sizeof(got), 1000) > 0);
	CHECK_STR(got, want);
	close(fd);

	/* Junk: EINVAL, and closed. */
	fd = client();
	say(fd, "show me\n\n");
	CHECK(read_answer(fd, got, sizeof(got), 1000) > 0);
	CHECK_STR(got, "errno=-22\n\n");
	CHECK(closed(fd));
	close(fd);

	/* A set too large: EPERM all the same, and closed. */
	fd = client();
	char *big = malloc(UAPI_SET_MAX + 64);
	memcpy(big, "set=1\n", 6);
	memset(big + 6, 'a', UAPI_SET_MAX + 32);
	CHECK(send(fd, big, UAPI_SET_MAX + 38, MSG_NOSIGNAL) == UAPI_SET_MAX + 38);
	free(big);
	CHECK(read_answer(fd, got, sizeof(got), 1000) > 0);
	CHECK_STR(got, "errno=-1\n\n");
	CHECK(closed(fd));
	close(fd);

	/* A client that sends half a request is dropped after IDLE_MS; one
	 * that connects and says nothing too. */
	fd = client();
	int quiet = client();
	say(fd, "get=1\n");
	CHECK(read_answer(fd, got, sizeof(got), 4 * IDLE_MS) == 0);
	CHECK(read_answer(quiet, got, sizeof(got), 4 * IDLE_MS) == 0);
	close(fd);
	close(quiet);

	/* The connection limit: MAX_CONNS are served, one more is closed at
	 * once, and once one goes a new one is served again. */
	for (int i = 0; i < MAX_CONNS; i++)
		fds[i] = client();
	CHECK(conns_become(&s, MAX_CONNS));
	fd = client();
	CHECK(closed(fd));
	close(fd);
	close(fds[0]);
	CHECK(conns_become(&s, MAX_CONNS - 1));
	fds[0] = client();
	say(fds[0], "get=1\n\n");
	CHECK(read_answer(fds[0], got, sizeof(got), 1000) > 0);
	CHECK_STR(got, want);
	for (int i = 0; i < MAX_CONNS; i++)
		close(fds[i]);

	server_stop(&s);
	CHECK(stat(sock_path, &st) < 0 && errno == ENOENT);
}

/* A reply larger than the socket's buffer: a slow reader gets all of it,
 * one that stops reading is dropped after IDLE_MS while others are served. */
static void test_big_reply(struct world *w)
{
	enum { PEERS = 3000 };
	struct server s;
	char *want = NULL, *got;
	size_t want_len = 0, n = 0;
	int fd, stalled;

	for (uint32_t i = 0; i < PEERS; i++) {
		uint8_t priv[32], pub[32];
		struct prefix a = prefix_from_bytes(AF_INET, &(uint32_t){htonl(0x0a000000 + i)});

		crypto_x25519_genkey(priv);
		crypto_x25519_pubkey(pub, priv);
		if (!wg_peer_add(w->dev, &(struct wg_peer_params){.public_key = pub,
		                                                  .allowed = &a,
		                                                  .n_allowed = 1})) {
			CHECK(!"peer added");
			return;
		}
	}
	CHECK_INT(uapi_render(w->dev, &want, &want_len), 0);
	CHECK(want_len > 4 * 212992); /* four times Linux's default socket buffer */
	printf("a reply of %d peers: %zu bytes\n", PEERS + 2, want_len);
	if (server_start(&s, w->dev) < 0) {
		CHECK(!"server started");
		return;
	}
	stalled = client();
	say(stalled, "get=1\n\n");
	fd = client();
	say(fd, "get=1\n\n");
	got = malloc(want_len + 1);
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&pfd, 1, 1000) != 1)
			break;
		r = recv(fd, got + n, want_len - n < 16384 ? want_len - n : 16384, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == want_len)
			break;
		usleep(1000); /* slow, but never IDLE_MS without a byte */
	}
	CHECK_INT(n, want_len);
	CHECK(memcmp(got, want, want_len) == 0);
	/* The stalled client has been dropped meanwhile: what it has in its
	 * buffer is less than the reply, and then the connection ends. */
	usleep(4 * IDLE_MS * 1000);
	n = 0;
	for (;;) {
		ssize_t r = recv(stalled, got, want_len, MSG_DONTWAIT);

		if (r <= 0) {
			CHECK(r == 0);
			break;
		}
		n += (size_t)r;
	}
	CHECK(n > 0 && n < want_len);
	/* fd too, answered and then idle. */
	CHECK_INT(uapi_conns(s.srv), 0);
	close(stalled);
	close(fd);
	free(got);
	uapi_reply_free(want, want_len);
	server_stop(&s);
}

/* ---- the socket file */

static int listener(int type)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, type, 0);

	strcpy(sa.sun_path, sock_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (type != SOCK_DGRAM && listen(fd, 1) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_socket_file(struct world *w)
{
	static const int types[] = {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM};
	struct server s;
	struct stat st;
	char err[256];
	int fd;

	/* Stale files of each type (nobody behind them): replaced. */
	for (size_t i = 0; i < 3; i++) {
		fd = listener(types[i]);
		CHECK(fd >= 0);
		close(fd);
		CHECK(stat(sock_path, &st) == 0);
		CHECK_INT(server_open(&s, w->dev, "wgtest0", err), 0);
		uapi_close(s.srv);
		loop_thread_free(&s.lt);
	}
	/* A live server of each type: refused, and its file left alone. */
	for (size_t i = 0; i < 3; i++) {
		fd = listener(types[i]);
		CHECK(fd >= 0);
		CHECK_INT(server_open(&s, w->dev, "wgtest0", err), -EADDRINUSE);
		CHECK(strstr(err, "another server answers") != NULL);
		CHECK(stat(sock_path, &st) == 0 && S_ISSOCK(st.st_mode));
		loop_thread_free(&s.lt);
		close(fd);
		unlink(sock_path);
	}
	/* Not a socket: left alone. */
	fd = open(sock_path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	CHECK_INT(server_open(&s, w->dev, "wgtest0", err), -EEXIST);
	CHECK(stat(sock_path, &st) == 0 && S_ISREG(st.st_mode));
	loop_thread_free(&s.lt);
	unlink(sock_path);
	/* A missing directory is made 0755; a path too long is refused. */
	char sub[160];
	snprintf(sub, sizeof(sub), "%s/wireguard", dir);
	s.lt.loop = loop_new();
	CHECK_INT(uapi_open(&s.srv, s.lt.loop,
	                    &(struct uapi_params){.dir = sub, .ifname = "wgtest0", .dev = w->dev},
	                    err, sizeof(err)),
	          0);
	CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755);
	uapi_close(s.srv);
	rmdir(sub);
	CHECK_INT(
	        uapi_open(
	                &s.srv, s.lt.loop,
	                &(struct uapi_params){
	                        .dir = "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	                        .ifname = "wgtest0",
	                        .dev = w->dev},
	                err, sizeof(err)),
	        -ENAMETOOLONG);
	CHECK(s.srv == NULL);
	loop_thread_free(&s.lt);
}

int main(void)
{
	struct world w;

	log_set_level(LOG_LVL_ERR);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/wgtest0.sock", dir);
	test_parse();
	if (world_up(&w) == 0) {
		test_render(&w);
		test_server(&w);
		test_socket_file(&w);
		test_big_reply(&w);
	}
	world_down(&w);
	rmdir(dir);
	return check_done("test_uapi");
}
