/* The TUN's offloads: see offload.h. */
#include "tunnel/offload.h"

#include <errno.h>
#include <string.h>

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define TCP_FIN      0x01
#define TCP_PSH      0x08
#define TCP_CWR      0x80

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t fold(uint64_t acc);

/* The ones' complement sum of len bytes, big-endian words, onto acc
 * (congruent modulo 0xffff: callers fold). On a little-endian host, by
 * native 32-bit words: 2^16 is 1 modulo 0xffff, so their sum is the one of
 * the little-endian 16-bit words, and that one byte-swapped is the sum of
 * the big-endian words (RFC 1071, 2.B). Every byte of every packet passes
 * here once or twice. */
static uint64_t sum(const uint8_t *p, size_t len, uint64_t acc)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t s = 0;
	uint16_t w16, le;

	/* A loop the compiler vectorizes (tunnel/CMakeLists.txt asks GCC to
	 * for this file), faster than any scalar unrolling of it. */
	for (; len >= 4; p += 4, len -= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		s += w;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		s += w16;
		p += 2;
		len -= 2;
	}
	if (len)
		s += p[0]; /* the low byte of a little-endian word */
	le = fold(s);
	return acc + (uint16_t)(le >> 8 | le << 8);
#else
	for (; len > 1; p += 2, len -= 2)
		acc += get16(p);
	if (len)
		acc += (uint64_t)p[0] << 8;
	return acc;
#endif
}

static uint16_t fold(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* A parsed packet: IP version, header lengths, L4 protocol. */
struct hdrs {
	int v;         /* 4 or 6 */
	size_t ip_len; /* the IP header */
	size_t l4_len; /* TCP header with options, or 8 for UDP */
	uint8_t proto; /* IPPROTO_TCP_, IPPROTO_UDP_, or another */
	bool fragment; /* IPv4 MF or an offset */
};

/* The IP header of pkt: 0 or -EINVAL. l4_len is left 0. */
static int parse_ip(const uint8_t *pkt, size_t len, struct hdrs *h)
{
	memset(h, 0, sizeof(*h));
	if (len < 20)
		return -EINVAL;
	h->v = pkt[0] >> 4;
	if (h->v == 4) {
		h->ip_len = (size_t)(pkt[0] & 15) * 4;
		if (h->ip_len < 20 || h->ip_len > len)
			return -EINVAL;
		h->proto = pkt[9];
		h->fragment = (get16(pkt + 6) & 0x3fff) != 0;
		return 0;
	}
	if (h->v == 6) {
		if (len < 40)
			return -EINVAL;
		h->ip_len = 40;
		h->proto = pkt[6]; /* an extension header is "another" protocol */
		return 0;
	}
	return -EINVAL;
}

/* The L4 header too, for TCP and UDP: 0 or -EINVAL. */
static int parse_l4(const uint8_t *pkt, size_t len, struct hdrs *h)
{
	if (h->proto == IPPROTO_TCP_) {
		if (len < h->ip_len + 20)
			return -EINVAL;
		h->l4_len = (size_t)(pkt[h->ip_len + 12] >> 4) * 4;
		if (h->l4_len < 20 || h->ip_len + h->l4_len > len)
			return -EINVAL;
		return 0;
	}
	if (h->proto == IPPROTO_UDP_) {
		if (len < h->ip_len + 8)
			return -EINVAL;
		h->l4_len = 8;
		return 0;
	}
	return -EINVAL;
}

/* The pseudo-header's sum for an L4 segment of l4 bytes. */
static uint64_t pseudo(const uint8_t *pkt, const struct hdrs *h, size_t l4)
{
	uint64_t acc = h->proto + (uint64_t)l4;

	if (h->v == 4)
		return sum(pkt + 12, 8, acc);
	return sum(pkt + 8, 32, acc);
}

/* The L4 checksum of pkt (len bytes, headers h), written in its place. */
static void l4_csum(uint8_t *pkt, size_t len, const struct hdrs *h)
{
	size_t l4 = len - h->ip_len;
	uint8_t *field = pkt + h->ip_len + (h->proto == IPPROTO_TCP_ ? 16 : 6);
	uint16_t c;

	put16(field, 0);
	c = (uint16_t)~fold(sum(pkt + h->ip_len, l4, pseudo(pkt, h, l4)));
	if (!c && h->proto == IPPROTO_UDP_)
		c = 0xffff; /* 0 would mean "none" */
	put16(field, c);
}

static void ip4_csum(uint8_t *pkt, size_t ip_len)
{
	put16(pkt + 10, 0);
	put16(pkt + 10, (uint16_t)~fold(sum(pkt, ip_len, 0)));
}

static uint8_t *slot(struct offload_segs *s, size_t i)
{
	return s->buf + i * s->stride + s->headroom;
}

static size_t slot_room(const struct offload_segs *s)
{
	return s->stride > s->headroom + s->tailroom ? s->stride - s->headroom - s->tailroom : 0;
}

/* NONE, with or without NEEDS_CSUM: one segment. */
static int split_none(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len,
                      struct offload_segs *s)
{
	uint8_t *out;

	if (len > slot_room(s) || s->max < 1)
		return -ENOSPC;
	out = slot(s, 0);
	memcpy(out, pkt, len);
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		size_t start = vh->csum_start, off = vh->csum_offset;
		uint16_t c;

		if (start >= len || off > len - start || len - start - off < 2)
			return -EINVAL;
		/* The field holds the pseudo-header's sum already. */
		c = (uint16_t)~fold(sum(out + start, len - start, 0));
		if (!c && off == 6)
			c = 0xffff; /* UDP's checksum offset: 0 would mean "none" */
		put16(out + start + off, c);
	}
	s->n = 1;
	s->len[0] = (uint16_t)len;
	return 0;
}

