/* "Under load" on a fake clock (wgtest.h): a steady stream of handshakes,
 * each taken by a receive of its own, is no load however many sources send
 * it; full receives that are mostly handshakes are, and then the device
 * answers with cookie replies, lets a client through on its cookie, and
 * limits each source. And nothing the network sends floods the log: roams,
 * cookie replies and load episodes are logged at most once per interval.
 *
 * Spoofed senders are 127.0.0.0/8 addresses, so what the device answers them
 * stays on this host. */
#include <errno.h>

#include "wgtest.h"

/* Spoofed source number i (from 1): 127.<net>.x.y, a port of its own. */
static struct sockaddr_in6 spoofed_source(unsigned net, unsigned i)
{
	return wgtest_mapped(0x7f000000u | net << 16 | i, (uint16_t)(20000 + i % 40000));
}

static void spoofed_input(struct wgtest_pair *f, unsigned net, unsigned i)
{
	struct sockaddr_in6 src = spoofed_source(net, i);
	struct noise_msg_init m;

	wgtest_spoofed_initiation(&f->t, &m, NULL, NULL);
	wgtest_input(f->w.d, &m, sizeof(m), (struct sockaddr *)&src, sizeof(src));
}

/* One receive of n datagrams: the first hs spoofed valid-mac1 initiations
 * from sources of their own, the rest data messages for no session. */
static void receive(struct wgtest_pair *f, unsigned hs, unsigned n)
{
	static struct noise_msg_init inits[WG_BATCH];
	static uint8_t junk[WG_BATCH][NOISE_DATA_MIN_LEN];
	static unsigned next_source = 1;
	struct sockaddr_in6 src[WG_BATCH];
	struct wg_datagram dg[WG_BATCH];

	for (unsigned i = 0; i < n && i < WG_BATCH; i++) {
		src[i] = spoofed_source(2, next_source++ % 60000 + 1);
		dg[i] = (struct wg_datagram){.src = (struct sockaddr *)&src[i],
		                             .srclen = sizeof(src[i])};
		if (i < hs) {
			wgtest_spoofed_initiation(&f->t, &inits[i], NULL, NULL);
			dg[i].buf = &inits[i];
			dg[i].len = sizeof(inits[i]);
		} else {
			memset(junk[i], 0, sizeof(junk[i]));
			junk[i][0] = NOISE_MSG_DATA;
			dg[i].buf = junk[i];
			dg[i].len = sizeof(junk[i]);
		}
	}
	wg_device_input(f->w.d, dg, n, wgtest_now);
}

static bool under_load(struct wgtest_pair *f)
{
	return wgtest_dev_stats(&f->w).under_load;
}

/* The real client initiates (a newer timestamp, past the per-peer limit),
 * with mac2 from cookie if not NULL: the length of the first reply it gets,
 * in buf; its mac1 in last_mac1. */
static ssize_t client_initiates(struct wgtest_pair *f, uint32_t index, const uint8_t *cookie,
                                uint8_t last_mac1[NOISE_MAC_LEN], uint8_t *buf, size_t size)
{
	struct noise_msg_init init;

	wgtest_tai64n_tick();
	wgtest_advance_ms(30);
	wgtest_initiation(&f->t, index, &init, cookie, last_mac1);
	wgtest_input(f->w.d, &init, sizeof(init), (struct sockaddr *)&f->t.from, sizeof(f->t.from));
	return wgtest_recv(f->t.udp, buf, size);
}

/* What the client's initiation got was a response the client accepts. */
static bool is_response(struct wgtest_pair *f, uint8_t *buf, ssize_t n, uint32_t index)
{
	struct noise_msg_resp *r = (void *)buf;

	return n == (ssize_t)sizeof(*r) && r->type == NOISE_MSG_RESP && wgtest_reserved_zero(buf) &&
	       le32toh(r->receiver) == index &&
	       noise_resp_consume(r, &f->t.hs, &f->t.local, &f->t.dev_as_seen) == 0;
}

/* A steady stream, rate spoofed initiations a second from rate sources,
 * each taken by a receive of its own, for seconds. */
static void steady_stream(struct wgtest_pair *f, unsigned rate, unsigned seconds)
{
	for (unsigned s = 0; s < seconds; s++) {
		for (unsigned i = 1; i <= rate; i++) {
			spoofed_input(f, 1, i);
			wgtest_advance_ms(1000 / rate);
		}
		CHECK(!under_load(f));
	}
}

