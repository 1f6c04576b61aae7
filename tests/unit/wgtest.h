/* What the device tests share: a fake clock, the other peer played with the
 * noise API, and the packets it sends. The device under test gets a socket
 * pair for its TUN and answers to the peer's loopback UDP socket. */
#ifndef EGRESS_TEST_WGTEST_H
#define EGRESS_TEST_WGTEST_H

#include <arpa/inet.h>
#include <endian.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tunnel/log.h"
#include "tunnel/noise.h"
#include "tunnel/prefix.h"
#include "tunnel/wg.h"

#define WGTEST_NSEC 1000000000ULL

/* The fake clock every entry point is called with; starts at an hour of
 * uptime so that "0: never" timestamps are never confused with it. */
static uint64_t wgtest_now = 3600 * WGTEST_NSEC;

static inline void wgtest_advance_ms(uint64_t ms)
{
	wgtest_now += ms * 1000000ULL;
}

/* One datagram from src, as a receive of its own. */
static inline void wgtest_input(struct wg_device *d, const void *buf, size_t len,
                                const struct sockaddr *src, socklen_t srclen)
{
	struct wg_datagram dg = {.buf = buf, .len = len, .src = src, .srclen = srclen};

	wg_device_input(d, &dg, 1, wgtest_now);
}

/* An IPv4 header without payload, 28 bytes (UDP protocol number), from src to
 * 203.0.113.80. */
static inline size_t wgtest_ip_packet(uint8_t *p, uint32_t src)
{
	memset(p, 0, 28);
	p[0] = 0x45;
	p[3] = 28;
	p[8] = 64;
	p[9] = 17;
	src = htonl(src);
	memcpy(p + 12, &src, 4);
	p[16] = 203, p[17] = 0, p[18] = 113, p[19] = 80;
	return 28;
}

/* A data message under k with counter, carrying pkt (padded to 16). */
static inline size_t wgtest_data_message(uint8_t *out, const struct noise_keys *k, uint64_t counter,
                                         const uint8_t *pkt, size_t len)
{
	struct noise_msg_data *m = (void *)out;
	size_t padded = (len + 15) & ~(size_t)15;

	memset(out, 0, NOISE_DATA_HDR_LEN + padded);
	m->type = NOISE_MSG_DATA;
	m->receiver = htole32(k->remote_index);
	m->counter = htole64(counter);
	memcpy(m->payload, pkt, len);
	crypto_aead_seal(m->payload, m->payload, padded, NULL, 0, counter, k->send);
	return NOISE_DATA_HDR_LEN + padded + CRYPTO_TAG_LEN;
}

/* What fd has within a second, or -1. */
static inline ssize_t wgtest_recv(int fd, void *buf, size_t len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (poll(&pfd, 1, 1000) != 1)
		return -1;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/* What fd has right now, or -1: for checking that nothing was sent. */
static inline ssize_t wgtest_recv_now(int fd, void *buf, size_t len)
{
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/* The other peer: its keys, its view of the device, its UDP socket on
 * loopback, and that socket's address as the device's dual-stack socket
 * sees it (IPv4-mapped). */
struct wgtest_peer {
	uint8_t priv[32], pub[32];
	struct noise_local local;
	struct noise_remote dev_as_seen;
	struct noise_handshake hs;
	int udp;
	struct sockaddr_in6 from;
};

/* Binds the peer's socket and initialises its noise state towards dev_pub.
 * 0, or -1 after a failed CHECK. */
static inline int wgtest_peer_init(struct wgtest_peer *t, const uint8_t dev_pub[32],
                                   const uint8_t *psk)
{
	struct sockaddr_in me = {.sin_family = AF_INET};
	socklen_t melen = sizeof(me);

	memset(t, 0, sizeof(*t));
	CHECK(crypto_x25519_genkey(t->priv) == 0);
	CHECK(crypto_x25519_pubkey(t->pub, t->priv) == 0);
	CHECK(noise_local_init(&t->local, t->priv) == 0);
	CHECK(noise_remote_init(&t->dev_as_seen, &t->local, dev_pub, psk) == 0);
	t->udp = socket(AF_INET, SOCK_DGRAM, 0);
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(t->udp, (struct sockaddr *)&me, sizeof(me)) == 0);
	CHECK(getsockname(t->udp, (struct sockaddr *)&me, &melen) == 0);
	t->from = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_port = me.sin_port};
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &t->from.sin6_addr);
	return t->udp >= 0 ? 0 : -1;
}

static inline void wgtest_peer_close(struct wgtest_peer *t)
{
	if (t->udp >= 0)
		close(t->udp);
	t->udp = -1;
}

