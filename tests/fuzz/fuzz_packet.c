/* Every datagram a peer or an attacker can send to the listen port, and every
 * packet the TUN can hand over, fed to a device with one known peer (the
 * harness, which holds a session with it) on a fake clock. An input is four
 * header bytes and a payload:
 *   byte 0: what the payload is (the modes below);
 *   byte 1: the sender: bits 0-1 the kind, an AF_INET sockaddr_in
 *           (127.0.1.x), an IPv4-mapped sockaddr_in6 (::ffff:127.0.1.x), an
 *           IPv6 one (2001:db8:0:x::1, a /64 and so a rate-limit bucket of
 *           its own), or the harness's own socket; bits 2-7 the x;
 *   byte 2: how far the clock moves first: under 128 that many ms, else
 *           (b - 127) * 5 s, past every protocol timer; wg_device_tick()
 *           runs then;
 *   byte 3: flags for the modes.
 * Modes:
 *   0: a raw datagram;
 *   1: the same with a valid mac1 if it has the length of an initiation or
 *      a response (and mac2 from the harness's cookie if flag bit 0), so the
 *      handshake parsers see it;
 *   2: an inner packet sealed as data under the harness's session (flag
 *      bit 0: its previous one; bits 1-7: counters skipped, times 128), for
 *      the replay window, cryptokey routing and the TUN write;
 *   3: a packet the TUN hands the device (wg_device_tun_input()): routing,
 *      staging, padding, the batched send;
 *   4: a full receive, WG_BATCH copies of the payload treated as in 1 from
 *      as many senders: under load, cookie replies, mac2, the rate limit;
 *   5: the harness initiates a handshake (index from the payload) and takes
 *      the session the device answers with;
 *   6: the device initiates (wg_peer_connect()) and the harness answers;
 *   7: as 1, after the device forgets the greatest timestamp it has seen
 *      from the peer, as after a restart (white-box): the seed initiations,
 *      however old, are accepted again, so answering, replacing next and
 *      dropping previous, and freeing and reusing indexes are reached;
 *   8: a response to the device's pending initiation: the receiver index is
 *      set to it and mac1 fixed, so noise_resp_consume() sees it.
 * After each input the harness reads what the device sent it: it keeps an
 * initiation for mode 6 or 8, takes a response to its own initiation, and
 * keeps the cookie of a cookie reply.
 *
 * The device's socket is bound to lo (SO_BINDTODEVICE, through wg_priv.h),
 * so nothing it answers to the fuzzed senders leaves this host.
 *
 * Seeds: tests/fuzz/corpus/fuzz_packet/ holds valid initiations and
 * responses from the harness's fixed keys and an input of each mode. To
 * regenerate them (their bytes differ on each run, ephemeral keys are random):
 *   FUZZ_PACKET_SEEDS=tests/fuzz/corpus/fuzz_packet build-fuzz/tests/fuzz_packet
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tunnel/log.h"
#include "tunnel/noise.h"
#include "tunnel/prefix.h"
#include "tunnel/wg.h"
#include "tunnel/wg_priv.h"

#define HDR        4
#define N_MODES    9
#define PEER_INNER 0x64400002u /* 100.64.0.2, the peer's allowed address */

/* The fake clock the device runs on. */
static uint64_t now_ns = 3600ULL * 1000000000ULL;

static uint8_t dev_priv[32], dev_pub[32], peer_priv[32];
static struct noise_local peer;          /* the harness */
static struct noise_remote dev_as_seen;  /* the device, as the harness knows it */
static struct noise_local dev_local;     /* for making seeds only */
static struct noise_remote peer_as_seen; /* the same */

static struct wg_device *dev;
static struct wg_peer *dev_peer;
static int tun[2], udp = -1;
static struct sockaddr_in6 harness_addr;
static bool confined;

/* The harness's sessions (0: newest), its handshake in flight, the device's
 * pending initiation, and the cookie it was given. */
static struct noise_keys keys[2];
static uint64_t counters[2];
static bool have_keys[2];
static struct noise_handshake hs;
static struct noise_msg_init pending;
static bool have_pending;
static uint8_t last_mac1[NOISE_MAC_LEN], cookie[NOISE_COOKIE_LEN];
static bool have_cookie;