static void test_steady_stream_is_no_load(void)
{
	struct wgtest_pair f;
	struct wg_device_stats ds;
	uint8_t buf[256];
	ssize_t n;

	wgtest_case("200 valid-mac1 initiations a second from 200 sources, each its own receive, "
	            "for 3 s: no load, and a real client's initiation gets a response at once");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) < 0)
		goto out;
	steady_stream(&f, 200, 3);
	ds = wgtest_dev_stats(&f.w);
	CHECK_INT(ds.handshake_rx, 600);
	CHECK_INT(ds.invalid, 600); /* each cost a Diffie-Hellman and failed */
	CHECK_INT(ds.cookie_replies, 0);
	CHECK_INT(ds.load_events, 0);
	n = client_initiates(&f, 0x10, NULL, NULL, buf, sizeof(buf));
	CHECK(is_response(&f, buf, n, 0x10));
	CHECK(!under_load(&f));
out:
	wgtest_pair_free(&f);
}

static void test_review_scenario(void)
{
	struct wgtest_pair f;
	uint8_t buf[256];
	ssize_t n;

	wgtest_case("the review's attack, about 101 spoofed valid-mac1 initiations a second, "
	            "does not put the device under load, nor do receives one short of full");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) < 0)
		goto out;
	steady_stream(&f, 101, 3);
	n = client_initiates(&f, 0x20, NULL, NULL, buf, sizeof(buf));
	CHECK(is_response(&f, buf, n, 0x20));
	/* The same second's worth in two receives that each drained the queue. */
	receive(&f, WG_BATCH - 1, WG_BATCH - 1);
	receive(&f, 101 - (WG_BATCH - 1), 101 - (WG_BATCH - 1));
	CHECK(!under_load(&f));
	CHECK_INT(wgtest_dev_stats(&f.w).cookie_replies, 0);
	n = client_initiates(&f, 0x21, NULL, NULL, buf, sizeof(buf));
	CHECK(is_response(&f, buf, n, 0x21));
out:
	wgtest_pair_free(&f);
}

static void test_flood_cookies(void)
{
	struct wgtest_pair f;
	struct noise_msg_cookie *c;
	uint8_t buf[256], last_mac1[NOISE_MAC_LEN], cookie[NOISE_COOKIE_LEN];
	uint64_t last_full;
	ssize_t n;

	wgtest_case("a flood beyond capacity (full receives of initiations): under load, a "
	            "cookie reply to a client, its retry with mac2 answered; load ends 1 s after "
	            "the last full receive");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) < 0)
		goto out;
	receive(&f, WG_BATCH - 4, WG_BATCH);
	CHECK(under_load(&f));
	CHECK_INT(wgtest_dev_stats(&f.w).load_events, 1);
	/* The flood's own initiations got cookies instead of Diffie-Hellman. */
	CHECK_INT(wgtest_dev_stats(&f.w).cookie_replies, WG_BATCH - 4);
	CHECK_INT(wgtest_dev_stats(&f.w).invalid, 4);

	/* The client, without mac2: a cookie reply, 64 bytes, type 3. */
	n = client_initiates(&f, 0x30, NULL, last_mac1, buf, sizeof(buf));
	c = (void *)buf;
	CHECK_INT(n, sizeof(*c));
	CHECK_INT(c->type, NOISE_MSG_COOKIE);
	CHECK(wgtest_reserved_zero(buf));
	CHECK_INT(le32toh(c->receiver), 0x30);
	CHECK(noise_cookie_reply_consume(c, f.t.dev_as_seen.cookie_key, last_mac1, cookie) == 0);
	/* Its retry with mac2 from that cookie: a response. */
	n = client_initiates(&f, 0x31, cookie, NULL, buf, sizeof(buf));
	CHECK(is_response(&f, buf, n, 0x31));
	CHECK(under_load(&f));

	/* Load lasts while full receives go on, and ends 1 s after the last. */
	wgtest_advance_ms(500);
	receive(&f, WG_BATCH, WG_BATCH);
	last_full = wgtest_now;
	CHECK_INT(wgtest_dev_stats(&f.w).load_events, 1); /* the same episode */
	wgtest_now = last_full + WGTEST_NSEC - 1000000;
	CHECK(under_load(&f));
	wgtest_now = last_full + WGTEST_NSEC;
	CHECK(!under_load(&f));
	n = client_initiates(&f, 0x32, NULL, NULL, buf, sizeof(buf));
	CHECK(is_response(&f, buf, n, 0x32));