int offload_split(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len,
                  struct offload_segs *s)
{
	uint8_t type = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	size_t hdr, payload, gso = vh->gso_size, n, room = slot_room(s);
	struct hdrs h;

	s->n = 0;
	if (len > 65535 + 40)
		return -EINVAL;
	if (type == VIRTIO_NET_HDR_GSO_NONE)
		return split_none(vh, pkt, len, s);
	if (parse_ip(pkt, len, &h) < 0 || h.fragment || parse_l4(pkt, len, &h) < 0)
		return -EINVAL;
	if ((type == VIRTIO_NET_HDR_GSO_TCPV4 && (h.v != 4 || h.proto != IPPROTO_TCP_)) ||
	    (type == VIRTIO_NET_HDR_GSO_TCPV6 && (h.v != 6 || h.proto != IPPROTO_TCP_)) ||
	    (type == VIRTIO_NET_HDR_GSO_UDP_L4 && h.proto != IPPROTO_UDP_) ||
	    (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6 &&
	     type != VIRTIO_NET_HDR_GSO_UDP_L4))
		return -EINVAL;
	hdr = h.ip_len + h.l4_len;
	if (!gso || len <= hdr)
		return -EINVAL;
	payload = len - hdr;
	n = (payload + gso - 1) / gso;
	if (n > s->max || n > OFFLOAD_MAX_SEGS || hdr + (gso < payload ? gso : payload) > room)
		return -ENOSPC;

