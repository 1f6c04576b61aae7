/* A WireGuard device in userspace: one UDP socket, one TUN, many peers. It
 * speaks the protocol (handshakes, cookies under load, sessions with rekey
 * and reject timers, keepalives, roaming) and moves packets between the TUN
 * and the socket in batches. It knows no role: the gateway gives each client
 * its tunnel address as allowed source, the edge gives its one peer 0.0.0.0/0
 * and ::/0. Cryptokey routing: a packet goes to the peer whose allowed prefix
 * holds its destination, and a decrypted packet whose source is not inside the
 * sending peer's prefixes is dropped and counted. */
#ifndef EGRESS_WG_H
#define EGRESS_WG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct loop;
struct wg_device;
struct wg_peer;
struct prefix; /* tunnel/prefix.h */

/* The offloads a device may use, each on unless the operator turned it off
 * (the YAML's offload: block), for kernels and tunnels that misbehave:
 *   tun_tso  the TUN opened with a virtio-net header and TSO (64 KB TCP
 *            superpackets read from it and written into it);
 *   tun_uso  also UDP segmentation on the TUN (Linux 6.2+);
 *   udp_gso  datagrams of one peer sent as one UDP_SEGMENT train;
 *   udp_gro  trains received with UDP_GRO and split again.
 * What a device actually uses (a kernel may refuse one) is in its stats. */
struct wg_offload {
	bool tun_tso, tun_uso, udp_gso, udp_gro;
};
#define WG_OFFLOAD_ALL ((struct wg_offload){true, true, true, true})

struct wg_device_params {
	const uint8_t *private_key; /* 32 bytes */
	int tun_fd;                 /* non-blocking; stays the caller's */
	unsigned mtu;               /* of the TUN */
	uint16_t listen_port;       /* 0: any free port */
	uint32_t fwmark;            /* SO_MARK of the UDP socket; 0: none */
	/* Under load (see wg.c) when a receive that found the socket's queue
	 * fuller than one batch holds this many handshake messages; 0 takes the
	 * default, WG_LOAD_THRESHOLD. */
	unsigned load_threshold;
	/* Divides every protocol timer (rekey, reject, keepalive, ...); 1 in
	 * production, larger only in tests that must cross rekeys quickly. */
	unsigned time_divisor;
	/* The offloads asked for (zeroed: none), and the TUN_F_* flags the
	 * TUN's fd was opened with (tun_open_offload(), tunnel/tun.h; 0: a
	 * plain TUN). An offload asked for that the TUN or the socket does not
	 * have is logged, counted as a fallback and left off. */
	struct wg_offload offload;
	unsigned tun_offloads;
};

/* Datagrams taken by one receive from the socket; a receive that comes back
 * with this many found the queue fuller than it could take. */
#define WG_BATCH 64
/* The largest MTU a device takes (gateway.yaml and edge.yaml say the same),
 * and so the largest packet a peer may send us: every buffer of the data
 * path holds one of these with the data message around it. */
#define WG_MTU_MAX 9000
/* The default load threshold: a quarter of a full receive being handshake
 * messages means the CPU is behind on them. */
#define WG_LOAD_THRESHOLD (WG_BATCH / 4)

/* The clock of every protocol timer, in ns: CLOCK_BOOTTIME, which goes on
 * during suspend. The entry points below that take `now` read no clock
 * themselves, so tests and fuzzers can run them on a fake one. */
uint64_t wg_now(void);

/* NULL with errno set on failure (EINVAL: an mtu over WG_MTU_MAX). */
struct wg_device *wg_device_new(const struct wg_device_params *p);
/* Accepts NULL. Wipes keys; closes the UDP socket but not the TUN. */
void wg_device_free(struct wg_device *d);
/* Adds the device's sockets and its timer tick to the loop. 0 or -errno. */
int wg_device_attach(struct wg_device *d, struct loop *l);
struct wg_datagram {
	const void *buf;
	size_t len;
	const struct sockaddr *src;
	socklen_t srclen;
	/* The local address it was sent to (AF_INET or AF_INET6, the port is
	 * not read), which replies leave from; NULL: not known, any address. */
	const struct sockaddr *dst;
	socklen_t dstlen;
};
/* Handles n datagrams as if one receive from the socket had returned them, at
 * time now: for fuzzing and tests. n >= WG_BATCH is a full receive (see
 * load_threshold); more than WG_BATCH are taken as several receives. */
void wg_device_input(struct wg_device *d, const struct wg_datagram *dg, size_t n, uint64_t now);
/* The TUN is readable: reads up to WG_BATCH packets from it and sends what
 * they become, at time now (the loop calls this on wg_now()); for fuzzing and
 * tests. */
void wg_device_tun_input(struct wg_device *d, uint64_t now);
/* Runs the protocol timers due at time now (the loop's tick does this every
 * 100 ms on wg_now()); it visits only the peers with a timer due. */
void wg_device_tick(struct wg_device *d, uint64_t now);
/* The UDP port actually bound. */
uint16_t wg_device_port(const struct wg_device *d);
/* The device's public key, 32 bytes. */
const uint8_t *wg_device_public_key(const struct wg_device *d);

struct wg_peer_params {
	const char *name;                /* for logs */
	const uint8_t *public_key;       /* 32 bytes */
	const uint8_t *psk;              /* 32 bytes or NULL */
	const struct sockaddr *endpoint; /* NULL: learnt from its first handshake */
	socklen_t endpoint_len;
	unsigned persistent_keepalive; /* seconds, 0: off */
	const struct prefix *allowed;  /* host bits beyond len are ignored */
	size_t n_allowed;
};