out:
	wgtest_pair_free(&f);
}

/* Spoofed initiations with a valid mac2 from src, each its own receive: how
 * many got past the rate limit (each then fails to decrypt, counted
 * invalid). */
static uint64_t mac2_burst(struct wgtest_pair *f, const struct sockaddr_in6 *src,
                           const uint8_t *cookie, unsigned n)
{
	struct wg_device_stats before = wgtest_dev_stats(&f->w), after;
	struct noise_msg_init m;

	for (unsigned i = 0; i < n; i++) {
		wgtest_spoofed_initiation(&f->t, &m, cookie, NULL);
		wgtest_input(f->w.d, &m, sizeof(m), (const struct sockaddr *)src, sizeof(*src));
	}
	after = wgtest_dev_stats(&f->w);
	CHECK_INT(after.cookie_replies, before.cookie_replies); /* the cookie was good */
	CHECK_INT(after.handshake_rx, before.handshake_rx + n);
	return after.invalid - before.invalid;
}

/* A socket at 127.3.0.1 for a spoofer that must see its cookie reply: the
 * cookie, for the socket's address and port, in cookie; src gets the
 * address. The device must be under load. */
static int spoofer_with_cookie(struct wgtest_pair *f, struct sockaddr_in6 *src,
                               uint8_t cookie[NOISE_COOKIE_LEN])
{
	socklen_t len = sizeof(*src);
	struct noise_msg_init m;
	uint8_t buf[256], last_mac1[NOISE_MAC_LEN];
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);

	*src = wgtest_mapped(0x7f030001, 0);
	CHECK(bind(fd, (struct sockaddr *)src, sizeof(*src)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)src, &len) == 0);
	wgtest_spoofed_initiation(&f->t, &m, NULL, last_mac1);
	wgtest_input(f->w.d, &m, sizeof(m), (struct sockaddr *)src, sizeof(*src));
	CHECK_INT(wgtest_recv(fd, buf, sizeof(buf)), sizeof(struct noise_msg_cookie));
	CHECK(noise_cookie_reply_consume((void *)buf, f->t.dev_as_seen.cookie_key, last_mac1,
	                                 cookie) == 0);
	return fd;
}

static void test_rate_limit_under_load(void)
{
	struct wgtest_pair f;
	struct sockaddr_in6 src, src2;
	uint8_t cookie[NOISE_COOKIE_LEN], cookie2[NOISE_COOKIE_LEN];
	int fd = -1, fd2 = -1;

	wgtest_case("under load, mac2-valid initiations from one source address are limited to "
	            "20 a second in bursts of 5, whatever its port");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) < 0)
		goto out;
	receive(&f, WG_BATCH, WG_BATCH);
	CHECK(under_load(&f));
	fd = spoofer_with_cookie(&f, &src, cookie);
	CHECK_INT(mac2_burst(&f, &src, cookie, 10), 5);
	wgtest_advance_ms(100);
	CHECK_INT(mac2_burst(&f, &src, cookie, 10), 2);
	/* Another port of the same address draws on the same tokens: 50 ms
	 * later there is one. */
	fd2 = spoofer_with_cookie(&f, &src2, cookie2);
	CHECK(src2.sin6_port != src.sin6_port);
	wgtest_advance_ms(50);
	CHECK(under_load(&f));
	CHECK_INT(mac2_burst(&f, &src2, cookie2, 3), 1);
	CHECK_INT(wgtest_dev_stats(&f.w).cookie_replies, WG_BATCH + 2);
out:
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);
	wgtest_pair_free(&f);
}

static void test_load_threshold(void)
{
	struct wgtest_pair f;

	wgtest_case("load_threshold: a full receive with that many handshake messages is load, "
	            "one fewer is not; the default is WG_LOAD_THRESHOLD; a lower one is honoured");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) == 0) {
		receive(&f, WG_LOAD_THRESHOLD - 1, WG_BATCH);
		CHECK(!under_load(&f));
		receive(&f, WG_LOAD_THRESHOLD, WG_BATCH);
		CHECK(under_load(&f));
		CHECK_INT(wgtest_dev_stats(&f.w).load_events, 1);
	}
	wgtest_pair_free(&f);
	if (wgtest_pair_new(&f, (struct wg_device_params){.load_threshold = 3}, false) == 0) {
		receive(&f, 2, WG_BATCH);
		CHECK(!under_load(&f));
		receive(&f, 3, WG_BATCH);
		CHECK(under_load(&f));
		CHECK_INT(wgtest_dev_stats(&f.w).cookie_replies, 3);
	}
	wgtest_pair_free(&f);
}

