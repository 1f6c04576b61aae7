/* The device: its socket, its peers and their lookup tables (receiver
 * indexes, allowed prefixes, public keys), and its counters. The packet loops
 * are in wg_data.c. */
#include "tunnel/wg_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/udp.h>
#include <unistd.h>

#include "tunnel/log.h"
#include "tunnel/prefix.h"
#include "tunnel/tun.h"

#define SOCKET_BUF_BYTES (4 << 20)

uint64_t wg_now(void)
{
	struct timespec ts;

	/* Boot time goes on during suspend, so a session that outlived its
	 * reject time while the host slept is not used when it wakes. */
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

/* --- receiver indexes: an open-addressing hash with backward-shift delete --- */

static size_t index_hash(uint32_t index, size_t cap)
{
	return (index * 2654435761u) & (cap - 1);
}

static int index_grow(struct index_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct index_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i].peer)
			continue;
		size_t j = index_hash(m->slots[i].index, cap);
		while (slots[j].peer)
			j = (j + 1) & (cap - 1);
		slots[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

static struct index_slot *index_slot(struct index_map *m, uint32_t index)
{
	if (!m->cap)
		return NULL;
	for (size_t j = index_hash(index, m->cap);; j = (j + 1) & (m->cap - 1)) {
		if (!m->slots[j].peer)
			return NULL;
		if (m->slots[j].index == index)
			return &m->slots[j];
	}
}

int wg_index_add(struct wg_device *d, struct wg_peer *p, uint32_t *index)
{
	struct index_map *m = &d->indexes;
	uint32_t candidate;

	if ((m->n + 1) * 2 > m->cap && index_grow(m) < 0)
		return -ENOMEM;
	/* Random indexes, so they say nothing about the peer or the order. */
	do {
		if (crypto_random(&candidate, sizeof(candidate)) < 0)
			return -EIO;
	} while (index_slot(m, candidate));
	size_t j = index_hash(candidate, m->cap);
	while (m->slots[j].peer)
		j = (j + 1) & (m->cap - 1);
	m->slots[j] = (struct index_slot){.index = candidate, .peer = p};
	m->n++;
	*index = candidate;
	return 0;
}

void wg_index_del(struct wg_device *d, uint32_t index)
{
	struct index_map *m = &d->indexes;
	struct index_slot *s = index_slot(m, index);

	if (!s)
		return;
	size_t i = (size_t)(s - m->slots);
	m->slots[i].peer = NULL;
	m->n--;
	/* Shift back the entries that probed past the hole. */
	for (size_t j = (i + 1) & (m->cap - 1); m->slots[j].peer; j = (j + 1) & (m->cap - 1)) {
		size_t home = index_hash(m->slots[j].index, m->cap);
		if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
			m->slots[i] = m->slots[j];
			m->slots[j].peer = NULL;
			i = j;
		}
	}
}

struct wg_peer *wg_index_find(struct wg_device *d, uint32_t index)
{
	struct index_slot *s = index_slot(&d->indexes, index);

	return s ? s->peer : NULL;
}

/* --- routes: the peers' allowed prefixes --- */

static bool prefix_match(const struct route *r, int family, const uint8_t *addr)
{
	unsigned full = r->len / 8, rest = r->len % 8;

	if (r->family != family)
		return false;
	if (memcmp(r->addr, addr, full) != 0)
		return false;
	return !rest || ((r->addr[full] ^ addr[full]) & (0xff << (8 - rest))) == 0;
}

/* Longest prefix first, so the first match of a scan is the best; then by
 * family and address, only for a fixed order. */
static int route_cmp(const struct route *x, const struct route *y)
{
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	if (x->family != y->family)
		return x->family - y->family;
	return memcmp(x->addr, y->addr, 16);
}

static bool route_is_host(const struct route *r)
{
	return r->len == prefix_max_len(r->family);
}

struct wg_peer *wg_route_lookup(struct wg_device *d, int family, const void *addr)
{
	struct route key = {.family = (uint8_t)family, .len = family == AF_INET ? 32 : 128};
	const struct route *r;

	/* Host routes (the gateway's clients) by their address ... */
	memcpy(key.addr, addr, family == AF_INET ? 4 : 16);
	r = keymap_find(&d->host_routes, &key);
	if (r)
		return r->peer;
	/* ... then the shorter prefixes (the edge's default) by a scan. */
	for (size_t i = 0; i < d->n_nets; i++)
		if (prefix_match(d->nets[i], family, addr))
			return d->nets[i]->peer;
	return NULL;
}

