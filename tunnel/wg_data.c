/* The device's two packet loops, both in batches. The TUN side reads up to
 * BATCH packets or superpackets (split into MTU segments, tunnel/offload.h)
 * and hands all their datagrams to one sendmmsg(), each run of one peer's
 * datagrams as one UDP_SEGMENT train with UDP GSO. The UDP side takes up to
 * BATCH datagrams or UDP_GRO trains from one recvmmsg(), and with TSO on the
 * TUN coalesces what they decrypt to into superpackets before writing them.
 * Also the entry points that run them on the caller's clock, and the timers'
 * tick. */
#include "tunnel/wg_priv.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/udp.h>
#include <sys/uio.h>
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

/* --- the TUN side: packets read, datagrams sent --- */

static void tun_drop(struct wg_device *d, const char *what)
{
	unsigned long suppressed;

	d->stats.tun_drops++;
	if (log_ratelimit(&d->tun_log, wg_now(), LOG_INTERVAL_NS, &suppressed))
		log_warnx("%s (%lu more not logged)", what, suppressed);
}

void wg_offload_off(struct wg_device *d, bool *on, const char *what, const char *why)
{
	if (on)
		*on = false;
	d->stats.fallbacks++;
	log_warnx("%s: %s; off until the next start", what, why);
}

/* Message i's control messages: its peer's sticky source, and a train's
 * segment size. */
static void tx_control(struct batch *b, unsigned i)
{
	struct msghdr *m = &b->tx_msgs[i].msg_hdr;
	const struct wg_src *src = &b->dgrams[b->tx_first[i]].peer->ep_src;
	uint8_t *c = b->tx_control[i];
	size_t len = src->len;

	memcpy(c, src->cmsg, len);
	if (m->msg_iovlen > 1) {
		struct cmsghdr *cm = (void *)(c + len);
		uint16_t seg = (uint16_t)m->msg_iov[0].iov_len;

		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
		len += CMSG_SPACE(sizeof(seg));
	}
	m->msg_control = len ? c : NULL;
	m->msg_controllen = len;
}

/* The messages for the datagrams from k on, from message i on: with UDP GSO,
 * each run of one peer's datagrams of one size (the last may be shorter) is
 * one train; datagrams before alone_until go one to a message. Returns the
 * number of messages. */
static unsigned tx_build(struct wg_device *d, unsigned i, size_t k, size_t alone_until)
{
	struct batch *b = d->batch;

	for (; k < b->n_dgrams; i++) {
		const struct tx_dgram *g = &b->dgrams[k];
		size_t n = 1, total = g->len;

		while (d->offload.udp_gso && k >= alone_until && k + n < b->n_dgrams &&
		       n < GSO_MAX_SEGS) {
			const struct tx_dgram *h = &b->dgrams[k + n];

			if (h->peer != g->peer || h->len > g->len || total + h->len > GSO_MAX_BYTES)
				break;
			total += h->len;
			n++;
			if (h->len < g->len)
				break; /* a shorter one ends the train */
		}
		b->tx_first[i] = (unsigned)k;
		b->tx_msgs[i].msg_hdr = (struct msghdr){
		        .msg_name = &g->peer->ep,
		        .msg_namelen = g->peer->ep_len,
		        .msg_iov = &b->tx_iovs[k],
		        .msg_iovlen = n,
		};
		tx_control(b, i);
		k += n;
	}
	return i;
}

/* Message i of a send was refused its source (see wg_src_refused()): its peer
 * forgets that source, and its messages from i on go from any address. */
static void forget_src(struct batch *b, unsigned i, unsigned n)
{
	const struct wg_peer *p = b->dgrams[b->tx_first[i]].peer;

	log_debug("sendmmsg from a sticky source: %s; sending from any address", strerror(errno));
	b->dgrams[b->tx_first[i]].peer->ep_src.len = 0;
	for (; i < n; i++)
		if (b->dgrams[b->tx_first[i]].peer == p)
			tx_control(b, i);
}