/* Lines logged at INFO while the loop goes on: at most limit in all, and at
 * least one naming what is rate-limited (so a silent log cannot pass). */
#define CHECK_LOG(log, needle, limit)                                                        \
	do {                                                                                 \
		unsigned matching_, lines_ = wgtest_log_end(log, needle, &matching_, limit); \
		CHECK(matching_ >= 1);                                                       \
		CHECK(lines_ <= (limit));                                                    \
	} while (0)

static void test_log_roams(void)
{
	struct wgtest_pair f;
	struct noise_keys k;
	struct wgtest_log log;
	unsigned arrived = 0;

	wgtest_case("1,000 authenticated roams over 5 s log at most 2 lines");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) < 0 ||
	    wgtest_handshake(f.w.d, &f.t, 0x40, &k) < 0) {
		CHECK(!"no session");
		goto out;
	}
	CHECK(wgtest_data_arrives(&f, &k, 0));
	wgtest_log_begin(&log);
	for (unsigned i = 1; i <= 1000; i++) {
		struct sockaddr_in6 src = spoofed_source(4, i);

		arrived += wgtest_data_from(&f.w, &k, i, &src);
		wgtest_advance_ms(5);
	}
	CHECK_LOG(&log, "endpoint moved", 2);
	CHECK_INT(arrived, 1000);
out:
	wgtest_pair_free(&f);
}

static void test_log_cookies(void)
{
	struct wgtest_pair f;
	struct noise_cookie_checker cc;
	struct noise_msg_resp resp;
	struct noise_msg_cookie reply;
	struct wgtest_log log;
	uint8_t source[6] = {127, 0, 0, 1};
	uint64_t inv;

	wgtest_case("100 cookie replies the device gets over 5 s (each accepted) log at most 2 "
	            "lines");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) < 0)
		goto out;
	/* The peer plays a gateway under load: it answers each of the
	 * device's responses with a cookie reply. */
	noise_cookie_checker_init(&cc, &f.t.local);
	memcpy(source + 4, &f.t.from.sin6_port, 2);
	inv = wgtest_dev_stats(&f.w).invalid;
	wgtest_log_begin(&log);
	for (unsigned i = 0; i < 100; i++) {
		ssize_t n =
		        client_initiates(&f, 0x500 + i, NULL, NULL, (uint8_t *)&resp, sizeof(resp));

		CHECK_INT(n, sizeof(resp));
		CHECK(noise_cookie_reply_create(&reply, &cc, &resp, sizeof(resp), resp.sender,
		                                source, sizeof(source), wgtest_now) == 0);
		wgtest_input(f.w.d, &reply, sizeof(reply), (struct sockaddr *)&f.t.from,
		             sizeof(f.t.from));
		wgtest_advance_ms(20); /* with client_initiates' 30: 50 ms a round */
	}
	CHECK_LOG(&log, "got a cookie", 2);
	CHECK_INT(wgtest_dev_stats(&f.w).invalid, inv);
out:
	wgtest_pair_free(&f);
}

static void test_log_load(void)
{
	struct wgtest_pair f;
	struct wgtest_log log;

	wgtest_case("20 load episodes over 30 s log at most 4 lines");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) < 0)
		goto out;
	wgtest_log_begin(&log);
	for (unsigned i = 0; i < 20; i++) {
		receive(&f, WG_BATCH, WG_BATCH);
		wgtest_advance_ms(1500);
	}
	CHECK_LOG(&log, "under load", 4);
	CHECK_INT(wgtest_dev_stats(&f.w).load_events, 20);
out:
	wgtest_pair_free(&f);
}

int main(void)
{
	log_set_level(LOG_LVL_ERR);
	test_steady_stream_is_no_load();
	test_review_scenario();
	test_flood_cookies();
	test_rate_limit_under_load();
	test_load_threshold();
	test_log_roams();
	test_log_cookies();
	test_log_load();
	return check_done("test_wg_load");
}