static void fixed_keys(void)
{
	for (int i = 0; i < 32; i++) {
		dev_priv[i] = (uint8_t)(i + 1);
		peer_priv[i] = (uint8_t)(0x80 + i);
	}
	dev_priv[0] &= 248, dev_priv[31] = (dev_priv[31] & 127) | 64;
	peer_priv[0] &= 248, peer_priv[31] = (peer_priv[31] & 127) | 64;
	if (noise_local_init(&peer, peer_priv) < 0 || crypto_x25519_pubkey(dev_pub, dev_priv) < 0 ||
	    noise_remote_init(&dev_as_seen, &peer, dev_pub, NULL) < 0 ||
	    noise_local_init(&dev_local, dev_priv) < 0 ||
	    noise_remote_init(&peer_as_seen, &dev_local, peer.pub, NULL) < 0)
		abort();
}

static void input1(const void *buf, size_t len, const struct sockaddr *src, socklen_t srclen)
{
	struct wg_datagram dg = {.buf = buf, .len = len, .src = src, .srclen = srclen};

	wg_device_input(dev, &dg, 1, now_ns);
}

static void input_from_harness(const void *buf, size_t len)
{
	input1(buf, len, (struct sockaddr *)&harness_addr, sizeof(harness_addr));
}

static const struct noise_remote *lookup_dev(void *arg, const uint8_t pub[32])
{
	return memcmp(pub, dev_as_seen.pub, 32) == 0 ? &dev_as_seen : NULL;
}

static void new_session(const struct noise_keys *k)
{
	keys[1] = keys[0], counters[1] = counters[0], have_keys[1] = have_keys[0];
	keys[0] = *k, counters[0] = 0, have_keys[0] = true;
}

/* What the device sent the harness. */
static void drain_udp(void)
{
	uint8_t buf[2048];
	ssize_t n;

	while ((n = recv(udp, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct noise_keys k;

		if (buf[0] == NOISE_MSG_INIT && n == sizeof(pending)) {
			memcpy(&pending, buf, sizeof(pending));
			have_pending = true;
		} else if (buf[0] == NOISE_MSG_RESP && n == sizeof(struct noise_msg_resp) &&
		           hs.state == NOISE_HS_INIT_CREATED) {
			if (noise_resp_consume((void *)buf, &hs, &peer, &dev_as_seen) == 0 &&
			    noise_derive_keys(&k, &hs) == 0)
				new_session(&k);
		} else if (buf[0] == NOISE_MSG_COOKIE && n == sizeof(struct noise_msg_cookie)) {
			if (noise_cookie_reply_consume((void *)buf, dev_as_seen.cookie_key,
			                               last_mac1, cookie) == 0)
				have_cookie = true;
		}
	}
}

static void drain_tun(void)
{
	uint8_t buf[2048];

	while (recv(tun[1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* The harness answers the device's pending initiation. */
static void answer_pending(void)
{
	struct noise_handshake rhs = {0};
	const struct noise_remote *r;
	struct noise_msg_resp resp;
	struct noise_keys k;
	uint8_t ts[NOISE_TIMESTAMP_LEN];

	if (!have_pending)
		return;
	have_pending = false;
	if (noise_init_consume(&pending, &peer, lookup_dev, NULL, &rhs, &r, ts) < 0 ||
	    noise_resp_create(&resp, &rhs, r, 0x5a5a0000u ^ le32toh(pending.sender)) < 0 ||
	    noise_derive_keys(&k, &rhs) < 0)
		return;
	noise_macs_add(&resp, sizeof(resp), dev_as_seen.mac1_key, have_cookie ? cookie : NULL,
	               last_mac1);
	input_from_harness(&resp, sizeof(resp));
	new_session(&k);
}

/* A session between the harness and the device, the device initiating, so
 * the device has seen no timestamp of the peer's yet. */
static void setup(void)
{
	socklen_t len = sizeof(harness_addr);
	struct sockaddr_in me = {.sin_family = AF_INET};
	struct pollfd pfd;

	log_set_level(LOG_LVL_ERR);
	fixed_keys();
	/* A datagram socket pair stands in for the TUN; the fuzzer drains it. */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, tun) < 0)
		abort();
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (udp < 0 || bind(udp, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    getsockname(udp, (struct sockaddr *)&me, &len) < 0)
		abort();
	harness_addr = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_port = me.sin_port};
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &harness_addr.sin6_addr);

	dev = wg_device_new(
	        &(struct wg_device_params){.private_key = dev_priv, .tun_fd = tun[0], .mtu = 1420});
	if (!dev)
		abort();
	confined = setsockopt(dev->udp_fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) == 0;
	if (!confined)
		fprintf(stderr,
		        "fuzz_packet: cannot bind the device's socket to lo (%s): IPv6 "
		        "senders are all ::1, one rate-limit bucket\n",
		        strerror(errno));
	struct prefix allowed[2] = {
	        {.family = AF_INET, .v4.s_addr = htonl(PEER_INNER), .len = 32},
	        {.family = AF_INET6, .len = 64},
	};
	inet_pton(AF_INET6, "fd00:64::", &allowed[1].v6);
	dev_peer = wg_peer_add(dev, &(struct wg_peer_params){.name = "fuzz",
	                                                     .public_key = peer.pub,
	                                                     .allowed = allowed,
	                                                     .n_allowed = 2,
	                                                     .endpoint = (struct sockaddr *)&me,
	                                                     .endpoint_len = sizeof(me)});
	if (!dev_peer)
		abort();
	wg_peer_connect(dev_peer, now_ns);
	pfd = (struct pollfd){.fd = udp, .events = POLLIN};
	if (poll(&pfd, 1, 2000) != 1)
		abort();
	drain_udp();
	answer_pending();
	drain_udp();
	if (!have_keys[0])
		abort();
}

static socklen_t source(uint8_t b, struct sockaddr_storage *ss)
{
	unsigned x = b >> 2;

	memset(ss, 0, sizeof(*ss));
	switch (b & 3) {
	case 0: {
		struct sockaddr_in *s = (void *)ss;
		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)(40000 + x));
		s->sin_addr.s_addr = htonl(0x7f000100u | x);
		return sizeof(*s);
	}
	case 1: {
		struct sockaddr_in6 *s = (void *)ss;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)(40000 + x));
		inet_pton(AF_INET6, "::ffff:127.0.1.0", &s->sin6_addr);
		s->sin6_addr.s6_addr[15] = (uint8_t)x;
		return sizeof(*s);
	}
	case 2: {
		struct sockaddr_in6 *s = (void *)ss;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)(40000 + x));
		if (confined) {
			inet_pton(AF_INET6, "2001:db8::1", &s->sin6_addr);
			s->sin6_addr.s6_addr[7] = (uint8_t)x;
		} else {
			s->sin6_addr = in6addr_loopback;
		}
		return sizeof(*s);
	}
	default:
		memcpy(ss, &harness_addr, sizeof(harness_addr));
		return sizeof(harness_addr);
	}
}

