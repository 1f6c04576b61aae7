/* The TUN's offloads, the pure part: what a read from a TUN opened with
 * IFF_VNET_HDR gives (a virtio_net_hdr, then one packet of up to 64 KB that
 * the kernel has not segmented or checksummed) turned into plain IP packets
 * of the tunnel's MTU, each with every header and checksum as the kernel's
 * own segmentation would write them. No sockets, no allocation: the data
 * path (wg_data.c) calls it; tests and a fuzzer call it directly.
 *
 * Segmentation (offload_split), per GSO type:
 *   - TCPV4, TCPV6: the payload cut every gso_size bytes; each segment gets
 *     the headers, its sequence number (seq + i * gso_size), FIN and PSH
 *     only on the last, CWR only on the first; IPv4 total length, id + i and
 *     header checksum; IPv6 payload length; the full TCP checksum with the
 *     pseudo-header;
 *   - UDP_L4 (USO): the same cut, each segment its own UDP length and
 *     checksum (0 sent as 0xffff);
 *   - NONE with NEEDS_CSUM: the checksum the kernel left half done
 *     (pseudo-header only, at csum_start + csum_offset) finished;
 *   - NONE: the packet as it is.
 * The header's hdr_len is never trusted: the headers' length is read from
 * the packet. IPv4 options are allowed, IPv6 extension headers and IPv4
 * fragments are not (a GSO packet never has them). */
#ifndef EGRESS_OFFLOAD_H
#define EGRESS_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Linux 6.2's; Debian 12's headers lack it. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

#define OFFLOAD_VNET_HDR_LEN ((size_t)sizeof(struct virtio_net_hdr)) /* 10 */
#define OFFLOAD_MAX_SEGS     128

/* Where the segments go: n of them, segment i at buf + i * stride +
 * headroom, at most stride - headroom - tailroom bytes each (room before
 * and after for the data message around it), its length in len[i]. */
struct offload_segs {
	uint8_t *buf;
	size_t stride, headroom, tailroom;
	size_t max; /* slots in buf, at most OFFLOAD_MAX_SEGS */
	size_t n;
	uint16_t len[OFFLOAD_MAX_SEGS];
};

/* The segments of h and pkt (len bytes) into s (s->n set). 0; -EINVAL for a
 * header or packet that does not add up (a GSO type for another protocol
 * or family, no payload, a gso_size of 0, headers past the end, a checksum
 * place outside the packet); -ENOSPC when the segments do not fit s (too
 * many, or one larger than a slot). */
int offload_split(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len,
                  struct offload_segs *s);

/* Coalescing (the write side, for a TUN with TSO, and USO when uso):
 * decrypted packets of one flow gathered into superpackets the kernel
 * segments again, as its GRO would. A TCP packet joins the item of its flow
 * when it continues it exactly: the next sequence number, the same ACK,
 * flags ACK or ACK|PSH (a PSH closes the item), the same TCP options, the
 * same segment size (a smaller one closes the item), no IPv4 options or
 * fragments, the same TTL, TOS and DF, valid checksums, and at most
 * OFFLOAD_SUPER_MAX bytes in all. A UDP packet (with uso only) joins only
 * the newest item, under the same rules of size. Anything else is an item
 * of its own, written as it came, and no packet after it joins an item
 * before it (a flow's order is kept). */
#define OFFLOAD_SUPER_MAX  65535
#define OFFLOAD_ITEMS      64
#define OFFLOAD_MERGE_SEGS 64 /* segments in one superpacket, at most */

struct offload_item {
	struct virtio_net_hdr vh; /* what the write carries before buf */
	uint8_t *buf;             /* the packet, or the superpacket so far */
	size_t len;
	/* the flow and what the next packet must be */
	uint8_t v, proto, ttl, tos;
	uint8_t addrs[32]; /* source and destination, 4 or 16 bytes each */
	uint16_t sport, dport, df;
	uint32_t label; /* IPv6's flow label */
	size_t ip_len, l4_len;
	uint32_t next_seq, ack;
	uint16_t gso_size, segs;
	bool closed; /* takes no more */
};

struct offload_coalescer {
	bool uso;
	uint8_t *mem; /* OFFLOAD_ITEMS * OFFLOAD_SUPER_MAX bytes, the caller's */
	size_t n;
	struct offload_item items[OFFLOAD_ITEMS];
};

/* Starts over (n = 0). */
void offload_coalesce_reset(struct offload_coalescer *c);
/* pkt (len bytes, a plain IP packet) into c: 0, or -ENOSPC when c has
 * OFFLOAD_ITEMS items already and pkt would start another (write them and
 * reset first), or -EINVAL for a packet over OFFLOAD_SUPER_MAX. */
int offload_coalesce(struct offload_coalescer *c, const uint8_t *pkt, size_t len);
/* Item i made ready to write: a merged one's headers set (lengths, IPv4
 * header checksum, the L4 checksum field holding the pseudo-header's sum,
 * NEEDS_CSUM with csum_start and csum_offset, the GSO type and size); a
 * single packet with a zero header, as it came. */
void offload_item_finish(struct offload_item *it);

/* Whether pkt (len bytes, a plain IPv4 or IPv6 packet) has a valid IPv4
 * header checksum and, for TCP and UDP (a UDP checksum of 0 over IPv4: none
 * sent), a valid L4 checksum. */
bool offload_csum_ok(const uint8_t *pkt, size_t len);

#endif