/* Sends the datagrams of the round, and starts a new one. */
static void tx_flush(struct wg_device *d)
{
	struct batch *b = d->batch;
	unsigned n = tx_build(d, 0, 0, 0);

	for (unsigned sent = 0; sent < n;) {
		struct msghdr *m = &b->tx_msgs[sent].msg_hdr;
		int rc = sendmmsg(d->udp_fd, b->tx_msgs + sent, n - sent, 0);

		if (rc < 0) {
			if (errno == EINTR)
				continue;
			if (m->msg_iovlen > 1 && errno == EIO) {
				/* No checksum offload on the way out. */
				wg_offload_off(
				        d, &d->offload.udp_gso, "udp_gso",
				        "the kernel cannot send UDP trains on this path (EIO)");
				n = tx_build(d, sent, b->tx_first[sent], 0);
				continue;
			}
			if (m->msg_iovlen > 1 && errno == EINVAL) {
				/* A train the path does not take (a route MTU below
				 * the datagrams): these go one by one. */
				log_debug(
				        "sendmmsg of a train: %s; sending it datagram by datagram",
				        strerror(errno));
				n = tx_build(d, sent, b->tx_first[sent],
				             b->tx_first[sent] + m->msg_iovlen);
				continue;
			}
			if (m->msg_controllen && wg_src_refused(errno)) {
				forget_src(b, sent, n);
				continue; /* the same message again, from any address */
			}
			/* A full socket buffer or an unreachable peer: drop this
			 * one as a router would, and go on with the rest. */
			log_debug("sendmmsg: %s", strerror(errno));
			rc = 1;
		} else {
			for (int j = 0; j < rc; j++)
				if (b->tx_msgs[sent + (unsigned)j].msg_hdr.msg_iovlen > 1)
					d->stats.gso_sends++;
		}
		sent += (unsigned)rc;
	}
	b->n_dgrams = 0;
	b->n_slots = 0;
}

/* The peer a packet from the TUN goes to, or NULL. */
static struct wg_peer *tx_route(struct wg_device *d, const uint8_t *pkt, size_t len)
{
	const uint8_t *dst;
	int family = ipv_addr(pkt, len, false, &dst);

	/* The kernel's link chatter (router solicitations, MLD) stays here. */
	return family < 0 || ipv_link_scoped(pkt, len) ? NULL : wg_route_lookup(d, family, dst);
}

/* A packet from the TUN at pkt for p (NULL: none) under kp (NULL: none
 * yet), in its slot (the data header's room before it): sealed into a
 * datagram of the round, or staged for a handshake. */
static void tx_packet(struct wg_device *d, struct wg_peer *p, struct keypair *kp, uint8_t *pkt,
                      size_t len, uint64_t now)
{
	struct batch *b = d->batch;
	uint8_t *buf = pkt - NOISE_DATA_HDR_LEN;
	size_t n;

	if (!p) {
		d->stats.no_route++;
		return;
	}
	if (!kp) {
		session_stage(p, pkt, len, now);
		return;
	}
	n = wg_seal(d, kp, buf, pkt, len);
	if (!n || !p->ep_len)
		return;
	b->dgrams[b->n_dgrams] = (struct tx_dgram){.peer = p, .buf = buf, .len = n};
	b->tx_iovs[b->n_dgrams] = (struct iovec){.iov_base = buf, .iov_len = n};
	b->n_dgrams++;
	session_sent(p, kp, false, now);
	p->stats.tx_packets++;
	p->stats.tx_bytes += len;
}

/* One read from a plain TUN: 1, or 0 when it had nothing more. */
static int tun_read_plain(struct wg_device *d, uint64_t now)
{
	struct batch *b = d->batch;
	uint8_t *pkt = b->tx_bufs + b->n_slots * b->tx_stride + NOISE_DATA_HDR_LEN;
	struct wg_peer *p;
	ssize_t len = read(d->tun_fd, pkt, d->mtu);

	if (len < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("read from tun");
		return 0;
	}
	b->n_slots++;
	p = tx_route(d, pkt, (size_t)len);
	tx_packet(d, p, p ? session_sending_keypair(p, now) : NULL, pkt, (size_t)len, now);
	return 1;
}

/* The slots from the round's next free one on, for offload_split(). */
static void tx_segs(struct batch *b, struct offload_segs *s)
{
	s->buf = b->tx_bufs + b->n_slots * b->tx_stride;
	s->stride = b->tx_stride;
	s->headroom = NOISE_DATA_HDR_LEN;
	s->tailroom = 16 + CRYPTO_TAG_LEN;
	s->max = TX_SLOTS - b->n_slots;
}