/* The peer initiates a handshake with sender index; msg gets the initiation
 * with its mac1 (and mac2 when cookie is not NULL). */
static inline void wgtest_initiation(struct wgtest_peer *t, uint32_t index,
                                     struct noise_msg_init *msg, const uint8_t *cookie,
                                     uint8_t last_mac1[NOISE_MAC_LEN])
{
	uint8_t mac1[NOISE_MAC_LEN];

	CHECK(noise_init_create(msg, &t->hs, &t->local, &t->dev_as_seen, index) == 0);
	noise_macs_add(msg, sizeof(*msg), t->dev_as_seen.mac1_key, cookie,
	               last_mac1 ? last_mac1 : mac1);
}

/* A full handshake with the peer as initiator: its initiation goes in, the
 * device's response comes out on the peer's socket and is consumed, and keys
 * gets the session. 0 on success. */
static inline int wgtest_handshake(struct wg_device *d, struct wgtest_peer *t, uint32_t index,
                                   struct noise_keys *keys)
{
	struct noise_msg_init init;
	struct noise_msg_resp resp;

	wgtest_initiation(t, index, &init, NULL, NULL);
	wgtest_input(d, &init, sizeof(init), (struct sockaddr *)&t->from, sizeof(t->from));
	if (wgtest_recv(t->udp, &resp, sizeof(resp)) != (ssize_t)sizeof(resp))
		return -1;
	if (noise_resp_consume(&resp, &t->hs, &t->local, &t->dev_as_seen) < 0)
		return -1;
	return noise_derive_keys(keys, &t->hs) < 0 ? -1 : 0;
}

/* --- more of the same, for the session, load and log tests --- */

/* Waits, in real time, until the TAI64N clock has moved on: every initiation
 * created after the call carries a timestamp greater than every one created
 * before it. The device refuses an initiation whose timestamp is not newer
 * than the peer's last, and TAI64N moves in steps of 2^24 ns (about 17 ms). */
static inline void wgtest_tai64n_tick(void)
{
	uint8_t a[NOISE_TIMESTAMP_LEN], b[NOISE_TIMESTAMP_LEN];
	struct timespec ms = {.tv_nsec = 1000000};

	noise_tai64n(a);
	do {
		nanosleep(&ms, NULL);
		noise_tai64n(b);
	} while (memcmp(a, b, sizeof(a)) == 0);
}

/* addr:port of an IPv4 sender as the device's dual-stack socket sees it:
 * IPv4-mapped. Tests use 127.0.0.0/8, so whatever the device answers stays
 * on this host. */
static inline struct sockaddr_in6 wgtest_mapped(uint32_t addr, uint16_t port)
{
	struct sockaddr_in6 s = {.sin6_family = AF_INET6, .sin6_port = htons(port)};

	s.sin6_addr.s6_addr[10] = 0xff;
	s.sin6_addr.s6_addr[11] = 0xff;
	addr = htonl(addr);
	memcpy(&s.sin6_addr.s6_addr[12], &addr, 4);
	return s;
}

/* An IPv4 packet of len bytes (at least 20; UDP protocol number, a payload of
 * zeros) from src to dst. */
static inline size_t wgtest_ip_packet_len(uint8_t *p, size_t len, uint32_t src, uint32_t dst)
{
	memset(p, 0, len);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = 17;
	src = htonl(src);
	dst = htonl(dst);
	memcpy(p + 12, &src, 4);
	memcpy(p + 16, &dst, 4);
	for (size_t i = 28; i < len; i++)
		p[i] = (uint8_t)i; /* something the padding is not */
	return len;
}

/* The three bytes after a message's type are zero in everything sent. */
static inline bool wgtest_reserved_zero(const uint8_t *msg)
{
	return msg[1] == 0 && msg[2] == 0 && msg[3] == 0;
}

/* What an attacker who knows only the device's public key can send: an
 * initiation of random bytes with a valid mac1 (t's mac1 key for the device
 * is anyone's), and a valid mac2 when cookie is not NULL. The device pays a
 * Diffie-Hellman for it unless it is under load. */
static inline void wgtest_spoofed_initiation(const struct wgtest_peer *t, struct noise_msg_init *m,
                                             const uint8_t *cookie,
                                             uint8_t last_mac1[NOISE_MAC_LEN])
{
	uint8_t mac1[NOISE_MAC_LEN];

	crypto_random(m, sizeof(*m));
	m->type = NOISE_MSG_INIT;
	memset(m->reserved, 0, sizeof(m->reserved));
	noise_macs_add(m, sizeof(*m), t->dev_as_seen.mac1_key, cookie,
	               last_mac1 ? last_mac1 : mac1);
}

