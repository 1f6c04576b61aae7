/* The device's data path with offloads, on a socketpair standing in for a
 * TUN opened with a virtio-net header (the kernel in the loop is
 * t_tun_offload.sh's and t_offload.sh's):
 *   - a TCP superpacket read from the "TUN" goes out as its MTU segments,
 *     each encrypted, byte for byte what the kernel's segmentation would
 *     make, in one UDP_SEGMENT train that the peer's socket receives as
 *     separate datagrams;
 *   - one receive of a flow's consecutive segments is written into the TUN
 *     as one superpacket with the header a TUN write wants, and a packet
 *     that cannot merge goes alone with a zero header;
 *   - without offloads asked for, the same device frames nothing;
 *   - the fallbacks, with a kernel that refuses (a seccomp filter in a
 *     child process makes writev() fail with EINVAL, or sendmmsg() with
 *     EIO): coalescing and UDP GSO turn off, are counted, and the packets
 *     still go, one by one.
 * Loopback carries the UDP side, so nothing leaves the host. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "tunnel/offload.h"
#include "wgtest.h"

/* What a TUN without USO can be asked for. */
#define TSO_GSO_GRO ((struct wg_offload){.tun_tso = true, .udp_gso = true, .udp_gro = true})
#define SEG         1000 /* TCP payload per segment */
#define NSEGS       20

static uint16_t ck(const uint8_t *p, size_t len, uint32_t acc)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

/* TCP segment i of a flow from src to dst (IPv4, TCP flags as given, its
 * checksums right): into p, its length. */
static size_t tcp_segment(uint8_t *p, uint32_t src, uint32_t dst, unsigned i, size_t payload,
                          uint8_t flags)
{
	size_t len = 40 + payload;
	uint32_t seq = 1000000 + (uint32_t)(i * SEG), acc;
	uint16_t c;

	memset(p, 0, 40);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[4] = 0x12, p[5] = (uint8_t)i; /* id */
	p[6] = 0x40;                    /* DF */
	p[8] = 64;
	p[9] = 6;
	src = htonl(src);
	dst = htonl(dst);
	memcpy(p + 12, &src, 4);
	memcpy(p + 16, &dst, 4);
	c = ck(p, 20, 0);
	p[10] = (uint8_t)(c >> 8), p[11] = (uint8_t)c;
	p[20] = 0x1f, p[21] = 0x90, p[22] = 0xc3, p[23] = 0x50; /* 8080 -> 50000 */
	p[24] = (uint8_t)(seq >> 24), p[25] = (uint8_t)(seq >> 16);
	p[26] = (uint8_t)(seq >> 8), p[27] = (uint8_t)seq;
	p[28] = 0, p[29] = 0, p[30] = 0x10, p[31] = 0x01; /* ack */
	p[32] = 0x50, p[33] = flags;                      /* 20 bytes */
	p[34] = 0x01, p[35] = 0x00;                       /* window */
	for (size_t k = 0; k < payload; k++)
		p[40 + k] = (uint8_t)(i * 7 + k);
	acc = 6 + (uint32_t)(len - 20);
	for (int k = 12; k < 20; k += 2)
		acc += (uint32_t)p[k] << 8 | p[k + 1];
	c = ck(p + 20, len - 20, acc);
	p[36] = (uint8_t)(c >> 8), p[37] = (uint8_t)c;
	return len;
}

/* A device with TSO on its TUN, UDP GSO and GRO, and its peer. */
static int tso_pair(struct wgtest_pair *f)
{
	return wgtest_pair_new(
	        f,
	        (struct wg_device_params){.offload = TSO_GSO_GRO,
	                                  .tun_offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6},
	        false);
}

