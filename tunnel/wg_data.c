/* The device's two packet loops, both in batches: the TUN side reads up to
 * BATCH packets and hands all their datagrams to one sendmmsg(); the UDP side
 * takes up to BATCH datagrams from one recvmmsg(). Also the entry points that
 * run them on the caller's clock, and the timers' tick. */
#include "tunnel/wg_priv.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "tunnel/ipv.h"
#include "tunnel/log.h"
#include "tunnel/loop.h"

#define TICK_MS 100

/* --- sending --- */

void wg_send_to(struct wg_device *d, const struct sockaddr_storage *to, socklen_t tolen,
                struct wg_src *from, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr m = {
	        .msg_name = (void *)to,
	        .msg_namelen = tolen,
	        .msg_iov = &iov,
	        .msg_iovlen = 1,
	};

	/* Handshake messages, cookie replies, keepalives: rare, sent one by one. */
	if (!tolen)
		return;
	if (from && from->len) {
		m.msg_control = from->cmsg;
		m.msg_controllen = from->len;
	}
	if (sendmsg(d->udp_fd, &m, 0) >= 0)
		return;
	if (m.msg_control && wg_src_refused(errno)) {
		/* The address the peer reached us at is gone: any will do,
		 * until its next packet says where it reaches us now. */
		log_debug("sendmsg from the sticky source: %s; sending from any address",
		          strerror(errno));
		from->len = 0;
		m.msg_control = NULL;
		m.msg_controllen = 0;
		if (sendmsg(d->udp_fd, &m, 0) >= 0)
			return;
	}
	log_debug("sendmsg: %s", strerror(errno));
}

size_t wg_seal(struct wg_device *d, struct keypair *kp, uint8_t *out, const uint8_t *pkt,
               size_t len)
{
	struct noise_msg_data *m = (void *)out;
	size_t padded = (len + 15) & ~(size_t)15;
	uint64_t counter = kp->send_counter++;

	/* Pad to 16 to hide exact lengths, but never past the MTU. */
	if (padded > d->mtu)
		padded = len > d->mtu ? len : d->mtu;
	if (pkt != m->payload)
		memmove(m->payload, pkt, len);
	memset(m->payload + len, 0, padded - len);
	m->type = NOISE_MSG_DATA;
	memset(m->reserved, 0, sizeof(m->reserved));
	m->receiver = htole32(kp->keys.remote_index);
	m->counter = htole64(counter);
	if (crypto_aead_ctx_seal(kp->seal, m->payload, m->payload, padded, counter) < 0)
		return 0;
	return NOISE_DATA_HDR_LEN + padded + CRYPTO_TAG_LEN;
}

void wg_send_one(struct wg_peer *p, struct keypair *kp, const uint8_t *pkt, size_t len,
                 uint64_t now)
{
	uint8_t buf[NOISE_DATA_HDR_LEN + WG_MTU_MAX + 16 + CRYPTO_TAG_LEN];
	size_t n;

	if (len > p->dev->mtu || p->dev->mtu > WG_MTU_MAX)
		return;
	n = wg_seal(p->dev, kp, buf, pkt ? pkt : buf + NOISE_DATA_HDR_LEN, len);
	if (!n)
		return;
	wg_send_to(p->dev, &p->ep, p->ep_len, &p->ep_src, buf, n);
	session_sent(p, kp, len == 0, now);
	if (len) {
		p->stats.tx_packets++;
		p->stats.tx_bytes += len;
	}
}

/* Message i of a send was refused its source (see wg_src_refused()): its peer
 * forgets that source, and its messages from i on go from any address. The
 * message points at the peer's wg_src, which tells the peer's others. */