static bool route_taken(const struct wg_device *d, const struct route *r)
{
	if (route_is_host(r))
		return keymap_find(&d->host_routes, r) != NULL;
	for (size_t i = 0; i < d->n_nets; i++)
		if (route_cmp(d->nets[i], r) == 0)
			return true;
	return false;
}

/* Into the sorted list of shorter prefixes; room was made beforehand. */
static void net_insert(struct wg_device *d, struct route *r)
{
	size_t i = d->n_nets;

	while (i > 0 && route_cmp(d->nets[i - 1], r) > 0) {
		d->nets[i] = d->nets[i - 1];
		i--;
	}
	d->nets[i] = r;
	d->n_nets++;
}

static void net_remove(struct wg_device *d, const struct route *r)
{
	for (size_t i = 0; i < d->n_nets; i++) {
		if (d->nets[i] == r) {
			memmove(&d->nets[i], &d->nets[i + 1],
			        (d->n_nets - i - 1) * sizeof(*d->nets));
			d->n_nets--;
			return;
		}
	}
}

/* arr (with *cap elements of size) with room for n, doubling; NULL when
 * out of memory, and then arr is as it was. */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap : 16;

	while (c < n)
		c *= 2;
	if (c == *cap)
		return arr;
	arr = realloc(arr, c * size);
	if (arr)
		*cap = c;
	return arr;
}

/* --- the device --- */

static int open_udp(struct wg_device *d, uint16_t port, uint32_t fwmark)
{
	int zero = 0, one = 1, size = SOCKET_BUF_BYTES;
	struct sockaddr_storage ss = {0};
	socklen_t sslen;
	int fd;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		struct sockaddr_in6 *s6 = (void *)&ss;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sslen = sizeof(*s6);
		d->udp_family = AF_INET6;
	} else {
		/* No IPv6 on this host. */
		struct sockaddr_in *s4 = (void *)&ss;
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sslen = sizeof(*s4);
		d->udp_family = AF_INET;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (fwmark && setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0)
		goto fail;
	/* Each datagram's local address, for replies from it (sticky sources).
	 * On the dual-stack socket IPV6_RECVPKTINFO alone covers both families
	 * (an IPv4 datagram gets IPV6_PKTINFO with the mapped destination);
	 * IP_PKTINFO adds ipi_spec_dst for IPv4, the address the kernel itself
	 * would answer from, which is not the destination when that was a
	 * broadcast. Both were checked on Linux 6.18. */
	if (d->udp_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
		goto fail;
	if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0)
		goto fail;
	sslen = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
		goto fail;
	d->port = ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset in sin6 */
	d->udp_fd = fd;
	return 0;
fail:;
	int err = -errno;
	close(fd);
	return err;
}

/* Which offloads the device uses: those asked for that the TUN was opened
 * with and the socket takes. */
