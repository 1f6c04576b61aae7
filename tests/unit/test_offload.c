/* tunnel/offload.c's segmentation against packets built here: TCP and UDP,
 * IPv4 and IPv6, with and without TCP options, each segment's checksums
 * verified by a checksum of this file's own (not the module's), its
 * sequence number, id, lengths and flags, and its payload the original's;
 * a half-done checksum finished; and what must be refused. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "tunnel/offload.h"

#define SLOT 2048

/* An independent Internet checksum: 32-bit words of host-order pairs. */
static uint16_t ref_sum(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	uint32_t acc = 0;
	size_t i;

	for (i = 0; i + 1 < an; i += 2)
		acc += (uint32_t)a[i] * 256 + a[i + 1];
	if (an & 1) /* only the pseudo-header, always even */
		acc += (uint32_t)a[an - 1] * 256;
	for (i = 0; i + 1 < bn; i += 2)
		acc += (uint32_t)b[i] * 256 + b[i + 1];
	if (bn & 1)
		acc += (uint32_t)b[bn - 1] * 256;
	while (acc > 0xffff)
		acc = (acc >> 16) + (acc & 0xffff);
	return (uint16_t)acc;
}

/* seg's IPv4 header checksum and its L4 checksum, the pseudo-header built
 * here as bytes. */