static void superpacket_out(void)
{
	static uint8_t mem[OFFLOAD_ITEMS * OFFLOAD_SUPER_MAX], segs[NSEGS][1500], frame[65600];
	struct offload_coalescer c = {.mem = mem};
	struct wgtest_pair f;
	struct noise_keys keys;
	size_t lens[NSEGS];
	uint8_t msg[2048];
	struct wg_device_stats ds;

	wgtest_case("a TUN superpacket goes out as its segments, in one UDP train");
	if (tso_pair(&f) < 0)
		return;
	ds = wgtest_dev_stats(&f.w);
	CHECK(ds.offload.tun_tso && !ds.offload.tun_uso && ds.tun_coalescing);
	CHECK(ds.offload.udp_gso);
	CHECK_INT(wgtest_handshake(f.w.d, &f.t, 7, &keys), 0);

	/* The peer's first data confirms the session; it comes out of the TUN
	 * alone, with a zero virtio-net header before it. */
	{
		uint8_t pkt[64], got[128], zero[sizeof(struct virtio_net_hdr)] = {0};
		size_t n = wgtest_ip_packet(pkt, 0x64400002);
		size_t len = wgtest_data_message(msg, &keys, 0, pkt, n);

		wgtest_input(f.w.d, msg, len, (struct sockaddr *)&f.t.from, sizeof(f.t.from));
		CHECK_INT(wgtest_recv_now(f.w.tun[1], got, sizeof(got)), sizeof(zero) + n);
		CHECK(!memcmp(got, zero, sizeof(zero)) && !memcmp(got + sizeof(zero), pkt, n));
	}

	/* The superpacket the kernel would hand us: the segments coalesced. */
	for (unsigned i = 0; i < NSEGS; i++) {
		lens[i] = tcp_segment(segs[i], 0xcb007150, 0x64400002, i, SEG, 0x10);
		CHECK_INT(offload_coalesce(&c, segs[i], lens[i]), 0);
	}
	CHECK_INT(c.n, 1);
	offload_item_finish(&c.items[0]);
	memcpy(frame, &c.items[0].vh, sizeof(c.items[0].vh));
	memcpy(frame + sizeof(c.items[0].vh), c.items[0].buf, c.items[0].len);
	CHECK(send(f.w.tun[1], frame, sizeof(c.items[0].vh) + c.items[0].len, 0) > 0);
	wg_device_tun_input(f.w.d, wgtest_now);

	for (unsigned i = 0; i < NSEGS; i++) {
		uint64_t counter = 0;
		ssize_t n = wgtest_recv(f.t.udp, msg, sizeof(msg)), plain;

		CHECK(n > 0);
		if (n <= 0)
			break;
		plain = wgtest_open(&keys, msg, (size_t)n, &counter);
		CHECK(plain >= (ssize_t)lens[i]);
		CHECK_INT(counter, i);
		/* the segment the kernel would have cut: headers, seq, id, checksums */
		CHECK(plain >= (ssize_t)lens[i] &&
		      !memcmp(msg + NOISE_DATA_HDR_LEN, segs[i], lens[i]));
	}
	CHECK(wgtest_nothing(f.t.udp));
	ds = wgtest_dev_stats(&f.w);
	CHECK_INT(ds.tun_super_rx, 1);
	CHECK_INT(ds.gso_sends, 1);
	CHECK_INT(ds.fallbacks, 0);
	CHECK_INT(ds.tun_drops, 0);

	/* A header that does not add up is dropped and counted, not sent. */
	frame[sizeof(struct virtio_net_hdr) + 9] = 17; /* TCPV4 over UDP */
	CHECK(send(f.w.tun[1], frame, sizeof(c.items[0].vh) + c.items[0].len, 0) > 0);
	wg_device_tun_input(f.w.d, wgtest_now);
	CHECK(wgtest_nothing(f.t.udp));
	CHECK_INT(wgtest_dev_stats(&f.w).tun_drops, 1);
	wgtest_pair_free(&f);
}