static void offloads_start(struct wg_device *d, const struct wg_device_params *p)
{
	const struct wg_offload *want = &p->offload;
	int one = 1, size;
	socklen_t len = sizeof(size);

	d->vnet = p->tun_offloads != 0;
	d->offload.tun_tso = d->vnet && (p->tun_offloads & TUN_F_TSO4);
	d->offload.tun_uso = d->offload.tun_tso && (p->tun_offloads & TUN_F_USO4);
	if (want->tun_tso && !d->offload.tun_tso)
		wg_offload_off(d, NULL, "tun_tso", "the kernel has no TSO for this TUN");
	else if (want->tun_tso && want->tun_uso && !d->offload.tun_uso)
		wg_offload_off(d, NULL, "tun_uso",
		               "the kernel has no UDP segmentation for TUNs (Linux 6.2+)");
	d->coalescing = d->offload.tun_tso;
	if (want->udp_gso) {
		/* The option's getter is there exactly when UDP_SEGMENT is. */
		d->offload.udp_gso = getsockopt(d->udp_fd, SOL_UDP, UDP_SEGMENT, &size, &len) == 0;
		if (!d->offload.udp_gso)
			wg_offload_off(d, NULL, "udp_gso", "the kernel has no UDP_SEGMENT");
	}
	if (want->udp_gro) {
		d->offload.udp_gro =
		        setsockopt(d->udp_fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
		if (!d->offload.udp_gro)
			wg_offload_off(d, NULL, "udp_gro", "the kernel has no UDP_GRO");
	}
}

/* The loops' buffers: receive slots for the largest datagram a peer may send
 * (or a GRO train), send slots for our MTU with the data message around. */
static int batch_alloc(struct wg_device *d)
{
	struct batch *b = calloc(1, sizeof(*b));

	d->batch = b;
	if (!b)
		return -ENOMEM;
	b->buf_size = d->offload.udp_gro
	                      ? GRO_BUF_BYTES
	                      : (NOISE_DATA_HDR_LEN + WG_MTU_MAX + 16 + CRYPTO_TAG_LEN + 63) & ~63u;
	b->bufs = malloc(BATCH * b->buf_size);
	b->tx_stride = (NOISE_DATA_HDR_LEN + d->mtu + 16 + CRYPTO_TAG_LEN + 63) & ~63u;
	b->tx_bufs = malloc(TX_SLOTS * b->tx_stride);
	if (!b->bufs || !b->tx_bufs)
		return -ENOMEM;
	if (d->vnet) {
		b->tun_read = malloc(TUN_READ_BYTES);
		if (!b->tun_read)
			return -ENOMEM;
	}
	if (d->offload.tun_tso) {
		b->coal.uso = d->offload.tun_uso;
		b->coal.mem = malloc((size_t)OFFLOAD_ITEMS * OFFLOAD_SUPER_MAX);
		if (!b->coal.mem)
			return -ENOMEM;
	}
	return 0;
}

static void batch_free(struct batch *b)
{
	if (!b)
		return;
	/* All of it held plaintext: TUN packets and decrypted data. */
	if (b->bufs)
		crypto_wipe(b->bufs, BATCH * b->buf_size);
	if (b->tx_bufs)
		crypto_wipe(b->tx_bufs, TX_SLOTS * b->tx_stride);
	if (b->tun_read)
		crypto_wipe(b->tun_read, TUN_READ_BYTES);
	if (b->coal.mem)
		crypto_wipe(b->coal.mem, (size_t)OFFLOAD_ITEMS * OFFLOAD_SUPER_MAX);
	free(b->bufs);
	free(b->tx_bufs);
	free(b->tun_read);
	free(b->coal.mem);
	free(b);
}

struct wg_device *wg_device_new(const struct wg_device_params *p)
{
	struct wg_device *d = calloc(1, sizeof(*d));
	unsigned div = p->time_divisor ? p->time_divisor : 1;
	int err;

	if (!d)
		return NULL;
	if (p->mtu > WG_MTU_MAX) {
		free(d);
		errno = EINVAL;
		return NULL;
	}
	d->udp_fd = -1;
	d->tun_fd = p->tun_fd;
	keymap_init(&d->by_key, offsetof(struct wg_peer, remote.pub), CRYPTO_KEY_LEN);
	keymap_init(&d->host_routes, offsetof(struct route, family), ROUTE_KEY_LEN);
	d->mtu = p->mtu;
	d->time_divisor = div;
	d->load_threshold = p->load_threshold ? p->load_threshold : WG_LOAD_THRESHOLD;
	d->rekey_after_ns = REKEY_AFTER_TIME * NSEC / div;
	d->reject_after_ns = REJECT_AFTER_TIME * NSEC / div;
	d->rekey_timeout_ns = REKEY_TIMEOUT * NSEC / div;
	d->keepalive_ns = KEEPALIVE_TIMEOUT * NSEC / div;
	d->rekey_attempt_ns = REKEY_ATTEMPT_TIME * NSEC / div;
	d->cookie_valid_ns = (COOKIE_MAX_AGE - COOKIE_LATENCY) * NSEC;
	err = noise_local_init(&d->local, p->private_key);
	if (err)
		goto fail;
	noise_cookie_checker_init(&d->cookies, &d->local);
	if (crypto_random(d->ratelimit_key, sizeof(d->ratelimit_key)) < 0) {
		err = -EIO;
		goto fail;
	}
	err = open_udp(d, p->listen_port, p->fwmark);
	if (err)
		goto fail;
	offloads_start(d, p);
	err = batch_alloc(d);
	if (err)
		goto fail;
	return d;
fail:
	wg_device_free(d);
	errno = -err;
	return NULL;
}

void wg_device_free(struct wg_device *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_peers; i++) {
		session_free(d->peers[i]);
		free(d->peers[i]->routes);
		free(d->peers[i]);
	}
	free(d->peers);
	keymap_free(&d->by_key);
	keymap_free(&d->host_routes);
	free(d->nets);
	wg_timers_free(&d->timers);
	free(d->indexes.slots);
	batch_free(d->batch);
	if (d->udp_fd >= 0)
		close(d->udp_fd);
	crypto_wipe(&d->local, sizeof(d->local));
	crypto_wipe(&d->cookies, sizeof(d->cookies));
	free(d);
}