static void check_sums(const uint8_t *seg, size_t len)
{
	uint8_t ph[40];
	size_t ip, phl;
	int v = seg[0] >> 4;
	uint8_t proto;

	if (v == 4) {
		ip = (size_t)(seg[0] & 15) * 4;
		CHECK_INT(ref_sum(seg, ip, NULL, 0), 0xffff);
		proto = seg[9];
		memcpy(ph, seg + 12, 8);
		ph[8] = 0;
		ph[9] = proto;
		ph[10] = (uint8_t)((len - ip) >> 8);
		ph[11] = (uint8_t)(len - ip);
		phl = 12;
	} else {
		ip = 40;
		proto = seg[6];
		memcpy(ph, seg + 8, 32);
		ph[32] = ph[33] = 0;
		ph[34] = (uint8_t)((len - ip) >> 8);
		ph[35] = (uint8_t)(len - ip);
		ph[36] = ph[37] = ph[38] = 0;
		ph[39] = proto;
		phl = 40;
	}
	CHECK_INT(ref_sum(ph, phl, seg + ip, len - ip), 0xffff);
	CHECK(offload_csum_ok(seg, len));
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

/* A packet of version v and protocol proto (6 or 17) with opts bytes of TCP
 * options and payload bytes of pattern; returns its length. */
static size_t build(uint8_t *p, int v, uint8_t proto, size_t opts, size_t payload, uint8_t flags)
{
	size_t ip = v == 4 ? 20 : 40, l4 = proto == 6 ? 20 + opts : 8, len = ip + l4 + payload;

	memset(p, 0, ip + l4);
	if (v == 4) {
		p[0] = 0x45;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
		p[4] = 0x12;
		p[5] = 0x34;
		p[6] = 0x40; /* DF */
		p[8] = 64;
		p[9] = proto;
		memcpy(p + 12, (uint8_t[]){100, 64, 0, 2, 203, 0, 113, 80}, 8);
	} else {
		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
		p[6] = proto;
		p[7] = 64;
		p[8] = 0xfd;
		p[23] = 2;
		memcpy(p + 24, (uint8_t[]){0x20, 0x01, 0x0d, 0xb8, 0, 0x80}, 6);
		p[39] = 0x80;
	}
	p[ip] = 0x9c; /* source port 40000 */
	p[ip + 1] = 0x40;
	p[ip + 3] = 80;
	if (proto == 6) {
		p[ip + 4] = 0x10; /* seq 0x10000000 */
		p[ip + 11] = 0x99;
		p[ip + 12] = (uint8_t)(((20 + opts) / 4) << 4);
		p[ip + 13] = flags;
		p[ip + 15] = 0xff;
		for (size_t i = 0; i < opts; i++)
			p[ip + 20 + i] = 1; /* NOP */
	} else {
		p[ip + 4] = (uint8_t)((8 + payload) >> 8);
		p[ip + 5] = (uint8_t)(8 + payload);
	}
	for (size_t i = 0; i < payload; i++)
		p[ip + l4 + i] = (uint8_t)(i * 31 + 7);
	return len;
}

static struct offload_segs *segs_new(size_t max)
{
	struct offload_segs *s = calloc(1, sizeof(*s));

	s->buf = calloc(max, SLOT);
	s->stride = SLOT;
	s->headroom = 16;
	s->tailroom = 32;
	s->max = max;
	return s;
}

static void segs_free(struct offload_segs *s)
{
	free(s->buf);
	free(s);
}

/* Splits a superpacket and checks every segment against the rules. */
static void check_split(int v, uint8_t proto, size_t opts, size_t payload, uint16_t gso)
{
	static uint8_t pkt[70000];
	uint8_t flags = 0x10 | 0x08 | 0x01 | 0x80; /* ACK, PSH, FIN, CWR */
	size_t len = build(pkt, v, proto, opts, payload, flags);
	size_t ip = v == 4 ? 20 : 40, hdr = ip + (proto == 6 ? 20 + opts : 8);
	size_t want = (payload + gso - 1) / gso;
	struct virtio_net_hdr h = {
	        .gso_type = proto == 17 ? VIRTIO_NET_HDR_GSO_UDP_L4
	                    : v == 4    ? VIRTIO_NET_HDR_GSO_TCPV4
	                                : VIRTIO_NET_HDR_GSO_TCPV6,
	        .gso_size = gso,
	        .hdr_len = 3, /* nonsense: never trusted */
	        .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	};
	struct offload_segs *s = segs_new(OFFLOAD_MAX_SEGS);

	CHECK_INT(offload_split(&h, pkt, len, s), 0);
	CHECK_INT(s->n, want);
	for (size_t i = 0; i < s->n; i++) {
		const uint8_t *seg = s->buf + i * s->stride + s->headroom;
		size_t chunk = i + 1 < s->n ? gso : payload - i * gso;

		CHECK_INT(s->len[i], hdr + chunk);
		check_sums(seg, s->len[i]);
		CHECK(!memcmp(seg + hdr, pkt + hdr + i * gso, chunk));
		if (v == 4) {
			CHECK_INT(rd16(seg + 2), hdr + chunk);
			CHECK_INT(rd16(seg + 4), 0x1234 + i);
		} else {
			CHECK_INT(rd16(seg + 4), hdr + chunk - 40);
		}
		if (proto == 6) {
			uint8_t f = seg[ip + 13];

			CHECK_INT(rd32(seg + ip + 4), 0x10000000u + i * gso);
			CHECK_INT(rd32(seg + ip + 8), 0x99);
			CHECK_INT(f & 0x10, 0x10);                          /* ACK on all */
			CHECK_INT(f & 0x09, i + 1 == s->n ? 0x09 : 0);      /* FIN, PSH last */
			CHECK_INT(f & 0x80, i == 0 ? 0x80 : 0);             /* CWR first */
			CHECK(!memcmp(seg + ip + 20, pkt + ip + 20, opts)); /* options kept */
		} else {
			CHECK_INT(rd16(seg + ip + 4), 8 + chunk);
		}
	}
	segs_free(s);
}

static void test_split(void)
{
	check_split(4, 6, 0, 3500, 1000);
	check_split(4, 6, 12, 65000, 1448);
	check_split(6, 6, 0, 2900, 1428);
	check_split(6, 6, 20, 60000, 1420);
	check_split(4, 17, 0, 3000, 1200);
	check_split(6, 17, 0, 64000, 1372);
	check_split(4, 6, 0, 100, 1448); /* one segment: still fixed */
}

/* NEEDS_CSUM without GSO: the field holds the pseudo-header's sum; split
 * finishes it. Without NEEDS_CSUM the packet is copied as it is. */
static void test_needs_csum(void)
{
	uint8_t pkt[1500];
	struct offload_segs *s = segs_new(4);

	for (int v = 4; v <= 6; v += 2) {
		for (uint8_t proto = 6; proto <= 17; proto += 11) {
			size_t len = build(pkt, v, proto, 0, 999, 0x18);
			size_t ip = v == 4 ? 20 : 40, off = proto == 6 ? 16 : 6;
			struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			                           .csum_start = (uint16_t)ip,
			                           .csum_offset = (uint16_t)off};
			uint8_t ph[40] = {0};
			size_t phl;
			uint16_t psum;

			if (v == 4) {
				memcpy(ph, pkt + 12, 8);
				ph[9] = proto;
				ph[10] = (uint8_t)((len - ip) >> 8);
				ph[11] = (uint8_t)(len - ip);
				phl = 12;
			} else {
				memcpy(ph, pkt + 8, 32);
				ph[34] = (uint8_t)((len - ip) >> 8);
				ph[35] = (uint8_t)(len - ip);
				ph[39] = proto;
				phl = 40;
			}
			if (v == 4) { /* an IPv4 header checksum the sender did */
				uint16_t c = (uint16_t)~ref_sum(pkt, 20, NULL, 0);

				pkt[10] = (uint8_t)(c >> 8);
				pkt[11] = (uint8_t)c;
			}
			psum = ref_sum(ph, phl, NULL, 0);
			pkt[ip + off] = (uint8_t)(psum >> 8);
			pkt[ip + off + 1] = (uint8_t)psum;
			CHECK_INT(offload_split(&h, pkt, len, s), 0);
			CHECK_INT(s->n, 1);
			check_sums(s->buf + s->headroom, s->len[0]);

			h.flags = 0;
			CHECK_INT(offload_split(&h, pkt, len, s), 0);
			CHECK(!memcmp(s->buf + s->headroom, pkt, len));
		}
	}
	segs_free(s);
}

