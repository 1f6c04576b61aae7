/* Internals shared by wg.c (the device and its packet loops) and
 * wg_session.c (handshakes, sessions and timers). Not for other modules. */
#ifndef EGRESS_WG_PRIV_H
#define EGRESS_WG_PRIV_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "tunnel/keymap.h"
#include "tunnel/log.h"
#include "tunnel/noise.h"
#include "tunnel/offload.h"
#include "tunnel/prefix.h"
#include "tunnel/replay.h"
#include "tunnel/wg.h"

#define NSEC 1000000000ULL

/* WireGuard's protocol constants (the paper, section 6.1). */
#define REKEY_AFTER_MESSAGES (1ULL << 60)
#define REKEY_AFTER_TIME     120
#define REJECT_AFTER_TIME    180
#define REKEY_ATTEMPT_TIME   90
#define REKEY_TIMEOUT        5
#define KEEPALIVE_TIMEOUT    10
#define COOKIE_MAX_AGE       120
#define COOKIE_LATENCY       5
#define MAX_TIMER_HANDSHAKES (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT)
/* A peer's initiations are taken at most this often (the kernel's 50 a second). */
#define INITIATION_MIN_INTERVAL_NS (NSEC / 50)
#define MAX_STAGED                 32
/* The kernel's limits for handshakes under load: 20 a second per source
 * address, in bursts of up to 5. */
#define RATELIMIT_PER_SECOND 20
#define RATELIMIT_BURST      5
#define RATELIMIT_BUCKETS    4096

struct keypair {
	struct noise_keys keys;
	/* keys.send and keys.recv bound to their AEAD contexts once */
	struct crypto_aead_ctx *seal, *open;
	uint64_t birth_ns;
	uint64_t send_counter; /* the next one to use */
	struct replay replay;
};

/* A local address to send from (a "sticky" source), kept as the control
 * message sendmsg() takes for it: IP_PKTINFO with ipi_spec_dst, or
 * IPV6_PKTINFO with ipi6_addr; the interface index stays 0, as in the
 * kernel's endpoint.src4/src6, so the route still picks the way out. len is
 * the message's length; 0: none, the route's preferred source. Clearing it
 * is setting len to 0: a msghdr that already points at cmsg stays valid. */
struct wg_src {
	size_t len;
	/* Not a union with struct cmsghdr: its flexible array would make this
	 * a variable-sized type, which may not sit inside another struct. */
	_Alignas(struct cmsghdr) uint8_t cmsg[CMSG_SPACE(sizeof(struct in6_pktinfo))];
};

struct staged {
	uint16_t len;
	uint8_t data[]; /* dev->mtu bytes */
};

/* One allowed prefix of a peer, host bits cleared. The first 18 bytes are
 * the key of the device's index of host routes. */
struct route {
	uint8_t family;
	uint8_t len;
	uint8_t addr[16];
	struct wg_peer *peer;
};
#define ROUTE_KEY_LEN (offsetof(struct route, addr) + 16)

struct wg_peer {
	struct wg_device *dev;
	char name[32];
	struct noise_remote remote;
	struct noise_handshake hs;
	uint8_t greatest_ts[NOISE_TIMESTAMP_LEN];
	uint64_t last_init_rx_ns;

	/* next: a responder's session not yet confirmed by the initiator's
	 * first data packet; it becomes current then. */
	struct keypair *current, *previous, *next;

	struct sockaddr_storage ep;
	socklen_t ep_len;
	/* Our address the peer last reached us at, set with ep from the same
	 * authenticated packet: everything to the peer leaves from there. */
	struct wg_src ep_src;

	uint8_t cookie[NOISE_COOKIE_LEN];
	uint64_t cookie_ns; /* 0: none */
	uint8_t last_mac1[NOISE_MAC_LEN];
	bool has_last_mac1;
	struct log_ratelimit roam_log, cookie_log;

	/* Timers: the monotonic ns at which each fires, 0 when not armed. A
	 * timer is armed with wg_timer_arm(), which keeps the device's heap
	 * (wg_timer.c) in step; cleared by setting it to 0. */
	uint64_t t_retransmit, t_keepalive, t_new_handshake, t_zero_keys, t_persistent;
	size_t timer_pos;   /* in the heap, from 1; 0: not in it */
	uint64_t timer_due; /* its key there: no later than the earliest timer */
	unsigned hs_attempts;
	uint64_t last_hs_sent_ns;
	uint64_t last_handshake_ns; /* completed; 0: never */
	bool sent_lastminute_handshake;
	unsigned persistent_keepalive;

	uint8_t *staged; /* MAX_STAGED slots, allocated on first use */
	unsigned n_staged;

	struct wg_peer_stats stats;

	/* Its allowed prefixes, which the device's route indexes point into. */
	struct route *routes;
	size_t n_routes;
	/* The same as wg_peer_add() was given them (host bits cleared), for
	 * wg show. */
	size_t n_allowed;
	struct prefix allowed[];
};