/* The peer belongs to the device. NULL with errno: EEXIST (key or a prefix
 * already taken, by another peer or twice in p), EINVAL (a bad key or
 * prefix), ENOMEM. Takes constant time whatever the number of peers. */
struct wg_peer *wg_peer_add(struct wg_device *d, const struct wg_peer_params *p);
/* Starts a handshake now instead of waiting for the first packet. */
void wg_peer_connect(struct wg_peer *p, uint64_t now);
/* Removes the peer from the device and frees it, wiping its keys: its
 * routes, sessions and receiver indexes go with it, and packets still staged
 * for it are dropped. Other peers are untouched. Linear in the number of
 * peers only for a move of pointers that keeps their order. */
void wg_peer_remove(struct wg_peer *p);
/* The device's peers in the order they were added: i from 0 until NULL. A
 * peer added or removed while iterating moves the others' positions. */
struct wg_peer *wg_device_peer(const struct wg_device *d, size_t i);
/* The name given to wg_peer_add(), cut to 31 bytes. */
const char *wg_peer_name(const struct wg_peer *p);
/* Whether the peer has this public key (32 bytes) and preshared key (32
 * bytes, NULL: none), compared in constant time: the same client as a
 * configuration's, for a reload that keeps unchanged peers' sessions. */
bool wg_peer_has_keys(const struct wg_peer *p, const uint8_t *public_key, const uint8_t *psk);

struct wg_peer_stats {
	uint64_t rx_bytes, tx_bytes; /* inner packets */
	uint64_t rx_packets, tx_packets;
	uint64_t spoofed;             /* dropped: source not the peer's */
	uint64_t handshakes;          /* completed */
	uint64_t unanswered;          /* initiations sent since the last completed */
	uint64_t last_handshake_unix; /* seconds, 0: never */
	uint64_t last_rx_ns;          /* wg_now() of the last authenticated packet, 0: never */
	bool has_endpoint;
	struct sockaddr_storage endpoint;
	bool has_session; /* a current session usable for sending */
};
/* An endpoint as people write it: 192.0.2.1:51820, [2001:db8::1]:51820, an
 * IPv4-mapped address as IPv4. WG_ENDPOINT_STRLEN bytes are enough. */
#define WG_ENDPOINT_STRLEN (INET6_ADDRSTRLEN + 8)
void wg_format_endpoint(const struct sockaddr_storage *ss, char *buf, size_t size);
/* has_session is judged at time now. */
void wg_peer_stats(const struct wg_peer *p, uint64_t now, struct wg_peer_stats *s);

struct wg_device_stats {
	uint64_t invalid;        /* datagrams that were no valid message */
	uint64_t no_route;       /* TUN packets for no peer */
	uint64_t cookie_replies; /* sent while under load */
	uint64_t handshake_rx;   /* handshake messages with a valid mac1 */
	uint64_t load_events;    /* times the device went under load */
	/* Of invalid: data messages that authenticated but whose counter the
	 * replay window had seen or left behind. */
	uint64_t replayed;
	/* Handshake messages with a valid mac1 that made no session: an
	 * initiation from no peer of ours, one that does not decrypt, one with
	 * a stale timestamp or too soon after the last; a response to no
	 * handshake of ours or that does not decrypt. (Most are in invalid
	 * too; a stale or early initiation is not.) */
	uint64_t handshake_failures;
	bool under_load; /* at time now */

	/* The offloads in use now, and what they did. */
	struct wg_offload offload;
	bool tun_coalescing;   /* writes into the TUN coalesced (tun_tso until a fallback) */
	uint64_t tun_super_rx; /* superpackets read from the TUN (split here) */
	uint64_t tun_super_tx; /* superpackets written into it (coalesced here) */
	uint64_t gso_sends;    /* sends of a train of datagrams (UDP_SEGMENT) */
	uint64_t gro_trains;   /* receives of a train of more than one datagram */
	/* Offloads turned off: asked for but refused at the start, or failed
	 * later (a GSO write or send the kernel would not take). */
	uint64_t fallbacks;
	uint64_t tun_drops; /* packets the TUN would not take, or read ones that did not split */
};
void wg_device_stats(const struct wg_device *d, uint64_t now, struct wg_device_stats *s);
/* Logs the device's counters and one line per peer (endpoint, last
 * handshake, packets and bytes each way, spoofed packets dropped): what the
 * daemons print on SIGUSR1. */
void wg_device_log_stats(const struct wg_device *d);

/* What `wg show` lists (tunnel/uapi.c). Keys are 32 bytes, owned by the
 * device or peer and valid while it is. */
const uint8_t *wg_device_private_key(const struct wg_device *d);
/* The UDP socket's SO_MARK; 0: none. */
uint32_t wg_device_fwmark(const struct wg_device *d);
const uint8_t *wg_peer_public_key(const struct wg_peer *p);
/* All zeros when the peer has none. */
const uint8_t *wg_peer_psk(const struct wg_peer *p);
/* Seconds; 0: off. */
unsigned wg_peer_keepalive(const struct wg_peer *p);
/* The prefixes given to wg_peer_add(), in its order, host bits cleared. */
const struct prefix *wg_peer_allowed(const struct wg_peer *p, size_t *n);
/* The endpoint as wg_device_log_stats() writes it ("192.0.2.1:51820",
 * "[2001:db8::1]:51820", an IPv4-mapped address as IPv4) into buf of at least
 * WG_ENDPOINT_STRLEN bytes; false, and buf untouched, when it has none. */
#define WG_ENDPOINT_STRLEN (INET6_ADDRSTRLEN + 8)
bool wg_peer_endpoint_format(const struct wg_peer *p, char *buf, size_t size);

#endif