uint16_t wg_device_port(const struct wg_device *d)
{
	return d->port;
}

bool wg_peer_has_keys(const struct wg_peer *p, const uint8_t *public_key, const uint8_t *psk)
{
	static const uint8_t none[CRYPTO_KEY_LEN];
	bool pub_same = crypto_equal(p->remote.pub, public_key, CRYPTO_KEY_LEN);

	return crypto_equal(p->remote.psk, psk ? psk : none, CRYPTO_KEY_LEN) && pub_same;
}

const uint8_t *wg_device_public_key(const struct wg_device *d)
{
	return d->local.pub;
}

static void prefix_to_route(const struct prefix *pf, struct route *r)
{
	struct prefix net = *pf;

	/* Clear host bits so matching can compare whole bytes. */
	prefix_mask(&net);
	memset(r, 0, sizeof(*r));
	r->family = (uint8_t)net.family;
	r->len = (uint8_t)net.len;
	memcpy(r->addr, net.bytes, sizeof(r->addr));
}

/* p's routes from pp, each checked against the device's and against p's
 * own before it: 0, -EINVAL or -EEXIST. n_nets gets how many are shorter
 * than a host route. */
static int peer_routes(const struct wg_device *d, struct wg_peer *p,
                       const struct wg_peer_params *pp, size_t *n_nets)
{
	*n_nets = 0;
	for (size_t i = 0; i < pp->n_allowed; i++) {
		unsigned max = prefix_max_len(pp->allowed[i].family);
		struct route *r = &p->routes[i];

		if (!max || pp->allowed[i].len > max)
			return -EINVAL;
		prefix_to_route(&pp->allowed[i], r);
		r->peer = p;
		if (route_taken(d, r))
			return -EEXIST;
		for (size_t j = 0; j < i; j++)
			if (route_cmp(&p->routes[j], r) == 0)
				return -EEXIST;
		if (!route_is_host(r))
			(*n_nets)++;
	}
	p->n_routes = pp->n_allowed;
	return 0;
}

/* Room in every index for one more peer with these routes, so that adding
 * it cannot fail half-way. */
static int reserve_peer(struct wg_device *d, size_t n_hosts, size_t n_nets)
{
	struct wg_peer **peers = grow(d->peers, &d->cap_peers, d->n_peers + 1, sizeof(*peers));
	struct route **nets;
	int err;

	if (!peers)
		return -ENOMEM;
	d->peers = peers;
	nets = grow(d->nets, &d->cap_nets, d->n_nets + n_nets, sizeof(*nets));
	if (!nets)
		return -ENOMEM;
	d->nets = nets;
	err = keymap_reserve(&d->by_key, 1);
	if (!err)
		err = keymap_reserve(&d->host_routes, n_hosts);
	if (!err)
		err = wg_timers_reserve(&d->timers, d->n_peers + 1);
	return err;
}

static void peer_set_endpoint(struct wg_device *d, struct wg_peer *p,
                              const struct wg_peer_params *pp)
{
	if (!pp->endpoint || pp->endpoint_len > sizeof(p->ep))
		return;
	memcpy(&p->ep, pp->endpoint, pp->endpoint_len);
	p->ep_len = pp->endpoint_len;
	if (d->udp_family == AF_INET6 && pp->endpoint->sa_family == AF_INET) {
		/* The socket is dual-stack: speak to IPv4 peers as mapped addresses. */
		const struct sockaddr_in *s4 = (const void *)pp->endpoint;
		struct sockaddr_in6 *s6 = (void *)&p->ep;
		memset(s6, 0, sizeof(*s6));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = s4->sin_port;
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		p->ep_len = sizeof(*s6);
	}
	p->stats.has_endpoint = true;
	memcpy(&p->stats.endpoint, &p->ep, p->ep_len);
}