/* Opens a data message the device sent to the peer whose session is k
 * (in place): the length of its plaintext, padding included, or -1 when it is
 * no data message of k's or its reserved bytes are not zero. *counter gets
 * its counter. */
static inline ssize_t wgtest_open(const struct noise_keys *k, uint8_t *msg, size_t len,
                                  uint64_t *counter)
{
	struct noise_msg_data *m = (void *)msg;

	if (len < NOISE_DATA_MIN_LEN || m->type != NOISE_MSG_DATA || !wgtest_reserved_zero(msg) ||
	    le32toh(m->receiver) != k->local_index)
		return -1;
	*counter = le64toh(m->counter);
	if (crypto_aead_open(m->payload, m->payload, len - NOISE_DATA_HDR_LEN, NULL, 0, *counter,
	                     k->recv) < 0)
		return -1;
	return (ssize_t)(len - NOISE_DATA_MIN_LEN);
}

static inline const struct noise_remote *wgtest_lookup_dev(void *arg, const uint8_t pub[32])
{
	const struct noise_remote *dev = arg;

	return memcmp(dev->pub, pub, CRYPTO_KEY_LEN) == 0 ? dev : NULL;
}

/* The peer as responder to an initiation the device sent: resp gets its
 * response with sender index (mac1 set), keys the session. 0 on success. */
static inline int wgtest_respond(struct wgtest_peer *t, const struct noise_msg_init *init,
                                 uint32_t index, struct noise_msg_resp *resp,
                                 struct noise_keys *keys)
{
	const struct noise_remote *dev;
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	struct noise_handshake hs = {0};

	if (!noise_mac1_ok(init, sizeof(*init), t->local.mac1_key) ||
	    noise_init_consume(init, &t->local, wgtest_lookup_dev, &t->dev_as_seen, &hs, &dev, ts) <
	            0 ||
	    noise_resp_create(resp, &hs, dev, index) < 0)
		return -1;
	noise_macs_add(resp, sizeof(*resp), t->dev_as_seen.mac1_key, NULL, NULL);
	return noise_derive_keys(keys, &hs) < 0 ? -1 : 0;
}

/* The device under test with its TUN: tun[0] is the device's end, the test
 * writes and reads tun[1]. */
struct wgtest_dev {
	uint8_t priv[32], pub[32];
	struct wg_device *d;
	int tun[2];
};

/* A new device with params (its key and TUN filled in here). 0, or -1 after
 * a failed CHECK. */
static inline int wgtest_dev_new(struct wgtest_dev *w, struct wg_device_params params)
{
	memset(w, 0, sizeof(*w));
	w->tun[0] = w->tun[1] = -1;
	CHECK(crypto_x25519_genkey(w->priv) == 0);
	CHECK(crypto_x25519_pubkey(w->pub, w->priv) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, w->tun) == 0);
	params.private_key = w->priv;
	params.tun_fd = w->tun[0];
	if (!params.mtu)
		params.mtu = 1420;
	w->d = wg_device_new(&params);
	CHECK(w->d != NULL);
	return w->d ? 0 : -1;
}

static inline void wgtest_dev_free(struct wgtest_dev *w)
{
	wg_device_free(w->d);
	w->d = NULL;
	for (int i = 0; i < 2; i++)
		if (w->tun[i] >= 0)
			close(w->tun[i]);
}

/* Adds t as a peer of the device whose inner address is 100.64.0.<host>;
 * with_endpoint, at t's socket (so the device can initiate). */
static inline struct wg_peer *wgtest_dev_add(struct wgtest_dev *w, struct wgtest_peer *t,
                                             unsigned host, bool with_endpoint)
{
	struct prefix allowed = {
	        .family = AF_INET, .v4.s_addr = htonl(0x64400000u | host), .len = 32};
	struct sockaddr_in ep = {.sin_family = AF_INET, .sin_port = t->from.sin6_port};
	struct wg_peer *p;

	ep.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p = wg_peer_add(w->d, &(struct wg_peer_params){
	                              .name = "t",
	                              .public_key = t->pub,
	                              .allowed = &allowed,
	                              .n_allowed = 1,
	                              .endpoint = with_endpoint ? (struct sockaddr *)&ep : NULL,
	                              .endpoint_len = with_endpoint ? sizeof(ep) : 0});
	CHECK(p != NULL);
	return p;
}

/* The usual fixture: a device and one peer t at 100.64.0.WGTEST_HOST. */
#define WGTEST_HOST 2
struct wgtest_pair {
	struct wgtest_dev w;
	struct wgtest_peer t;
	struct wg_peer *p;
};