static void superpacket_in(void)
{
	static uint8_t segs[NSEGS + 1][1500], msgs[NSEGS + 1][1600], got[70000];
	struct wg_datagram dg[NSEGS + 1];
	struct virtio_net_hdr vh;
	struct wgtest_pair f;
	struct noise_keys keys;
	size_t lens[NSEGS + 1], at;
	ssize_t n;

	wgtest_case("one receive of a flow's segments goes into the TUN as one superpacket");
	if (tso_pair(&f) < 0)
		return;
	CHECK_INT(wgtest_handshake(f.w.d, &f.t, 9, &keys), 0);
	for (unsigned i = 0; i < NSEGS + 1; i++) {
		/* the last: the same flow but a SYN, which never merges */
		lens[i] = i < NSEGS ? tcp_segment(segs[i], 0x64400002, 0xcb007150, i, SEG, 0x10)
		                    : tcp_segment(segs[i], 0x64400002, 0xcb007150, i, 0, 0x02);
		dg[i] = (struct wg_datagram){
		        .buf = msgs[i],
		        .len = wgtest_data_message(msgs[i], &keys, i, segs[i], lens[i]),
		        .src = (struct sockaddr *)&f.t.from,
		        .srclen = sizeof(f.t.from)};
	}
	wg_device_input(f.w.d, dg, NSEGS + 1, wgtest_now);

	n = wgtest_recv_now(f.w.tun[1], got, sizeof(got));
	CHECK_INT(n, sizeof(vh) + 40 + NSEGS * SEG);
	memcpy(&vh, got, sizeof(vh));
	CHECK_INT(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_INT(vh.gso_size, SEG);
	CHECK_INT(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_INT(vh.csum_start, 20);
	CHECK_INT(vh.csum_offset, 16);
	/* the first segment's headers (lengths aside), then every payload */
	CHECK(!memcmp(got + sizeof(vh) + 12, segs[0] + 12, 8));
	at = sizeof(vh) + 40;
	for (unsigned i = 0; i < NSEGS && n > 0; i++, at += SEG)
		CHECK(!memcmp(got + at, segs[i] + 40, SEG));
	/* then the SYN alone, with a zero header */
	n = wgtest_recv_now(f.w.tun[1], got, sizeof(got));
	CHECK_INT(n, sizeof(vh) + lens[NSEGS]);
	memcpy(&vh, got, sizeof(vh));
	CHECK(vh.gso_type == 0 && vh.flags == 0);
	CHECK(!memcmp(got + sizeof(vh), segs[NSEGS], lens[NSEGS]));
	CHECK(wgtest_recv_now(f.w.tun[1], got, sizeof(got)) < 0);
	CHECK_INT(wgtest_dev_stats(&f.w).tun_super_tx, 1);
	wgtest_pair_free(&f);
}

static void no_offloads(void)
{
	struct wgtest_pair f;
	struct wg_device_stats ds;

	wgtest_case("without offloads asked for, nothing is framed or counted");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) < 0)
		return;
	ds = wgtest_dev_stats(&f.w);
	CHECK(!ds.offload.tun_tso && !ds.offload.tun_uso && !ds.offload.udp_gso &&
	      !ds.offload.udp_gro && !ds.tun_coalescing);
	CHECK_INT(ds.fallbacks, 0);
	wgtest_pair_free(&f);

	/* Asked for, but the TUN was opened without them: a fallback, said. */
	wgtest_case("tun_tso asked for on a plain TUN is a fallback");
	if (wgtest_pair_new(&f, (struct wg_device_params){.offload = {.tun_tso = true}}, false) < 0)
		return;
	ds = wgtest_dev_stats(&f.w);
	CHECK(!ds.offload.tun_tso && !ds.tun_coalescing);
	CHECK_INT(ds.fallbacks, 1);
	wgtest_pair_free(&f);
}

/* From here on, in this process, the system call nr fails with err (x86-64
 * and aarch64: the filter checks the architecture it was built for). */