	for (size_t i = 0; i < n; i++) {
		size_t chunk = i + 1 < n ? gso : payload - i * gso, seg = hdr + chunk;
		uint8_t *out = slot(s, i), *l4 = out + h.ip_len;

		memcpy(out, pkt, hdr);
		memcpy(out + hdr, pkt + hdr + i * gso, chunk);
		if (h.v == 4) {
			put16(out + 2, (uint16_t)seg);
			put16(out + 4, (uint16_t)(get16(pkt + 4) + i));
			ip4_csum(out, h.ip_len);
		} else {
			put16(out + 4, (uint16_t)(seg - 40));
		}
		if (h.proto == IPPROTO_TCP_) {
			put32(l4 + 4, get32(pkt + h.ip_len + 4) + (uint32_t)(i * gso));
			if (i + 1 < n)
				l4[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
			if (i > 0)
				l4[13] &= (uint8_t)~TCP_CWR;
		} else {
			put16(l4 + 4, (uint16_t)(seg - h.ip_len));
		}
		l4_csum(out, seg, &h);
		s->len[i] = (uint16_t)seg;
	}
	s->n = n;
	return 0;
}

bool offload_csum_ok(const uint8_t *pkt, size_t len)
{
	struct hdrs h;
	size_t l4, field;
	uint16_t total;

	if (parse_ip(pkt, len, &h) < 0)
		return false;
	total = h.v == 4 ? get16(pkt + 2) : (uint16_t)(get16(pkt + 4) + 40);
	if (total != len)
		return false;
	if (h.v == 4 && fold(sum(pkt, h.ip_len, 0)) != 0xffff)
		return false;
	if (h.fragment || (h.proto != IPPROTO_TCP_ && h.proto != IPPROTO_UDP_))
		return true;
	if (parse_l4(pkt, len, &h) < 0)
		return false;
	l4 = len - h.ip_len;
	field = h.ip_len + (h.proto == IPPROTO_TCP_ ? 16 : 6);
	if (h.proto == IPPROTO_UDP_ && get16(pkt + field) == 0)
		return h.v == 4; /* no checksum: IPv4 only */
	return fold(sum(pkt + h.ip_len, l4, pseudo(pkt, &h, l4))) == 0xffff;
}

/* --- coalescing --- */

void offload_coalesce_reset(struct offload_coalescer *c)
{
	c->n = 0;
}

/* The flow and rules of pkt as an item would hold them; false when pkt is
 * not one that may be merged at all (then it goes alone). */
static bool mergeable(const uint8_t *pkt, size_t len, bool uso, struct offload_item *k)
{
	struct hdrs h;
	size_t alen;

	memset(k, 0, sizeof(*k));
	if (parse_ip(pkt, len, &h) < 0 || h.fragment || parse_l4(pkt, len, &h) < 0)
		return false;
	if (h.v == 4 && (h.ip_len != 20 || get16(pkt + 2) != len))
		return false; /* IPv4 options, or a length that is not the packet's */
	if (h.v == 6 && (size_t)get16(pkt + 4) + 40 != len)
		return false;
	if (h.proto == IPPROTO_UDP_ && !uso)
		return false;
	if (len <= h.ip_len + h.l4_len || !offload_csum_ok(pkt, len))
		return false; /* no payload, or a checksum that is not right */
	k->v = (uint8_t)h.v;
	k->proto = h.proto;
	k->ip_len = h.ip_len;
	k->l4_len = h.l4_len;
	alen = h.v == 4 ? 4 : 16;
	memcpy(k->addrs, pkt + (h.v == 4 ? 12 : 8), 2 * alen);
	if (h.v == 4) {
		k->ttl = pkt[8];
		k->tos = pkt[1];
		k->df = get16(pkt + 6) & 0x4000;
	} else {
		k->ttl = pkt[7];
		k->tos = (uint8_t)(get16(pkt) >> 4);
		k->label = get32(pkt) & 0xfffff; /* the same flow, the same label */
	}
	k->sport = get16(pkt + h.ip_len);
	k->dport = get16(pkt + h.ip_len + 2);
	if (h.proto == IPPROTO_TCP_) {
		uint8_t flags = pkt[h.ip_len + 13];

		if (flags != 0x10 && flags != (0x10 | TCP_PSH))
			return false;
		k->next_seq = get32(pkt + h.ip_len + 4);
		k->ack = get32(pkt + h.ip_len + 8);
	}
	return true;
}

static bool same_flow(const struct offload_item *it, const struct offload_item *k,
                      const uint8_t *pkt)
{
	size_t alen = it->v == 4 ? 8 : 32;

	if (it->v != k->v || it->proto != k->proto || it->ttl != k->ttl || it->tos != k->tos ||
	    it->df != k->df || it->label != k->label || it->sport != k->sport ||
	    it->dport != k->dport || it->ip_len != k->ip_len || it->l4_len != k->l4_len ||
	    memcmp(it->addrs, k->addrs, alen))
		return false;
	/* the same TCP options, byte for byte (timestamps included), and window */
	if (it->proto == IPPROTO_TCP_ &&
	    memcmp(it->buf + it->ip_len + 14, pkt + k->ip_len + 14, 2) != 0)
		return false;
	return it->proto != IPPROTO_TCP_ ||
	       !memcmp(it->buf + it->ip_len + 20, pkt + k->ip_len + 20, it->l4_len - 20);
}

/* Whether pkt continues it, the same flow known. */
static bool continues(const struct offload_item *it, const struct offload_item *k,
                      const uint8_t *pkt, size_t len)
{
	size_t payload = len - k->ip_len - k->l4_len;

	if (it->closed || payload > it->gso_size || it->len + payload > OFFLOAD_SUPER_MAX ||
	    it->segs >= OFFLOAD_MERGE_SEGS)
		return false;
	if (it->proto == IPPROTO_TCP_ && (k->next_seq != it->next_seq || k->ack != it->ack))
		return false;
	(void)pkt;
	return true;
}

static void append(struct offload_item *it, const struct offload_item *k, const uint8_t *pkt,
                   size_t len)
{
	size_t hdr = k->ip_len + k->l4_len, payload = len - hdr;

	memcpy(it->buf + it->len, pkt + hdr, payload);
	it->len += payload;
	it->segs++;
	if (it->proto == IPPROTO_TCP_) {
		uint8_t flags = pkt[k->ip_len + 13];

		it->next_seq += (uint32_t)payload;
		if (flags & TCP_PSH) {
			it->buf[it->ip_len + 13] |= TCP_PSH; /* the last's PSH */
			it->closed = true;
		}
	}
	if (payload < it->gso_size)
		it->closed = true; /* a smaller one is the last */
}

int offload_coalesce(struct offload_coalescer *c, const uint8_t *pkt, size_t len)
{
	struct offload_item k, *it;
	bool ok;

	if (len > OFFLOAD_SUPER_MAX)
		return -EINVAL;
	ok = mergeable(pkt, len, c->uso, &k);
	if (ok) {
		/* UDP joins only the newest item; TCP the item of its flow */
		for (size_t i = c->n; i-- > 0;) {
			it = &c->items[i];
			if (!it->segs)
				break; /* a packet that went alone: none after may pass it */
			if (same_flow(it, &k, pkt)) {
				if (!continues(it, &k, pkt, len))
					break; /* a new item for the flow, after this one */
				append(it, &k, pkt, len);
				return 0;
			}
			if (k.proto == IPPROTO_UDP_)
				break;
		}
	}
	if (c->n == OFFLOAD_ITEMS)
		return -ENOSPC;
	it = &c->items[c->n++];
	if (ok) {
		*it = k;
		it->gso_size = (uint16_t)(len - k.ip_len - k.l4_len);
		it->segs = 1;
		if (k.proto == IPPROTO_TCP_) {
			it->next_seq += it->gso_size;
			it->closed = (pkt[k.ip_len + 13] & TCP_PSH) != 0;
		}
	} else {
		memset(it, 0, sizeof(*it));
		it->closed = true; /* segs 0: never merged */
	}
	it->buf = c->mem + (size_t)(it - c->items) * OFFLOAD_SUPER_MAX;
	memcpy(it->buf, pkt, len);
	it->len = len;
	return 0;
}

void offload_item_finish(struct offload_item *it)
{
	struct hdrs h = {
	        .v = it->v, .ip_len = it->ip_len, .l4_len = it->l4_len, .proto = it->proto};
	uint8_t *p = it->buf;
	size_t l4 = it->len - it->ip_len;

	memset(&it->vh, 0, sizeof(it->vh));
	if (it->segs < 2)
		return; /* as it came */
	if (it->v == 4) {
		put16(p + 2, (uint16_t)it->len);
		ip4_csum(p, it->ip_len);
	} else {
		put16(p + 4, (uint16_t)(it->len - 40));
	}
	if (it->proto == IPPROTO_UDP_)
		put16(p + it->ip_len + 4, (uint16_t)l4);
	/* the pseudo-header's sum, as NEEDS_CSUM wants it: not complemented */
	put16(p + it->ip_len + (it->proto == IPPROTO_TCP_ ? 16 : 6), fold(pseudo(p, &h, l4)));
	it->vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	it->vh.gso_type = it->proto == IPPROTO_UDP_ ? VIRTIO_NET_HDR_GSO_UDP_L4
	                  : it->v == 4              ? VIRTIO_NET_HDR_GSO_TCPV4
	                                            : VIRTIO_NET_HDR_GSO_TCPV6;
	it->vh.gso_size = it->gso_size;
	it->vh.hdr_len = (uint16_t)(it->ip_len + it->l4_len);
	it->vh.csum_start = (uint16_t)it->ip_len;
	it->vh.csum_offset = it->proto == IPPROTO_TCP_ ? 16 : 6;
}