struct wg_peer *wg_peer_add(struct wg_device *d, const struct wg_peer_params *pp)
{
	struct wg_peer *p = NULL;
	size_t n_nets = 0;
	int err = -ENOMEM;

	if (keymap_find(&d->by_key, pp->public_key))
		return errno = EEXIST, NULL;
	if (memcmp(d->local.pub, pp->public_key, CRYPTO_KEY_LEN) == 0)
		return errno = EINVAL, NULL; /* ourselves */
	p = calloc(1, sizeof(*p) + pp->n_allowed * sizeof(p->allowed[0]));
	if (!p)
		goto fail;
	p->dev = d;
	p->routes = calloc(pp->n_allowed ? pp->n_allowed : 1, sizeof(*p->routes));
	if (!p->routes)
		goto fail;
	err = peer_routes(d, p, pp, &n_nets);
	if (!err)
		err = reserve_peer(d, pp->n_allowed - n_nets, n_nets);
	if (err)
		goto fail;
	snprintf(p->name, sizeof(p->name), "%s", pp->name ? pp->name : "peer");
	/* The static-static DH waits for the first handshake (wg_session.c). */
	err = noise_remote_init_deferred(&p->remote, pp->public_key, pp->psk);
	if (err)
		goto fail;
	peer_set_endpoint(d, p, pp);
	p->persistent_keepalive = pp->persistent_keepalive;
	for (size_t i = 0; i < pp->n_allowed; i++) {
		p->allowed[i] = pp->allowed[i];
		prefix_mask(&p->allowed[i]);
	}
	p->n_allowed = pp->n_allowed;

	/* Nothing fails from here: the key and routes are free, the room made. */
	keymap_add(&d->by_key, p);
	for (size_t i = 0; i < p->n_routes; i++) {
		if (route_is_host(&p->routes[i]))
			keymap_add(&d->host_routes, &p->routes[i]);
		else
			net_insert(d, &p->routes[i]);
	}
	d->peers[d->n_peers++] = p;
	/* The first tick arms the persistent keepalive. */
	if (p->persistent_keepalive)
		wg_timers_wake(p, 0);
	return p;
fail:
	/* p->remote may hold the PSK already. */
	if (p) {
		free(p->routes);
		crypto_wipe(p, sizeof(*p));
	}
	free(p);
	errno = -err;
	return NULL;
}

void wg_peer_connect(struct wg_peer *p, uint64_t now)
{
	session_send_initiation(p, false, now);
}

void wg_peer_remove(struct wg_peer *p)
{
	struct wg_device *d = p->dev;

	for (size_t i = 0; i < p->n_routes; i++) {
		if (route_is_host(&p->routes[i]))
			keymap_del(&d->host_routes, &p->routes[i]);
		else
			net_remove(d, &p->routes[i]);
	}
	keymap_del(&d->by_key, p);
	wg_timers_drop(p);
	/* The others keep their order: a memmove of pointers, a fraction of a
	 * millisecond even with 60,000 peers. */
	for (size_t i = 0; i < d->n_peers; i++) {
		if (d->peers[i] == p) {
			memmove(&d->peers[i], &d->peers[i + 1],
			        (d->n_peers - i - 1) * sizeof(*d->peers));
			d->n_peers--;
			break;
		}
	}
	/* Its sessions and handshake take their receiver indexes with them. */
	session_free(p);
	free(p->routes);
	crypto_wipe(p, sizeof(*p));
	free(p);
}

struct wg_peer *wg_device_peer(const struct wg_device *d, size_t i)
{
	return i < d->n_peers ? d->peers[i] : NULL;
}

const char *wg_peer_name(const struct wg_peer *p)
{
	return p->name;
}

void wg_peer_stats(const struct wg_peer *p, uint64_t now, struct wg_peer_stats *s)
{
	*s = p->stats;
	s->has_session = p->current && now - p->current->birth_ns < p->dev->reject_after_ns;
}

void wg_device_stats(const struct wg_device *d, uint64_t now, struct wg_device_stats *s)
{
	*s = d->stats;
	s->under_load = now < d->under_load_until_ns;
	s->offload = d->offload;
	s->tun_coalescing = d->coalescing;
}

