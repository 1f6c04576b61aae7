/* tunoff: the kernel in the loop for tunnel/offload.c's write side, run by
 * t_tun_offload.sh inside a namespace of its own. It opens a TUN with
 * IFF_VNET_HDR named argv[1], gives it 100.64.0.1/24 and fd00:64::1/64
 * (ip(8), in the namespace it runs in), then for IPv4 and IPv6:
 *   - builds UDP datagrams from the peer's address to a socket of its own
 *     on the TUN's address, coalesces them with offload_coalesce() into one
 *     USO superpacket, writes that to the TUN, and checks that the socket
 *     receives every datagram byte for byte, in order;
 *   - writes the same superpacket with csum_offset 16 (TCP's), then ones of
 *     128 and 129 segments, and reports what the kernel said (the fallback
 *     counts on EINVAL).
 * One line per case on stdout ("uso4 ok 40 of 40 datagrams byte for byte",
 * "uso4-csum16 EINVAL", ...); exit status 0 when every case went as
 * expected, 1 when not, 77 when this kernel takes no USO from a TUN at all
 * (reported as skipped, not passed). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tunnel/offload.h"

#define PORT_SRC 40000
#define PORT_DST 9999

static uint8_t mem[OFFLOAD_ITEMS * OFFLOAD_SUPER_MAX];
static struct offload_coalescer c = {.uso = true, .mem = mem};

static uint16_t csum_fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

static uint32_t sum(const uint8_t *p, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	return acc;
}

/* One UDP datagram of len payload bytes (pattern seed) from the peer to us:
 * a whole IP packet into pkt; its length. */
static size_t datagram(uint8_t *pkt, int v, size_t len, unsigned seed)
{
	size_t ip = v == 4 ? 20 : 40, total = ip + 8 + len;
	uint8_t *u = pkt + ip;
	uint32_t acc;

	memset(pkt, 0, ip + 8);
	if (v == 4) {
		pkt[0] = 0x45;
		pkt[2] = (uint8_t)(total >> 8);
		pkt[3] = (uint8_t)total;
		pkt[6] = 0x40;
		pkt[8] = 64;
		pkt[9] = 17;
		inet_pton(AF_INET, "100.64.0.2", pkt + 12);
		inet_pton(AF_INET, "100.64.0.1", pkt + 16);
		acc = sum(pkt, 20, 0);
		pkt[10] = (uint8_t)(csum_fold(acc) >> 8);
		pkt[11] = (uint8_t)csum_fold(acc);
	} else {
		pkt[0] = 0x60;
		pkt[4] = (uint8_t)((total - 40) >> 8);
		pkt[5] = (uint8_t)(total - 40);
		pkt[6] = 17;
		pkt[7] = 64;
		inet_pton(AF_INET6, "fd00:64::2", pkt + 8);
		inet_pton(AF_INET6, "fd00:64::1", pkt + 24);
	}
	u[0] = PORT_SRC >> 8;
	u[1] = PORT_SRC & 0xff;
	u[2] = PORT_DST >> 8;
	u[3] = PORT_DST & 0xff;
	u[4] = (uint8_t)((8 + len) >> 8);
	u[5] = (uint8_t)(8 + len);
	for (size_t i = 0; i < len; i++)
		u[8 + i] = (uint8_t)(i * 13 + seed);
	acc = 17 + (uint32_t)(8 + len);
	acc = v == 4 ? sum(pkt + 12, 8, acc) : sum(pkt + 8, 32, acc);
	acc = sum(u, 8 + len, acc);
	uint16_t ck = csum_fold(acc);

	if (!ck)
		ck = 0xffff;
	u[6] = (uint8_t)(ck >> 8);
	u[7] = (uint8_t)ck;
	return total;
}

static int tun_write(int fd, const struct virtio_net_hdr *vh, const uint8_t *buf, size_t len)
{
	struct iovec iov[2] = {{(void *)vh, sizeof(*vh)}, {(void *)buf, len}};

	return writev(fd, iov, 2) < 0 ? -errno : 0;
}

/* n datagrams of size bytes, coalesced into one superpacket (item 0). */
static int build_super(int v, size_t n, size_t size)
{
	uint8_t pkt[2048];

	offload_coalesce_reset(&c);
	for (size_t i = 0; i < n; i++) {
		size_t len = datagram(pkt, v, i + 1 < n ? size : size / 2, (unsigned)i);

		if (offload_coalesce(&c, pkt, len) < 0)
			return -1;
	}
	if (c.n != 1)
		return -1;
	offload_item_finish(&c.items[0]);
	return 0;
}