static int refuse_syscall(long nr, int err)
{
#if defined(__x86_64__)
	const unsigned arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
	const unsigned arch = AUDIT_ARCH_AARCH64;
#else
	const unsigned arch = 0;
#endif
	struct sock_filter f[] = {
	        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
	        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
	        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
	        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

	if (!arch || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* A kernel that refuses superpacket writes (writev, which only the
 * coalescer's writes use): the first one turns coalescing off, and its
 * segments go one by one with write(). */
static int coalescing_refused(void)
{
	static uint8_t segs[NSEGS][1500], msgs[NSEGS][1600], got[70000];
	struct wg_datagram dg[NSEGS];
	struct wg_device_stats ds;
	struct wgtest_pair f;
	struct noise_keys keys;
	unsigned n = 0;
	ssize_t len;

	if (tso_pair(&f) < 0)
		return 1;
	CHECK_INT(wgtest_handshake(f.w.d, &f.t, 11, &keys), 0);
	for (unsigned i = 0; i < NSEGS; i++) {
		size_t l = tcp_segment(segs[i], 0x64400002, 0xcb007150, i, SEG, 0x10);

		dg[i] = (struct wg_datagram){
		        .buf = msgs[i],
		        .len = wgtest_data_message(msgs[i], &keys, i, segs[i], l),
		        .src = (struct sockaddr *)&f.t.from,
		        .srclen = sizeof(f.t.from)};
	}
	CHECK_INT(refuse_syscall(SYS_writev, EINVAL), 0);
	wg_device_input(f.w.d, dg, NSEGS, wgtest_now);
	while ((len = wgtest_recv_now(f.w.tun[1], got, sizeof(got))) > 0) {
		CHECK_INT(len, sizeof(struct virtio_net_hdr) + 40 + SEG);
		CHECK(n < NSEGS && !memcmp(got + sizeof(struct virtio_net_hdr), segs[n], 40 + SEG));
		n++;
	}
	CHECK_INT(n, NSEGS);
	ds = wgtest_dev_stats(&f.w);
	CHECK(!ds.tun_coalescing && ds.offload.tun_tso);
	CHECK_INT(ds.fallbacks, 1);
	CHECK_INT(ds.tun_super_tx, 0);
	wgtest_pair_free(&f);
	return check_failed ? 1 : 0;
}

/* A kernel that refuses UDP trains with EIO (here every sendmmsg()): UDP GSO
 * turns off, counted once. */
static int gso_refused(void)
{
	static uint8_t mem[OFFLOAD_ITEMS * OFFLOAD_SUPER_MAX], seg[1500], frame[65600];
	struct offload_coalescer c = {.mem = mem};
	struct wg_device_stats ds;
	struct wgtest_pair f;
	struct noise_keys keys;
	uint8_t pkt[64], msg[128], got[128];

	if (tso_pair(&f) < 0)
		return 1;
	CHECK_INT(wgtest_handshake(f.w.d, &f.t, 13, &keys), 0);
	size_t n = wgtest_ip_packet(pkt, 0x64400002);
	size_t len = wgtest_data_message(msg, &keys, 0, pkt, n);
	wgtest_input(f.w.d, msg, len, (struct sockaddr *)&f.t.from, sizeof(f.t.from));
	CHECK(wgtest_recv_now(f.w.tun[1], got, sizeof(got)) > 0); /* the session confirmed */
	for (unsigned i = 0; i < NSEGS; i++)
		CHECK_INT(offload_coalesce(&c, seg,
		                           tcp_segment(seg, 0xcb007150, 0x64400002, i, SEG, 0x10)),
		          0);
	offload_item_finish(&c.items[0]);
	memcpy(frame, &c.items[0].vh, sizeof(c.items[0].vh));
	memcpy(frame + sizeof(c.items[0].vh), c.items[0].buf, c.items[0].len);
	CHECK(send(f.w.tun[1], frame, sizeof(c.items[0].vh) + c.items[0].len, 0) > 0);
	CHECK_INT(refuse_syscall(SYS_sendmmsg, EIO), 0);
	wg_device_tun_input(f.w.d, wgtest_now);
	ds = wgtest_dev_stats(&f.w);
	CHECK(!ds.offload.udp_gso);
	CHECK_INT(ds.fallbacks, 1);
	CHECK_INT(ds.gso_sends, 0);
	wgtest_pair_free(&f);
	return check_failed ? 1 : 0;
}

/* fn in a child process of its own (its seccomp filter stays there). */
static void in_child(const char *name, int (*fn)(void))
{
	int status = 0;
	pid_t pid;

	wgtest_case(name);
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(fn());
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	superpacket_out();
	superpacket_in();
	no_offloads();
	in_child("a superpacket write refused with EINVAL: coalescing off, segments one by one",
	         coalescing_refused);
	in_child("a UDP train refused with EIO: UDP GSO off", gso_refused);
	return check_done("test_wg_offload");
}