void wg_format_endpoint(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char addr[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		snprintf(buf, size, "%s:%u", addr, ntohs(s4->sin_port));
		return;
	}
	const struct sockaddr_in6 *s6 = (const void *)ss;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], addr, sizeof(addr));
		snprintf(buf, size, "%s:%u", addr, ntohs(s6->sin6_port));
	} else {
		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		snprintf(buf, size, "[%s]:%u", addr, ntohs(s6->sin6_port));
	}
}

void wg_device_log_stats(const struct wg_device *d)
{
	struct wg_device_stats ds;
	uint64_t now = (uint64_t)time(NULL), mono = wg_now();

	wg_device_stats(d, mono, &ds);
	log_info("device: port %u, %zu peers, %llu invalid datagrams, %llu packets for no peer, "
	         "%llu handshake messages, %llu cookie replies, under load %llu times, %s",
	         d->port, d->n_peers, (unsigned long long)ds.invalid,
	         (unsigned long long)ds.no_route, (unsigned long long)ds.handshake_rx,
	         (unsigned long long)ds.cookie_replies, (unsigned long long)ds.load_events,
	         ds.under_load ? "under load now" : "not under load now");
	log_info("offloads: tun_tso %s, tun_uso %s, udp_gso %s, udp_gro %s; superpackets read "
	         "%llu, written %llu; UDP trains sent %llu, received %llu; %llu fallbacks, "
	         "%llu packets the TUN did not take",
	         ds.offload.tun_tso ? (ds.tun_coalescing ? "on" : "on (reads only)") : "off",
	         ds.offload.tun_uso ? "on" : "off", ds.offload.udp_gso ? "on" : "off",
	         ds.offload.udp_gro ? "on" : "off", (unsigned long long)ds.tun_super_rx,
	         (unsigned long long)ds.tun_super_tx, (unsigned long long)ds.gso_sends,
	         (unsigned long long)ds.gro_trains, (unsigned long long)ds.fallbacks,
	         (unsigned long long)ds.tun_drops);
	for (size_t i = 0; i < d->n_peers; i++) {
		struct wg_peer_stats ps;
		char ep[INET6_ADDRSTRLEN + 8] = "none", hs[32] = "never";

		wg_peer_stats(d->peers[i], mono, &ps);
		if (ps.has_endpoint)
			wg_format_endpoint(&ps.endpoint, ep, sizeof(ep));
		if (ps.last_handshake_unix)
			snprintf(hs, sizeof(hs), "%llu s ago",
			         (unsigned long long)(now - ps.last_handshake_unix));
		log_info("peer %s: endpoint %s, %s, last handshake %s, rx %llu packets %llu bytes, "
		         "tx %llu packets %llu bytes, spoofed %llu",
		         d->peers[i]->name, ep, ps.has_session ? "session up" : "no session", hs,
		         (unsigned long long)ps.rx_packets, (unsigned long long)ps.rx_bytes,
		         (unsigned long long)ps.tx_packets, (unsigned long long)ps.tx_bytes,
		         (unsigned long long)ps.spoofed);
	}
}

/* --- what wg show needs (tunnel/uapi.c) --- */

const uint8_t *wg_device_private_key(const struct wg_device *d)
{
	return d->local.priv;
}

uint32_t wg_device_fwmark(const struct wg_device *d)
{
	uint32_t mark = 0;
	socklen_t len = sizeof(mark);

	/* The socket holds it; a copy in the device could only disagree. */
	if (getsockopt(d->udp_fd, SOL_SOCKET, SO_MARK, &mark, &len) < 0)
		return 0;
	return mark;
}

const uint8_t *wg_peer_public_key(const struct wg_peer *p)
{
	return p->remote.pub;
}

const uint8_t *wg_peer_psk(const struct wg_peer *p)
{
	return p->remote.psk;
}

unsigned wg_peer_keepalive(const struct wg_peer *p)
{
	return p->persistent_keepalive;
}

const struct prefix *wg_peer_allowed(const struct wg_peer *p, size_t *n)
{
	*n = p->n_allowed;
	return p->allowed;
}

bool wg_peer_endpoint_format(const struct wg_peer *p, char *buf, size_t size)
{
	if (!p->stats.has_endpoint)
		return false;
	wg_format_endpoint(&p->stats.endpoint, buf, size);
	return true;
}