static void test_refused(void)
{
	uint8_t pkt[4000];
	struct offload_segs *s = segs_new(8);
	struct virtio_net_hdr tcp4 = {.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1000};
	struct virtio_net_hdr h;
	size_t len = build(pkt, 4, 6, 0, 3500, 0x10);

	h = tcp4;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6; /* IPv6 GSO for an IPv4 packet */
	CHECK_INT(offload_split(&h, pkt, len, s), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4; /* UDP GSO for TCP */
	CHECK_INT(offload_split(&h, pkt, len, s), -EINVAL);
	h.gso_type = 2; /* UDP (UFO): not ours */
	CHECK_INT(offload_split(&h, pkt, len, s), -EINVAL);
	h = tcp4;
	h.gso_size = 0;
	CHECK_INT(offload_split(&h, pkt, len, s), -EINVAL);
	h = tcp4;
	CHECK_INT(offload_split(&h, pkt, 40, s), -EINVAL); /* no payload */
	CHECK_INT(offload_split(&h, pkt, 30, s), -EINVAL); /* TCP header cut */
	pkt[32] = 0xf0;                                    /* data offset 60 > what is there */
	CHECK_INT(offload_split(&h, pkt, 50, s), -EINVAL);
	pkt[32] = 0x50;
	pkt[6] = 0x20; /* MF: a fragment */
	CHECK_INT(offload_split(&h, pkt, len, s), -EINVAL);
	pkt[6] = 0x40;
	pkt[0] = 0x55; /* version 5 */
	CHECK_INT(offload_split(&h, pkt, len, s), -EINVAL);
	pkt[0] = 0x45;
	h.gso_size = 400; /* 9 segments, 8 slots */
	CHECK_INT(offload_split(&h, pkt, len, s), -ENOSPC);
	h.gso_size = 2000; /* larger than a slot */
	CHECK_INT(offload_split(&h, pkt, len, s), -ENOSPC);
	h = (struct virtio_net_hdr){
	        .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 16};
	CHECK_INT(offload_split(&h, pkt, 35, s), -EINVAL); /* the field past the end */
	h.csum_start = 4000;
	CHECK_INT(offload_split(&h, pkt, 1000, s), -EINVAL);
	CHECK_INT(offload_split(&h, pkt, len, s), -ENOSPC); /* 3540 bytes, no GSO */
	h = tcp4;
	CHECK_INT(offload_split(&h, pkt, len, s), 0); /* the packet was put back */

	/* the checker itself: a flipped payload byte is caught */
	len = build(pkt, 6, 17, 0, 500, 0);
	h = (struct virtio_net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4, .gso_size = 1000};
	CHECK_INT(offload_split(&h, pkt, len, s), 0);
	CHECK(offload_csum_ok(s->buf + s->headroom, s->len[0]));
	s->buf[s->headroom + 100] ^= 1;
	CHECK(!offload_csum_ok(s->buf + s->headroom, s->len[0]));
	segs_free(s);
}

/* --- coalescing --- */

static uint8_t coal_mem[OFFLOAD_ITEMS * OFFLOAD_SUPER_MAX];

/* split, coalesce, and split again: the superpacket comes back with the
 * header a TUN write wants, and its segments are the first split's. */
static void check_round_trip(int v, uint8_t proto, size_t opts, size_t payload, uint16_t gso)
{
	static uint8_t pkt[70000];
	static struct offload_coalescer c;
	size_t len = build(pkt, v, proto, opts, payload, 0x18); /* ACK|PSH */
	size_t ip = v == 4 ? 20 : 40;
	struct virtio_net_hdr h = {
	        .gso_type = proto == 17 ? VIRTIO_NET_HDR_GSO_UDP_L4
	                    : v == 4    ? VIRTIO_NET_HDR_GSO_TCPV4
	                                : VIRTIO_NET_HDR_GSO_TCPV6,
	        .gso_size = gso,
	};
	struct offload_segs *s1 = segs_new(OFFLOAD_MAX_SEGS), *s2 = segs_new(OFFLOAD_MAX_SEGS);
	struct offload_item *it;

	c = (struct offload_coalescer){.uso = true, .mem = coal_mem};
	CHECK_INT(offload_split(&h, pkt, len, s1), 0);
	for (size_t i = 0; i < s1->n; i++)
		CHECK_INT(offload_coalesce(&c, s1->buf + i * s1->stride + s1->headroom, s1->len[i]),
		          0);
	CHECK_INT(c.n, 1);
	it = &c.items[0];
	offload_item_finish(it);
	CHECK_INT(it->len, len);
	CHECK_INT(it->vh.gso_type, h.gso_type);
	CHECK_INT(it->vh.gso_size, gso);
	CHECK_INT(it->vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_INT(it->vh.csum_start, ip);
	CHECK_INT(it->vh.csum_offset, proto == 6 ? 16 : 6);
	CHECK_INT(it->vh.hdr_len, ip + (proto == 6 ? 20 + opts : 8));
	/* the payload and the addresses and ports, as they were */
	CHECK(!memcmp(it->buf + it->vh.hdr_len, pkt + it->vh.hdr_len, len - it->vh.hdr_len));
	CHECK(!memcmp(it->buf + (v == 4 ? 12 : 8), pkt + (v == 4 ? 12 : 8), v == 4 ? 8 : 32));
	if (proto == 6)
		CHECK_INT(it->buf[ip + 13], 0x18); /* the last's PSH */
	CHECK_INT(offload_split(&it->vh, it->buf, it->len, s2), 0);
	CHECK_INT(s2->n, s1->n);
	for (size_t i = 0; i < s1->n && i < s2->n; i++) {
		CHECK_INT(s2->len[i], s1->len[i]);
		CHECK(!memcmp(s2->buf + i * s2->stride + s2->headroom,
		              s1->buf + i * s1->stride + s1->headroom, s1->len[i]));
	}
	segs_free(s1);
	segs_free(s2);
}

static void test_round_trips(void)
{
	check_round_trip(4, 6, 0, 20000, 1448);
	check_round_trip(4, 6, 12, 7000, 1000); /* with options */
	check_round_trip(6, 6, 0, 60000, 1428);
	check_round_trip(6, 6, 12, 4500, 1400);
	check_round_trip(4, 17, 0, 6000, 1200);
	check_round_trip(6, 17, 0, 5000, 1232);
}

/* Two segments of a flow, the second changed by mutate: how many items. */
static size_t items_after(int v, void (*mutate)(uint8_t *b, size_t ip), bool uso, uint8_t proto)
{
	static uint8_t pkt[8000];
	static struct offload_coalescer c;
	size_t len = build(pkt, v, proto, 0, 2000, 0x10), ip = v == 4 ? 20 : 40;
	struct virtio_net_hdr h = {
	        .gso_type = proto == 17 ? VIRTIO_NET_HDR_GSO_UDP_L4
	                    : v == 4    ? VIRTIO_NET_HDR_GSO_TCPV4
	                                : VIRTIO_NET_HDR_GSO_TCPV6,
	        .gso_size = 1000,
	};
	struct offload_segs *s = segs_new(4);
	uint8_t *b;

	c = (struct offload_coalescer){.uso = uso, .mem = coal_mem};
	CHECK_INT(offload_split(&h, pkt, len, s), 0);
	b = s->buf + s->stride + s->headroom;
	if (mutate)
		mutate(b, ip);
	CHECK_INT(offload_coalesce(&c, s->buf + s->headroom, s->len[0]), 0);
	CHECK_INT(offload_coalesce(&c, b, s->len[1]), 0);
	segs_free(s);
	return c.n;
}

/* Mutations that keep the checksums right unless they are the point. */
static void fix(uint8_t *b, size_t ip)
{
	size_t len = ip == 20 ? rd16(b + 2) : (size_t)rd16(b + 4) + 40;
	uint8_t proto = ip == 20 ? b[9] : b[6];
	size_t off = proto == 6 ? 16 : 6;
	uint8_t ph[40] = {0};
	size_t phl;
	uint16_t c;

	if (ip == 20) {
		b[10] = b[11] = 0;
		c = (uint16_t)~ref_sum(b, 20, NULL, 0);
		b[10] = (uint8_t)(c >> 8);
		b[11] = (uint8_t)c;
		memcpy(ph, b + 12, 8);
		ph[9] = proto;
		ph[10] = (uint8_t)((len - ip) >> 8);
		ph[11] = (uint8_t)(len - ip);
		phl = 12;
	} else {
		memcpy(ph, b + 8, 32);
		ph[34] = (uint8_t)((len - ip) >> 8);
		ph[35] = (uint8_t)(len - ip);
		ph[39] = proto;
		phl = 40;
	}
	b[ip + off] = b[ip + off + 1] = 0;
	c = (uint16_t)~ref_sum(ph, phl, b + ip, len - ip);
	b[ip + off] = (uint8_t)(c >> 8);
	b[ip + off + 1] = (uint8_t)c;
}
static void ttl(uint8_t *b, size_t ip)
{
	b[ip == 20 ? 8 : 7]--;
	fix(b, ip);
}
static void syn(uint8_t *b, size_t ip)
{
	b[ip + 13] |= 0x02;
	fix(b, ip);
}
static void urg(uint8_t *b, size_t ip)
{
	b[ip + 13] |= 0x20;
	fix(b, ip);
}
static void gap(uint8_t *b, size_t ip)
{
	b[ip + 7]++; /* seq + 1 */
	fix(b, ip);
}
static void other_ack(uint8_t *b, size_t ip)
{
	b[ip + 11]++;
	fix(b, ip);
}
static void bad_csum(uint8_t *b, size_t ip)
{
	b[ip + 30] ^= 1;
}
static void fragment(uint8_t *b, size_t ip)
{
	b[6] |= 0x20; /* MF */
	fix(b, ip);
}
static void other_port(uint8_t *b, size_t ip)
{
	b[ip + 1]++;
	fix(b, ip);
}

static void test_not_merged(void)
{
	CHECK_INT(items_after(4, NULL, false, 6), 1);
	CHECK_INT(items_after(6, NULL, false, 6), 1);
	CHECK_INT(items_after(4, fix, false, 6), 1); /* fix alone changes nothing */
	CHECK_INT(items_after(4, ttl, false, 6), 2);
	CHECK_INT(items_after(6, ttl, false, 6), 2);
	CHECK_INT(items_after(4, syn, false, 6), 2);
	CHECK_INT(items_after(4, urg, false, 6), 2);
	CHECK_INT(items_after(4, gap, false, 6), 2);
	CHECK_INT(items_after(6, other_ack, false, 6), 2);
	CHECK_INT(items_after(4, bad_csum, false, 6), 2);
	CHECK_INT(items_after(4, fragment, false, 6), 2);
	CHECK_INT(items_after(4, other_port, false, 6), 2);
	/* UDP merges only with USO */
	CHECK_INT(items_after(4, NULL, true, 17), 1);
	CHECK_INT(items_after(4, NULL, false, 17), 2);
	CHECK_INT(items_after(6, other_port, true, 17), 2);
}

/* Three segments of a flow, the first with PSH, or the first short: the
 * item closes; an IPv4 header with options never merges; a packet alone
 * (ICMP) between two of a flow keeps them apart (order); a full set of
 * items says -ENOSPC. */
static void test_closing(void)
{
	static uint8_t pkt[8000];
	static struct offload_coalescer c;
	size_t len;
	struct virtio_net_hdr h = {.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1000};
	struct offload_segs *s = segs_new(4);
	uint8_t icmp[28] = {0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 1};

	len = build(pkt, 4, 6, 0, 3000, 0x10);
	CHECK_INT(offload_split(&h, pkt, len, s), 0);
	c = (struct offload_coalescer){.mem = coal_mem};
	s->buf[s->headroom + 33] |= 0x08; /* PSH on the first */
	fix(s->buf + s->headroom, 20);
	for (size_t i = 0; i < 3; i++)
		CHECK_INT(offload_coalesce(&c, s->buf + i * s->stride + s->headroom, s->len[i]), 0);
	CHECK_INT(c.n, 2);
	CHECK_INT(c.items[0].segs, 1);
	CHECK_INT(c.items[1].segs, 2);

	/* a packet alone in between */
	CHECK_INT(offload_split(&h, pkt, len, s), 0);
	c = (struct offload_coalescer){.mem = coal_mem};
	CHECK_INT(offload_coalesce(&c, s->buf + s->headroom, s->len[0]), 0);
	CHECK_INT(offload_coalesce(&c, icmp, sizeof(icmp)), 0);
	CHECK_INT(offload_coalesce(&c, s->buf + s->stride + s->headroom, s->len[1]), 0);
	CHECK_INT(c.n, 3);
	offload_item_finish(&c.items[1]);
	CHECK_INT(c.items[1].vh.gso_type, VIRTIO_NET_HDR_GSO_NONE); /* as it came */
	CHECK(!memcmp(c.items[1].buf, icmp, sizeof(icmp)));

	/* IPv4 options: never merged (4 bytes of NOPs put in both) */
	CHECK_INT(offload_split(&h, pkt, len, s), 0);
	c = (struct offload_coalescer){.mem = coal_mem};
	for (size_t i = 0; i < 2; i++) {
		uint8_t *b = s->buf + i * s->stride + s->headroom;
		size_t l = s->len[i];

		memmove(b + 24, b + 20, l - 20);
		memset(b + 20, 1, 4);
		b[0] = 0x46;
		b[2] = (uint8_t)((l + 4) >> 8);
		b[3] = (uint8_t)(l + 4);
		b[10] = b[11] = 0;
		uint16_t ck = (uint16_t)~ref_sum(b, 24, NULL, 0);

		b[10] = (uint8_t)(ck >> 8);
		b[11] = (uint8_t)ck;
		CHECK(offload_csum_ok(b, l + 4));
		CHECK_INT(offload_coalesce(&c, b, l + 4), 0);
	}
	CHECK_INT(c.n, 2);

	/* full */
	c = (struct offload_coalescer){.mem = coal_mem};
	for (size_t i = 0; i < OFFLOAD_ITEMS; i++)
		CHECK_INT(offload_coalesce(&c, icmp, sizeof(icmp)), 0);
	CHECK_INT(offload_coalesce(&c, icmp, sizeof(icmp)), -ENOSPC);
	offload_coalesce_reset(&c);
	CHECK_INT(offload_coalesce(&c, icmp, sizeof(icmp)), 0);
	segs_free(s);
}

int main(void)
{
	test_split();
	test_round_trips();
	test_not_merged();
	test_closing();
	test_needs_csum();
	test_refused();
	return check_done("test_offload");
}