static void fix_macs(uint8_t *buf, size_t len, bool with_cookie)
{
	if (len != sizeof(struct noise_msg_init) && len != sizeof(struct noise_msg_resp))
		return;
	noise_macs_add(buf, len, dev_as_seen.mac1_key, with_cookie && have_cookie ? cookie : NULL,
	               last_mac1);
}

static void seal_and_input(uint8_t *buf, const uint8_t *pkt, size_t len, uint8_t flags,
                           const struct sockaddr *src, socklen_t srclen)
{
	struct noise_msg_data *m = (void *)buf;
	size_t padded = (len + 15) & ~(size_t)15;
	int s = flags & 1;

	if (!have_keys[s])
		return;
	counters[s] += (uint64_t)(flags >> 1) * 128;
	memmove(m->payload, pkt, len);
	memset(m->payload + len, 0, padded - len);
	m->type = NOISE_MSG_DATA;
	memset(m->reserved, 0, sizeof(m->reserved));
	m->receiver = htole32(keys[s].remote_index);
	m->counter = htole64(counters[s]);
	crypto_aead_seal(m->payload, m->payload, padded, NULL, 0, counters[s], keys[s].send);
	counters[s]++;
	input1(buf, NOISE_DATA_HDR_LEN + padded + CRYPTO_TAG_LEN, src, srclen);
}

static void full_receive(uint8_t *buf, size_t len, uint8_t src_byte, bool with_cookie)
{
	static struct sockaddr_storage srcs[WG_BATCH];
	struct wg_datagram dg[WG_BATCH];

	fix_macs(buf, len, with_cookie);
	for (unsigned i = 0; i < WG_BATCH; i++) {
		socklen_t sl = source((uint8_t)(src_byte + 4 * i), &srcs[i]);
		dg[i] = (struct wg_datagram){
		        .buf = buf, .len = len, .src = (struct sockaddr *)&srcs[i], .srclen = sl};
	}
	wg_device_input(dev, dg, WG_BATCH, now_ns);
}