static void forget_src(struct batch *b, unsigned i, unsigned n)
{
	void *control = b->msgs[i].msg_hdr.msg_control;
	struct wg_src *s = (void *)((uint8_t *)control - offsetof(struct wg_src, cmsg));

	log_debug("sendmmsg from a sticky source: %s; sending from any address", strerror(errno));
	s->len = 0;
	for (; i < n; i++) {
		if (b->msgs[i].msg_hdr.msg_control == control) {
			b->msgs[i].msg_hdr.msg_control = NULL;
			b->msgs[i].msg_hdr.msg_controllen = 0;
		}
	}
}

void wg_device_tun_input(struct wg_device *d, uint64_t now)
{
	struct batch *b = d->batch;
	unsigned n_out = 0;

	for (int i = 0; i < BATCH; i++) {
		uint8_t *buf = b->bufs + (size_t)n_out * b->buf_size;
		uint8_t *pkt = buf + NOISE_DATA_HDR_LEN;
		const uint8_t *dst;
		struct wg_peer *p;
		struct keypair *kp;
		ssize_t len = read(d->tun_fd, pkt, d->mtu);
		int family;

		if (len < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("read from tun");
			break;
		}
		family = ipv_addr(pkt, (size_t)len, false, &dst);
		/* The kernel's link chatter (router solicitations, MLD) stays here. */
		p = family < 0 || ipv_link_scoped(pkt, (size_t)len)
		            ? NULL
		            : wg_route_lookup(d, family, dst);
		if (!p) {
			d->stats.no_route++;
			continue;
		}
		kp = session_sending_keypair(p, now);
		if (!kp) {
			session_stage(p, pkt, (size_t)len, now);
			continue;
		}
		size_t n = wg_seal(d, kp, buf, pkt, (size_t)len);
		if (!n || !p->ep_len)
			continue;
		b->iovs[n_out] = (struct iovec){.iov_base = buf, .iov_len = n};
		b->msgs[n_out].msg_hdr = (struct msghdr){
		        .msg_name = &p->ep,
		        .msg_namelen = p->ep_len,
		        .msg_iov = &b->iovs[n_out],
		        .msg_iovlen = 1,
		        .msg_control = p->ep_src.len ? p->ep_src.cmsg : NULL,
		        .msg_controllen = p->ep_src.len,
		};
		session_sent(p, kp, false, now);
		p->stats.tx_packets++;
		p->stats.tx_bytes += (uint64_t)len;
		n_out++;
	}
	for (unsigned sent = 0; sent < n_out;) {
		int rc = sendmmsg(d->udp_fd, b->msgs + sent, n_out - sent, 0);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			if (b->msgs[sent].msg_hdr.msg_control && wg_src_refused(errno)) {
				forget_src(b, sent, n_out);
				continue; /* the same message again, from any address */
			}
			/* A full socket buffer or an unreachable peer: drop this
			 * one as a router would, and go on with the rest. */
			log_debug("sendmmsg: %s", strerror(errno));
			rc = 1;
		}
		sent += (unsigned)rc;
	}
}

static int on_tun(void *arg, uint32_t events)
{
	wg_device_tun_input(arg, wg_now());
	return 0;
}

/* --- receiving --- */