struct index_map {
	struct index_slot {
		uint32_t index;
		struct wg_peer *peer; /* NULL: empty */
	} * slots;
	size_t cap, n;
};

/* The peers with a timer armed, earliest first (wg_timer.c). Its array has
 * room for every peer of the device, so arming a timer never allocates. */
struct wg_timers {
	struct wg_peer **heap;
	size_t n, cap;
};

struct wg_device {
	struct noise_local local;
	struct noise_cookie_checker cookies;
	int udp_fd, tun_fd, udp_family;
	unsigned mtu;
	uint16_t port;

	struct wg_peer **peers; /* in the order they were added */
	size_t n_peers, cap_peers;
	struct keymap by_key;      /* peers by public key */
	struct keymap host_routes; /* routes of full length (/32, /128) by address */
	struct route **nets;       /* the shorter ones (an edge's default), longest first */
	size_t n_nets, cap_nets;
	struct index_map indexes;
	struct wg_timers timers;

	/* "Under load": set by a full receive with load_threshold handshake
	 * messages in it, for one second after the last such receive. */
	unsigned load_threshold;
	uint64_t under_load_until_ns;
	struct log_ratelimit load_log;
	/* Under load, handshakes with a valid cookie are still limited per
	 * source address: token buckets, indexed by a keyed hash of it. */
	struct ratelimit {
		uint64_t last_ns;
		uint32_t tokens; /* in units of RATELIMIT_UNIT_NS */
	} ratelimit[RATELIMIT_BUCKETS];
	uint8_t ratelimit_key[16];

	/* Protocol timers in ns, scaled by time_divisor. */
	uint64_t rekey_after_ns, reject_after_ns, rekey_timeout_ns, keepalive_ns;
	uint64_t cookie_valid_ns, rekey_attempt_ns;
	unsigned time_divisor;

	/* The offloads in use (stats.offload is the same); vnet: the TUN's
	 * reads and writes begin with a virtio_net_hdr. */
	struct wg_offload offload;
	bool vnet;
	bool coalescing; /* writes into the TUN coalesced: tun_tso, until a fallback */
	struct log_ratelimit tun_log;

	struct wg_device_stats stats;
	struct batch *batch;
};

/* Lines about what the network does (roaming, cookies, load) at most this
 * often per peer or device, so no sender can flood the log. */
#define LOG_INTERVAL_NS (10 * NSEC)

/* The buffers of the two packet loops (wg_data.c); allocated with the
 * device. */
#define BATCH WG_BATCH
/* What a receive's control messages may hold: an IPv4 datagram on the
 * dual-stack socket brings both pktinfo messages (see open_udp()), and a
 * train its UDP_GRO segment size. */
#define RX_CONTROL_BYTES                                                                  \
	(CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo)) + \
	 CMSG_SPACE(sizeof(int)))
/* A receive slot with UDP_GRO: the largest train the kernel builds. */
#define GRO_BUF_BYTES 65536
/* Datagrams one round of TUN reads may make: a few superpackets' worth. */
#define TX_SLOTS 256
/* A send's control messages: the sticky source, and a train's segment size. */
#define TX_CONTROL_BYTES (CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t)))
/* One UDP_SEGMENT train, at most: the kernel's UDP_MAX_SEGMENTS of older
 * kernels, and what fits one UDP datagram's length over IPv4. */
#define GSO_MAX_SEGS  64
#define GSO_MAX_BYTES 65507
/* A TUN read with a virtio_net_hdr: the header and a 64 KB superpacket. */
#define TUN_READ_BYTES (sizeof(struct virtio_net_hdr) + 65535 + 40)

/* A datagram made from the TUN, ready to send. */
struct tx_dgram {
	struct wg_peer *peer;
	uint8_t *buf;
	size_t len;
};

struct batch {
	/* Receiving: one datagram per slot, or one UDP_GRO train. */
	size_t buf_size;
	uint8_t *bufs; /* BATCH slots of buf_size */
	struct mmsghdr msgs[BATCH];
	struct iovec iovs[BATCH];
	struct sockaddr_storage addrs[BATCH];
	/* Received: the control messages, and from them the local address
	 * each datagram was sent to and a train's segment size (0: one). */
	_Alignas(struct cmsghdr) uint8_t control[BATCH][RX_CONTROL_BYTES];
	struct wg_src locals[BATCH];
	uint16_t gro_size[BATCH];
	/* The receiver index, peer and session of the train being handled
	 * (kp NULL: none yet). */
	struct rx_train {
		uint32_t index;
		struct wg_peer *peer;
		struct keypair *kp;
	} train;