/* One read from a TUN with a virtio_net_hdr: a packet or a superpacket, split
 * into the round's slots. 1, or 0 when it had nothing more. */
static int tun_read_vnet(struct wg_device *d, uint64_t now)
{
	struct batch *b = d->batch;
	struct offload_segs *s = &b->segs;
	struct virtio_net_hdr vh;
	struct wg_peer *p;
	struct keypair *kp;
	ssize_t len = read(d->tun_fd, b->tun_read, TUN_READ_BYTES);
	int err;

	if (len < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("read from tun");
		return 0;
	}
	if ((size_t)len < sizeof(vh)) {
		tun_drop(d, "a read from the TUN shorter than its virtio-net header");
		return 1;
	}
	memcpy(&vh, b->tun_read, sizeof(vh));
	tx_segs(b, s);
	err = offload_split(&vh, b->tun_read + sizeof(vh), (size_t)len - sizeof(vh), s);
	if (err == -ENOSPC && b->n_slots) {
		tx_flush(d); /* the round is full: send it, and split into a new one */
		tx_segs(b, s);
		err = offload_split(&vh, b->tun_read + sizeof(vh), (size_t)len - sizeof(vh), s);
	}
	if (err) {
		tun_drop(d, "a superpacket from the TUN that does not split");
		return 1;
	}
	if ((vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE)
		d->stats.tun_super_rx++;
	b->n_slots += s->n;
	/* The segments of one superpacket share their addresses, so their peer
	 * and session: one lookup (128 segments are far from any limit of
	 * messages per session). */
	p = s->n ? tx_route(d, s->buf + s->headroom, s->len[0]) : NULL;
	kp = p ? session_sending_keypair(p, now) : NULL;
	for (size_t i = 0; i < s->n; i++)
		tx_packet(d, p, kp, s->buf + i * s->stride + s->headroom, s->len[i], now);
	return 1;
}

void wg_device_tun_input(struct wg_device *d, uint64_t now)
{
	struct batch *b = d->batch;

	b->n_slots = b->n_dgrams = 0;
	for (int i = 0; i < BATCH && b->n_slots < TX_SLOTS; i++)
		if (!(d->vnet ? tun_read_vnet(d, now) : tun_read_plain(d, now)))
			break;
	tx_flush(d);
}

/* --- the TUN side: decrypted packets written --- */

/* One packet into the TUN as it is; with a virtio-net header, a zero one in
 * the room the data message's header leaves before it. */
static void tun_write_one(struct wg_device *d, uint8_t *pkt, size_t len)
{
	uint8_t *h = pkt - sizeof(struct virtio_net_hdr);

	if (d->vnet) {
		memset(h, 0, sizeof(struct virtio_net_hdr));
		if (write(d->tun_fd, h, len + sizeof(struct virtio_net_hdr)) < 0)
			tun_drop(d, "a write to the TUN failed");
	} else if (write(d->tun_fd, pkt, len) < 0) {
		tun_drop(d, "a write to the TUN failed");
	}
}

/* A superpacket the kernel refused, in its segments (the round's send slots
 * are free while datagrams are received). */
static void tun_write_segments(struct wg_device *d, const struct offload_item *it)
{
	struct batch *b = d->batch;
	struct offload_segs *s = &b->segs;

	s->buf = b->tx_bufs;
	s->stride = b->tx_stride;
	s->headroom = sizeof(struct virtio_net_hdr);
	s->tailroom = 0;
	s->max = TX_SLOTS;
	if (offload_split(&it->vh, it->buf, it->len, s) < 0) {
		tun_drop(d, "a coalesced superpacket that does not split again");
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		tun_write_one(d, s->buf + i * s->stride + s->headroom, s->len[i]);
}

/* Writes what the coalescer gathered, and starts it over. */
static void tun_flush(struct wg_device *d)
{
	struct offload_coalescer *c = &d->batch->coal;

	for (size_t i = 0; i < c->n; i++) {
		struct offload_item *it = &c->items[i];
		struct iovec iov[2] = {{.iov_base = &it->vh, .iov_len = sizeof(it->vh)},
		                       {.iov_base = it->buf, .iov_len = it->len}};

		offload_item_finish(it);
		if (it->segs > 1 && !d->coalescing) {
			tun_write_segments(d, it); /* merged before coalescing went off */
			continue;
		}
		if (writev(d->tun_fd, iov, 2) >= 0) {
			if (it->segs > 1)
				d->stats.tun_super_tx++;
			continue;
		}
		if (it->segs > 1 && errno == EINVAL) {
			wg_offload_off(
			        d, &d->coalescing, "tun_tso (coalescing)",
			        "the kernel refused a superpacket written to the TUN (EINVAL)");
			tun_write_segments(d, it);
			continue;
		}
		tun_drop(d, "a write to the TUN failed");
	}
	offload_coalesce_reset(c);
}

/* A decrypted packet (room for a virtio_net_hdr before it) for the TUN. */
static void tun_deliver(struct wg_device *d, uint8_t *pkt, size_t len)
{
	struct offload_coalescer *c = &d->batch->coal;

	if (!d->coalescing) {
		tun_write_one(d, pkt, len);
		return;
	}
	if (offload_coalesce(c, pkt, len) == -ENOSPC) {
		tun_flush(d);
		offload_coalesce(c, pkt, len);
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
	struct rx_train *t = &d->batch->train;
	struct wg_peer *p;
	struct keypair *kp;
	size_t plain = len - NOISE_DATA_HDR_LEN - CRYPTO_TAG_LEN;
	const uint8_t *saddr;
	size_t inner;
	int family;

	/* A train's datagrams come from one sender: its session is looked up
	 * once (no datagram of a train can free or replace it). */
	if (t->kp && t->index == index) {
		p = t->peer;
		kp = t->kp;
	} else {
		p = wg_index_find(d, index);
		kp = p ? session_receiving_keypair(p, index, now) : NULL;
		*t = (struct rx_train){.index = index, .peer = p, .kp = kp};
	}
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
	tun_deliver(d, m->payload, inner);
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

/* The n receives in the batch's slots (a datagram each, or a UDP_GRO train
 * of gro_size bytes each but the last), with their local addresses in
 * locals; then what they brought is written into the TUN. */
static void input_received(struct wg_device *d, unsigned n, uint64_t now)
{
	struct batch *b = d->batch;
	unsigned handshakes = 0, datagrams = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t len = b->msgs[i].msg_len, seg = b->gro_size[i] ? b->gro_size[i] : len;
		const uint8_t *buf = b->iovs[i].iov_base;

		size_t off = 0;

		do { /* once for an empty datagram too */
			datagrams++;
			if (is_handshake(buf + off, len - off < seg ? len - off : seg))
				handshakes++;
		} while ((off += seg) < len);
	}
	note_load(d, datagrams, handshakes, now);
	for (unsigned i = 0; i < n; i++) {
		size_t len = b->msgs[i].msg_len, seg = b->gro_size[i] ? b->gro_size[i] : len;
		uint8_t *buf = b->iovs[i].iov_base;

		if (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			d->stats.invalid++;
			continue;
		}
		if (len > seg)
			d->stats.gro_trains++;
		size_t off = 0;

		b->train.kp = NULL; /* another sender, maybe */
		do
			input(d, buf + off, len - off < seg ? len - off : seg, &b->addrs[i],
			      b->msgs[i].msg_hdr.msg_namelen, &b->locals[i], now);
		while ((off += seg) < len);
	}
	if (d->batch->coal.n)
		tun_flush(d);
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
			b->gro_size[k] = 0;
		}
		input_received(d, k, now);
		dg += k;
		n -= k;
	}
}

/* A received train's segment size (UDP_GRO's control message); 0: none,
 * one datagram. */
static uint16_t gro_size(struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		int size;

		if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO ||
		    c->cmsg_len < CMSG_LEN(sizeof(size)))
			continue;
		memcpy(&size, CMSG_DATA(c), sizeof(size));
		return size > 0 && size < 65536 ? (uint16_t)size : 0;
	}
	return 0;
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
	for (int i = 0; i < n; i++) {
		wg_src_from_control(&d->batch->locals[i], &d->batch->msgs[i].msg_hdr);
		d->batch->gro_size[i] = gro_size(&d->batch->msgs[i].msg_hdr);
	}
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