static void handle_data(struct wg_device *d, uint8_t *buf, size_t len,
                        const struct sockaddr_storage *src, socklen_t srclen,
                        const struct wg_src *local, uint64_t now)
{
	struct noise_msg_data *m = (void *)buf;
	uint64_t counter = le64toh(m->counter);
	uint32_t index = le32toh(m->receiver);
	struct wg_peer *p = wg_index_find(d, index);
	struct keypair *kp = p ? session_receiving_keypair(p, index, now) : NULL;
	size_t plain = len - NOISE_DATA_HDR_LEN - CRYPTO_TAG_LEN;
	const uint8_t *saddr;
	size_t inner;
	int family;

	if (!kp || crypto_aead_ctx_open(kp->open, m->payload, m->payload, len - NOISE_DATA_HDR_LEN,
	                                counter) < 0) {
		d->stats.invalid++;
		return;
	}
	/* Only now is the packet known to be the peer's; a replay must not
	 * move its endpoint either. */
	if (!replay_accept(&kp->replay, counter)) {
		d->stats.invalid++;
		d->stats.replayed++;
		return;
	}
	session_received(p, kp, src, srclen, local, plain == 0, now);
	if (plain == 0)
		return; /* keepalive */
	inner = ipv_length(m->payload, plain);
	family = inner ? ipv_addr(m->payload, inner, true, &saddr) : -1;
	if (family < 0) {
		d->stats.invalid++;
		return;
	}
	/* The datagram may be larger (a peer with a larger MTU is still heard
	 * and authenticated), but no packet over our MTU goes into the TUN: it
	 * would leave the uplink bigger than anything the tunnel promised and
	 * than the MSS clamping assumed. */
	if (inner > d->mtu) {
		d->stats.invalid++;
		log_debug("peer %s: dropped a %zu-byte packet, over the MTU of %u", p->name, inner,
		          d->mtu);
		return;
	}
	/* A peer's link chatter is no attempt to borrow an address, but it
	 * has nowhere to go either. */
	if (ipv_link_scoped(m->payload, inner)) {
		d->stats.invalid++;
		return;
	}
	if (wg_route_lookup(d, family, saddr) != p) {
		p->stats.spoofed++;
		log_debug("peer %s: dropped a packet with a source that is not its own", p->name);
		return;
	}
	p->stats.rx_packets++;
	p->stats.rx_bytes += inner;
	if (write(d->tun_fd, m->payload, inner) < 0 && errno != EAGAIN)
		log_debug("write to tun: %s", strerror(errno));
}

/* One datagram, dispatched on its type and exact length before any field is
 * read. */
static void input(struct wg_device *d, uint8_t *buf, size_t len, struct sockaddr_storage *src,
                  socklen_t srclen, const struct wg_src *local, uint64_t now)
{
	if (len < 4 || buf[1] || buf[2] || buf[3]) {
		d->stats.invalid++;
		return;
	}
	if (buf[0] == NOISE_MSG_DATA && len >= NOISE_DATA_MIN_LEN)
		handle_data(d, buf, len, src, srclen, local, now);
	else if (buf[0] == NOISE_MSG_INIT && len == sizeof(struct noise_msg_init))
		session_handle_init(d, buf, src, srclen, local, now);
	else if (buf[0] == NOISE_MSG_RESP && len == sizeof(struct noise_msg_resp))
		session_handle_resp(d, buf, src, srclen, local, now);
	else if (buf[0] == NOISE_MSG_COOKIE && len == sizeof(struct noise_msg_cookie))
		session_handle_cookie(d, buf, now);
	else
		d->stats.invalid++;
}

static bool is_handshake(const uint8_t *buf, size_t len)
{
	return (buf[0] == NOISE_MSG_INIT && len == sizeof(struct noise_msg_init)) ||
	       (buf[0] == NOISE_MSG_RESP && len == sizeof(struct noise_msg_resp));
}

/* "Under load" means what the kernel and wireguard-go mean by it: the CPU is
 * not keeping up with handshakes, so they queue. A rate says nothing about
 * that (anyone who knows our public key could send enough valid-mac1
 * initiations to pass any fixed rate, and many clients legitimately do);
 * a queue does. Our single-threaded loop has no handshake queue of its own:
 * the socket's receive queue is it. A receive that comes back full found the
 * queue holding more than one batch, so the handshake messages in it were
 * waiting behind others; when load_threshold or more of them are in such a
 * receive, the device is under load for the next second, and handshakes in
 * this very receive already get cookie replies instead of Diffie-Hellman.
 * Datagrams, not receives, are counted, so a receive of GRO trains that
 * carries many datagrams counts as the many. */
static void note_load(struct wg_device *d, unsigned datagrams, unsigned handshakes, uint64_t now)
{
	unsigned long suppressed;

	if (datagrams < BATCH || handshakes < d->load_threshold)
		return;
	if (now >= d->under_load_until_ns) {
		d->stats.load_events++;
		if (log_ratelimit(&d->load_log, now, LOG_INTERVAL_NS, &suppressed))
			log_warnx("under load: %u handshake messages queued behind a full receive, "
			          "answering with cookies (%lu more such times not logged)",
			          handshakes, suppressed);
	}
	d->under_load_until_ns = now + NSEC;
}