	/* Sending: the datagrams of one round of TUN reads, each in a slot of
	 * tx_stride, and the messages that carry them (one datagram each, or
	 * a UDP_SEGMENT train of one peer's datagrams). */
	size_t tx_stride;
	uint8_t *tx_bufs; /* TX_SLOTS slots */
	size_t n_slots;   /* used, some maybe by a packet that was not sent */
	size_t n_dgrams;
	struct tx_dgram dgrams[TX_SLOTS];
	struct iovec tx_iovs[TX_SLOTS]; /* one per datagram, in their order */
	struct mmsghdr tx_msgs[TX_SLOTS];
	unsigned tx_first[TX_SLOTS]; /* a message's first datagram */
	_Alignas(struct cmsghdr) uint8_t tx_control[TX_SLOTS][TX_CONTROL_BYTES];

	/* The TUN with a virtio_net_hdr: the read buffer, and the coalescer
	 * of the packets written into it. */
	uint8_t *tun_read;
	struct offload_segs segs;
	struct offload_coalescer coal;
};

/* wg.c */
struct wg_peer *wg_route_lookup(struct wg_device *d, int family, const void *addr);
int wg_index_add(struct wg_device *d, struct wg_peer *p, uint32_t *index);
void wg_index_del(struct wg_device *d, uint32_t index);
struct wg_peer *wg_index_find(struct wg_device *d, uint32_t index);
/* Sends from *from (NULL or len 0: any address); when the kernel refuses
 * that source (no longer ours), clears *from and sends from any address. */
void wg_send_to(struct wg_device *d, const struct sockaddr_storage *to, socklen_t tolen,
                struct wg_src *from, const void *buf, size_t len);
/* Encrypts and sends one packet at once (staged packets, keepalives). */
void wg_send_one(struct wg_peer *p, struct keypair *kp, const uint8_t *pkt, size_t len,
                 uint64_t now);
size_t wg_seal(struct wg_device *d, struct keypair *kp, uint8_t *out, const uint8_t *pkt,
               size_t len);
/* An offload the kernel does not have or would not take any more: *on (if
 * not NULL) false, a fallback counted, and said in the log. */
void wg_offload_off(struct wg_device *d, bool *on, const char *what, const char *why);

/* wg_src.c */
/* s from a local address (a struct in_addr or in6_addr, IPv4-mapped ones
 * taken as IPv4); the unspecified and multicast addresses leave it empty. */
void wg_src_set(struct wg_src *s, int family, const void *addr);
/* s from a received datagram's IP_PKTINFO or IPV6_PKTINFO; empty without. */
void wg_src_from_control(struct wg_src *s, struct msghdr *m);
/* s from a sockaddr_in or sockaddr_in6; empty for NULL or others. */
void wg_src_from_sockaddr(struct wg_src *s, const struct sockaddr *sa, socklen_t len);
/* Was a send refused because its source address is not ours (any more)? */
bool wg_src_refused(int err);
bool wg_src_equal(const struct wg_src *a, const struct wg_src *b);

/* wg_session.c. src is where a message came from, local our address it
 * was sent to (never NULL; len 0 when not known). */
void session_handle_init(struct wg_device *d, const void *msg, const struct sockaddr_storage *src,
                         socklen_t srclen, const struct wg_src *local, uint64_t now);
void session_handle_resp(struct wg_device *d, const void *msg, const struct sockaddr_storage *src,
                         socklen_t srclen, const struct wg_src *local, uint64_t now);
void session_handle_cookie(struct wg_device *d, const void *msg, uint64_t now);
void session_send_initiation(struct wg_peer *p, bool retry, uint64_t now);
/* The keypair that may send now, or NULL (then the packet is staged and a
 * handshake started). */
struct keypair *session_sending_keypair(struct wg_peer *p, uint64_t now);
void session_stage(struct wg_peer *p, const uint8_t *pkt, size_t len, uint64_t now);
/* The keypair of a data message's receiver index, if still valid. */
struct keypair *session_receiving_keypair(struct wg_peer *p, uint32_t index, uint64_t now);
/* After a data message authenticated with kp: key confirmation, roaming,
 * timers. */
void session_received(struct wg_peer *p, struct keypair *kp, const struct sockaddr_storage *src,
                      socklen_t srclen, const struct wg_src *local, bool keepalive, uint64_t now);
void session_sent(struct wg_peer *p, struct keypair *kp, bool keepalive, uint64_t now);
void session_tick(struct wg_peer *p, uint64_t now);
void session_free(struct wg_peer *p);

/* wg_timer.c */
/* Room for n peers in the heap: 0 or -ENOMEM. */
int wg_timers_reserve(struct wg_timers *h, size_t n);
void wg_timers_free(struct wg_timers *h);
/* *timer = at (not 0), and p is ticked at the first tick at or after it. */
void wg_timer_arm(struct wg_peer *p, uint64_t *timer, uint64_t at);
/* p is ticked at the first tick at or after at, whatever its timers say. */
void wg_timers_wake(struct wg_peer *p, uint64_t at);
/* Takes p out of the heap (it is being removed). */
void wg_timers_drop(struct wg_peer *p);
/* session_tick() for each peer with a timer due at now, once each. */
void wg_timers_run(struct wg_device *d, uint64_t now);

#endif