/* with_endpoint: the device knows t's address from the start and can
 * initiate. 0, or -1 after a failed CHECK. */
static inline int wgtest_pair_new(struct wgtest_pair *f, struct wg_device_params params,
                                  bool with_endpoint)
{
	memset(f, 0, sizeof(*f));
	f->t.udp = -1;
	if (wgtest_dev_new(&f->w, params) < 0 || wgtest_peer_init(&f->t, f->w.pub, NULL) < 0)
		return -1;
	f->p = wgtest_dev_add(&f->w, &f->t, WGTEST_HOST, with_endpoint);
	return f->p ? 0 : -1;
}

static inline void wgtest_pair_free(struct wgtest_pair *f)
{
	wgtest_dev_free(&f->w);
	wgtest_peer_close(&f->t);
}

static inline struct wg_device_stats wgtest_dev_stats(const struct wgtest_dev *w)
{
	struct wg_device_stats ds;

	wg_device_stats(w->d, wgtest_now, &ds);
	return ds;
}

static inline struct wg_peer_stats wgtest_peer_stats(const struct wg_peer *p)
{
	struct wg_peer_stats ps;

	wg_peer_stats(p, wgtest_now, &ps);
	return ps;
}

/* A packet of len bytes for 100.64.0.<host> comes out of the TUN at now. */
static inline void wgtest_tun_send(struct wgtest_dev *w, unsigned host, size_t len)
{
	uint8_t pkt[2048];

	wgtest_ip_packet_len(pkt, len, 0xcb007150 /* 203.0.113.80 */, 0x64400000u | host);
	CHECK(send(w->tun[1], pkt, len, 0) == (ssize_t)len);
	wg_device_tun_input(w->d, wgtest_now);
}

/* A packet from 100.64.0.WGTEST_HOST as data under k with counter, from src:
 * true when it came out of the TUN. */
static inline bool wgtest_data_from(struct wgtest_dev *w, const struct noise_keys *k,
                                    uint64_t counter, const struct sockaddr_in6 *src)
{
	uint8_t pkt[64], msg[128], got[128];
	size_t n = wgtest_ip_packet(pkt, 0x64400000u | WGTEST_HOST);
	size_t len = wgtest_data_message(msg, k, counter, pkt, n);

	wgtest_input(w->d, msg, len, (const struct sockaddr *)src, sizeof(*src));
	return wgtest_recv_now(w->tun[1], got, sizeof(got)) == (ssize_t)n &&
	       memcmp(got, pkt, n) == 0;
}

/* The same from the pair's peer, at its own address. */
static inline bool wgtest_data_arrives(struct wgtest_pair *f, const struct noise_keys *k,
                                       uint64_t counter)
{
	return wgtest_data_from(&f->w, k, counter, &f->t.from);
}

/* True when nothing comes to fd within 50 ms: for "nothing was sent". */
static inline bool wgtest_nothing(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return poll(&pfd, 1, 50) == 0;
}

/* Captures what the device logs (fd 2) between wgtest_log_begin() and
 * wgtest_log_end(), at level INFO. */
struct wgtest_log {
	FILE *f;
	int saved;
};

static inline void wgtest_log_begin(struct wgtest_log *l)
{
	fflush(stderr);
	l->f = tmpfile();
	l->saved = dup(STDERR_FILENO);
	CHECK(l->f != NULL && l->saved >= 0);
	if (l->f)
		dup2(fileno(l->f), STDERR_FILENO);
	log_set_level(LOG_LVL_INFO);
}

/* Ends the capture: the number of lines logged, *matching those that hold
 * needle. The lines go to the real stderr too when there are more than
 * show_above. */
static inline unsigned wgtest_log_end(struct wgtest_log *l, const char *needle, unsigned *matching,
                                      unsigned show_above)
{
	char line[1024];
	unsigned n = 0;

	log_set_level(LOG_LVL_ERR);
	fflush(stderr);
	dup2(l->saved, STDERR_FILENO);
	close(l->saved);
	*matching = 0;
	if (!l->f)
		return 0;
	rewind(l->f);
	while (fgets(line, sizeof(line), l->f)) {
		n++;
		if (strstr(line, needle))
			(*matching)++;
	}
	if (n > show_above) {
		rewind(l->f);
		for (unsigned i = 0; i < 20 && fgets(line, sizeof(line), l->f); i++)
			fprintf(stderr, "  logged: %s", line);
	}
	fclose(l->f);
	return n;
}

/* Names the case that follows in the test's output. */
static inline void wgtest_case(const char *name)
{
	printf("-- %s\n", name);
	fflush(stdout);
}

#endif