static int uso(int tun, int v)
{
	const size_t n = 40, size = 1200;
	int s = socket(v == 4 ? AF_INET : AF_INET6, SOCK_DGRAM, 0), bad = 0;
	struct sockaddr_storage ss = {0};
	struct timeval tv = {.tv_sec = 2};
	uint8_t want[2048], got[2048];
	size_t i;
	int e;

	if (v == 4) {
		struct sockaddr_in *a = (void *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(PORT_DST);
		inet_pton(AF_INET, "100.64.0.1", &a->sin_addr);
	} else {
		struct sockaddr_in6 *a = (void *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(PORT_DST);
		inet_pton(AF_INET6, "fd00:64::1", &a->sin6_addr);
	}
	if (s < 0 || bind(s, (void *)&ss, sizeof(ss)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("tunoff: socket");
		return 1;
	}
	if (build_super(v, n, size) < 0) {
		printf("uso%d the coalescer made %zu items, want 1\n", v, c.n);
		return 1;
	}
	e = tun_write(tun, &c.items[0].vh, c.items[0].buf, c.items[0].len);
	if (e == -EINVAL) {
		printf("uso%d EINVAL: this kernel takes no USO from a TUN\n", v);
		close(s);
		return 77;
	}
	if (e < 0) {
		printf("uso%d write: %s\n", v, strerror(-e));
		return 1;
	}
	for (i = 0; i < n; i++) {
		size_t len = datagram(want, v, i + 1 < n ? size : size / 2, (unsigned)i);
		size_t ip = v == 4 ? 20 : 40;
		ssize_t r = recv(s, got, sizeof(got), 0);

		if (r < 0 || (size_t)r != len - ip - 8 || memcmp(got, want + ip + 8, (size_t)r)) {
			bad = 1;
			break;
		}
	}
	printf("uso%d %s %zu of %zu datagrams byte for byte\n", v, bad ? "FAILED" : "ok", i, n);

	/* csum_offset 16 on a USO packet: refused */
	c.items[0].vh.csum_offset = 16;
	e = tun_write(tun, &c.items[0].vh, c.items[0].buf, c.items[0].len);
	printf("uso%d-csum16 %s\n", v, e == -EINVAL ? "EINVAL" : e ? strerror(-e) : "accepted");
	bad |= e != -EINVAL;

	/* 128 segments of 4 bytes: taken; 129: refused */
	for (size_t segs = 128; segs <= 129; segs++) {
		struct offload_item *it;

		if (build_super(v, 64, 10) < 0)
			return 1;
		it = &c.items[0];
		it->len = it->vh.hdr_len + segs * 4; /* cut to segs of 4 */
		offload_item_finish(it);
		it->vh.gso_size = 4;
		e = tun_write(tun, &it->vh, it->buf, it->len);
		printf("uso%d-%zusegs %s\n", v, segs,
		       e == -EINVAL ? "EINVAL"
		       : e          ? strerror(-e)
		                    : "accepted");
		bad |= segs == 128 ? e != 0 : e != -EINVAL;
	}
	close(s);
	return bad;
}

int main(int argc, char **argv)
{
	struct ifreq ifr = {.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR};
	int fd, rc = 0, r;
	char cmd[256];

	if (argc != 2 || strlen(argv[1]) >= IFNAMSIZ) {
		fprintf(stderr, "usage: tunoff IFNAME\n");
		return 2;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
		perror("tunoff: TUNSETIFF");
		return 1;
	}
	snprintf(cmd, sizeof(cmd),
	         "ip link set dev %s up && ip addr add 100.64.0.1/24 dev %s && "
	         "ip -6 addr add fd00:64::1/64 dev %s nodad",
	         ifr.ifr_name, ifr.ifr_name, ifr.ifr_name);
	if (system(cmd) != 0) {
		fprintf(stderr, "tunoff: %s failed\n", cmd);
		return 1;
	}
	for (int v = 4; v <= 6; v += 2) {
		r = uso(fd, v);
		if (r == 77)
			return 77;
		rc |= r;
	}
	close(fd);
	return rc;
}