/* The n datagrams of one receive, in the batch's slots, with their local
 * addresses in locals. */
static void input_received(struct wg_device *d, unsigned n, uint64_t now)
{
	struct batch *b = d->batch;
	unsigned handshakes = 0;

	for (unsigned i = 0; i < n; i++)
		if (is_handshake(b->iovs[i].iov_base, b->msgs[i].msg_len))
			handshakes++;
	note_load(d, n, handshakes, now);
	for (unsigned i = 0; i < n; i++) {
		if (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			d->stats.invalid++;
			continue;
		}
		input(d, b->iovs[i].iov_base, b->msgs[i].msg_len, &b->addrs[i],
		      b->msgs[i].msg_hdr.msg_namelen, &b->locals[i], now);
	}
}

static void batch_prepare_receive(struct batch *b)
{
	for (int i = 0; i < BATCH; i++) {
		b->iovs[i] = (struct iovec){.iov_base = b->bufs + (size_t)i * b->buf_size,
		                            .iov_len = b->buf_size};
		b->msgs[i].msg_hdr = (struct msghdr){
		        .msg_name = &b->addrs[i],
		        .msg_namelen = sizeof(b->addrs[i]),
		        .msg_iov = &b->iovs[i],
		        .msg_iovlen = 1,
		        .msg_control = b->control[i],
		        .msg_controllen = sizeof(b->control[i]),
		};
	}
}

void wg_device_input(struct wg_device *d, const struct wg_datagram *dg, size_t n, uint64_t now)
{
	struct batch *b = d->batch;

	while (n) {
		unsigned k = 0;

		batch_prepare_receive(b);
		for (; k < BATCH && k < n; k++) {
			size_t len = dg[k].len < b->buf_size ? dg[k].len : b->buf_size;
			socklen_t alen = dg[k].srclen < sizeof(b->addrs[k]) ? dg[k].srclen
			                                                    : sizeof(b->addrs[k]);

			memcpy(b->iovs[k].iov_base, dg[k].buf, len);
			b->msgs[k].msg_len = (unsigned)len;
			b->msgs[k].msg_hdr.msg_flags = dg[k].len > b->buf_size ? MSG_TRUNC : 0;
			memset(&b->addrs[k], 0, sizeof(b->addrs[k]));
			memcpy(&b->addrs[k], dg[k].src, alen);
			b->msgs[k].msg_hdr.msg_namelen = alen;
			wg_src_from_sockaddr(&b->locals[k], dg[k].dst, dg[k].dstlen);
		}
		input_received(d, k, now);
		dg += k;
		n -= k;
	}
}

static int on_udp(void *arg, uint32_t events)
{
	struct wg_device *d = arg;
	int n;

	batch_prepare_receive(d->batch);
	n = recvmmsg(d->udp_fd, d->batch->msgs, BATCH, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("recvmmsg");
		return 0;
	}
	for (int i = 0; i < n; i++)
		wg_src_from_control(&d->batch->locals[i], &d->batch->msgs[i].msg_hdr);
	input_received(d, (unsigned)n, wg_now());
	return 0;
}

void wg_device_tick(struct wg_device *d, uint64_t now)
{
	wg_timers_run(d, now);
}

static int on_tick(void *arg)
{
	wg_device_tick(arg, wg_now());
	return 0;
}

int wg_device_attach(struct wg_device *d, struct loop *l)
{
	int err;

	err = loop_add(l, d->udp_fd, EPOLLIN, on_udp, d);
	if (!err)
		err = loop_add(l, d->tun_fd, EPOLLIN, on_tun, d);
	if (!err)
		err = loop_tick(l, TICK_MS, on_tick, d);
	return err;
}