static void harness_initiates(const uint8_t *p, size_t len)
{
	struct noise_msg_init m;
	uint32_t index = 0x11110000;

	if (len >= 4)
		memcpy(&index, p, 4);
	crypto_wipe(&hs, sizeof(hs));
	if (noise_init_create(&m, &hs, &peer, &dev_as_seen, index) < 0)
		return;
	noise_macs_add(&m, sizeof(m), dev_as_seen.mac1_key, have_cookie ? cookie : NULL, last_mac1);
	input_from_harness(&m, sizeof(m));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[4096];
	struct sockaddr_storage src;
	socklen_t srclen;
	size_t len;

	if (!dev)
		setup();
	if (size < HDR || size - HDR > sizeof(buf) - NOISE_DATA_MIN_LEN - 16)
		return 0;
	now_ns += data[2] < 128 ? data[2] * 1000000ULL : (data[2] - 127) * 5000000000ULL;
	wg_device_tick(dev, now_ns);
	srclen = source(data[1], &src);
	len = size - HDR;
	memcpy(buf, data + HDR, len);

	switch (data[0] % N_MODES) {
	case 7:
		memset(dev_peer->greatest_ts, 0, sizeof(dev_peer->greatest_ts));
		dev_peer->last_init_rx_ns = 0;
		/* fall through */
	case 1:
		fix_macs(buf, len, data[3] & 1);
		/* fall through */
	case 0:
		input1(buf, len, (struct sockaddr *)&src, srclen);
		break;
	case 2:
		seal_and_input(buf, data + HDR, len, data[3], (struct sockaddr *)&src, srclen);
		break;
	case 3:
		if (send(tun[1], buf, len, 0) == (ssize_t)len)
			wg_device_tun_input(dev, now_ns);
		break;
	case 4:
		full_receive(buf, len, data[1], data[3] & 1);
		break;
	case 5:
		harness_initiates(buf, len);
		break;
	case 6:
		wg_peer_connect(dev_peer, now_ns);
		drain_udp();
		answer_pending();
		break;
	case 8:
		if (len == sizeof(struct noise_msg_resp) && have_pending) {
			struct noise_msg_resp *r = (void *)buf;
			r->receiver = pending.sender;
			fix_macs(buf, len, data[3] & 1);
		}
		input1(buf, len, (struct sockaddr *)&src, srclen);
		break;
	}
	drain_udp();
	drain_tun();
	return 0;
}

/* --- the seed corpus --- */

