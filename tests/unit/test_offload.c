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

int main(void)
{
	test_split();
	test_needs_csum();
	test_refused();
	return check_done("test_offload");
}