static void write_seed(const char *dir, const char *name, uint8_t mode, uint8_t src, uint8_t clock,
                       uint8_t flags, const void *payload, size_t len)
{
	char path[4096];
	uint8_t hdr[HDR] = {mode, src, clock, flags};
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(hdr, 1, HDR, f) != HDR || (len && fwrite(payload, 1, len, f) != len) ||
	    fclose(f) != 0) {
		fprintf(stderr, "fuzz_packet: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* Waits until the TAI64N clock moves on, so each seed initiation is newer
 * than the one before. */
static void tai64n_tick(void)
{
	uint8_t a[NOISE_TIMESTAMP_LEN], b[NOISE_TIMESTAMP_LEN];
	struct timespec ms = {.tv_nsec = 1000000};

	noise_tai64n(a);
	do {
		nanosleep(&ms, NULL);
		noise_tai64n(b);
	} while (memcmp(a, b, sizeof(a)) == 0);
}

static size_t ipv4_packet(uint8_t *p, size_t len, uint32_t src, uint32_t dst)
{
	memset(p, 0, len);
	p[0] = 0x45, p[2] = (uint8_t)(len >> 8), p[3] = (uint8_t)len, p[8] = 64, p[9] = 17;
	src = htonl(src), dst = htonl(dst);
	memcpy(p + 12, &src, 4);
	memcpy(p + 16, &dst, 4);
	return len;
}

static size_t ipv6_packet(uint8_t *p, const char *src, const char *dst)
{
	memset(p, 0, 48);
	p[0] = 0x60, p[5] = 8, p[6] = 17, p[7] = 64;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
	return 48;
}

/* Valid initiations from the harness's key to the device's, valid responses
 * from the harness to initiations of the device's key, and an input of
 * every mode. */
static void write_seeds(const char *dir)
{
	struct noise_handshake h = {0}, rh = {0};
	const struct noise_remote *r;
	struct noise_msg_init init;
	struct noise_msg_resp resp;
	uint8_t ts[NOISE_TIMESTAMP_LEN], pkt[2048];
	uint32_t index = 0x01020304;
	char name[64];

	fixed_keys();
	for (int i = 0; i < 4; i++) {
		tai64n_tick();
		if (noise_init_create(&init, &h, &peer, &dev_as_seen, 0x100 + (uint32_t)i) < 0)
			abort();
		noise_macs_add(&init, sizeof(init), dev_as_seen.mac1_key, NULL, NULL);
		/* Accepted (7) from each kind of sender, and as replays (0, 1). */
		snprintf(name, sizeof(name), "init-%d-accepted", i);
		write_seed(dir, name, 7, (uint8_t)(i | 4 * i), 30, 0, &init, sizeof(init));
		snprintf(name, sizeof(name), "init-%d-replayed", i);
		write_seed(dir, name, (uint8_t)(i & 1), (uint8_t)i, 30, 0, &init, sizeof(init));
		if (i == 0)
			write_seed(dir, "init-flood", 4, 2, 1, 0, &init, sizeof(init));
		/* The device's initiation, the harness's valid response to it. */
		if (noise_init_create(&init, &h, &dev_local, &peer_as_seen, 0x200 + (uint32_t)i) <
		            0 ||
		    noise_init_consume(&init, &peer, lookup_dev, NULL, &rh, &r, ts) < 0 ||
		    noise_resp_create(&resp, &rh, r, 0x300 + (uint32_t)i) < 0)
			abort();
		noise_macs_add(&resp, sizeof(resp), dev_as_seen.mac1_key, NULL, NULL);
		snprintf(name, sizeof(name), "resp-%d-pending", i);
		write_seed(dir, name, 8, 3, 5, 0, &resp, sizeof(resp));
		snprintf(name, sizeof(name), "resp-%d-raw", i);
		write_seed(dir, name, 1, (uint8_t)i, 5, 0, &resp, sizeof(resp));
		crypto_wipe(&h, sizeof(h));
		crypto_wipe(&rh, sizeof(rh));
	}
	write_seed(dir, "data-v4", 2, 3, 1, 0, pkt,
	           ipv4_packet(pkt, 60, PEER_INNER, 0xcb007150 /* 203.0.113.80 */));
	write_seed(dir, "data-v4-roamed", 2, 1, 1, 0, pkt,
	           ipv4_packet(pkt, 28, PEER_INNER, 0xcb007150));
	write_seed(dir, "data-v4-previous", 2, 3, 1, 1, pkt,
	           ipv4_packet(pkt, 28, PEER_INNER, 0xcb007150));
	write_seed(dir, "data-v4-spoofed", 2, 3, 1, 0, pkt,
	           ipv4_packet(pkt, 28, PEER_INNER + 1, 0xcb007150));
	write_seed(dir, "data-v4-skip", 2, 3, 1, 0xfe, pkt,
	           ipv4_packet(pkt, 28, PEER_INNER, 0xcb007150));
	write_seed(dir, "data-v6", 2, 2, 1, 0, pkt, ipv6_packet(pkt, "fd00:64::2", "2001:db8::80"));
	write_seed(dir, "data-keepalive", 2, 3, 1, 0, pkt, 0);
	write_seed(dir, "tun-v4", 3, 0, 1, 0, pkt, ipv4_packet(pkt, 100, 0xcb007150, PEER_INNER));
	write_seed(dir, "tun-v4-mtu", 3, 0, 1, 0, pkt,
	           ipv4_packet(pkt, 1419, 0xcb007150, PEER_INNER));
	write_seed(dir, "tun-v4-noroute", 3, 0, 1, 0, pkt,
	           ipv4_packet(pkt, 40, 0xcb007150, PEER_INNER + 1));
	write_seed(dir, "tun-v6", 3, 0, 1, 0, pkt, ipv6_packet(pkt, "2001:db8::80", "fd00:64::2"));
	write_seed(dir, "tun-v6-linklocal", 3, 0, 1, 0, pkt,
	           ipv6_packet(pkt, "fe80::1", "ff02::2"));
	write_seed(dir, "tun-after-reject", 3, 0, 127 + 37, 0, pkt,
	           ipv4_packet(pkt, 28, 0xcb007150, PEER_INNER));
	write_seed(dir, "harness-initiates", 5, 3, 30, 0, &index, sizeof(index));
	write_seed(dir, "harness-initiates-cookie", 5, 3, 30, 1, &index, sizeof(index));
	write_seed(dir, "device-initiates", 6, 3, 127 + 2, 0, NULL, 0);
	write_seed(dir, "clock-zero-keys", 0, 0, 255, 0, NULL, 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_PACKET_SEEDS");

	if (dir) {
		write_seeds(dir);
		fprintf(stderr, "fuzz_packet: seeds written to %s\n", dir);
		exit(0);
	}
	return 0;
}
