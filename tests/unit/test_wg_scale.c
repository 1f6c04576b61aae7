/* The device's indexes with thousands of peers: keys and host routes found
 * after every add and remove, peers removed while they are walked keeping
 * the others' order, duplicates refused (also within one peer), small-order
 * keys refused without a scalar multiplication, and the timer heap: each
 * timer fires at the first tick at or after its time, whatever was armed,
 * re-armed or removed around it, and a tick with nothing due visits nobody. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "tunnel/crypto.h"
#include "tunnel/log.h"
#include "tunnel/prefix.h"
#include "tunnel/wg_priv.h"

#define N_PEERS 3000

static struct wg_peer *peers[N_PEERS];
static uint8_t pubs[N_PEERS][32];

static void addrs_of(int i, struct prefix a[2])
{
	uint32_t host = (uint32_t)i + 2;

	memset(a, 0, 2 * sizeof(*a));
	a[0].family = AF_INET;
	a[0].len = 32;
	a[0].v4.s_addr = htonl(0x64400000u | host);
	a[1].family = AF_INET6;
	a[1].len = 128;
	inet_pton(AF_INET6, "fd00:64::", &a[1].v6);
	a[1].v6.s6_addr[14] = (uint8_t)(host >> 8);
	a[1].v6.s6_addr[15] = (uint8_t)host;
}

static struct wg_peer *add(struct wg_device *d, int i)
{
	struct prefix a[2];
	char name[16];

	addrs_of(i, a);
	snprintf(name, sizeof(name), "p%d", i);
	return wg_peer_add(
	        d, &(struct wg_peer_params){
	                   .name = name, .public_key = pubs[i], .allowed = a, .n_allowed = 2});
}

/* Peer i is found by its key and both addresses exactly when present. */
static size_t wrong_lookups(struct wg_device *d)
{
	size_t wrong = 0;

	for (int i = 0; i < N_PEERS; i++) {
		struct prefix a[2];
		struct wg_peer *p;

		addrs_of(i, a);
		p = keymap_find(&d->by_key, pubs[i]);
		wrong += p != peers[i];
		wrong += wg_route_lookup(d, AF_INET, &a[0].v4) != peers[i];
		wrong += wg_route_lookup(d, AF_INET6, &a[1].v6) != peers[i];
	}
	return wrong;
}

static void test_indexes(struct wg_device *d)
{
	struct prefix a[2];
	uint8_t fresh[32];

	for (int i = 0; i < N_PEERS; i++) {
		crypto_random(pubs[i], 32);
		pubs[i][31] &= 0x7f;
		peers[i] = add(d, i);
		CHECK(peers[i] != NULL);
	}
	CHECK_INT(wrong_lookups(d), 0);

	/* Duplicates: a key, an address of another peer, an address twice. */
	errno = 0;
	CHECK(add(d, 5) == NULL);
	CHECK_INT(errno, EEXIST);
	crypto_random(fresh, sizeof(fresh));
	addrs_of(7, a);
	a[0].v4.s_addr = htonl(0x64410000u); /* free, but a[1] is p7's */
	errno = 0;
	CHECK(wg_peer_add(d, &(struct wg_peer_params){.name = "x",
	                                              .public_key = fresh,
	                                              .allowed = a,
	                                              .n_allowed = 2}) == NULL);
	CHECK_INT(errno, EEXIST);
	a[1] = a[0];
	errno = 0;
	CHECK(wg_peer_add(d, &(struct wg_peer_params){.name = "x",
	                                              .public_key = fresh,
	                                              .allowed = a,
	                                              .n_allowed = 2}) == NULL);
	CHECK_INT(errno, EEXIST);
	/* A refused peer left nothing behind: its key and address are free. */
	CHECK(keymap_find(&d->by_key, fresh) == NULL);
	CHECK(wg_route_lookup(d, AF_INET, &a[0].v4) == NULL);
	CHECK_INT(wrong_lookups(d), 0);

	/* Removal while walking: every other peer goes, the walk goes on at
	 * the same position (the next one moved into it), and the others keep
	 * the order they were added in. */
	size_t pos = 0;
	for (struct wg_peer *p; (p = wg_device_peer(d, pos));) {
		int i = atoi(wg_peer_name(p) + 1);
		if (i % 2 == 0) {
			wg_peer_remove(p);
			peers[i] = NULL;
		} else {
			pos++;
		}
	}
	CHECK_INT(pos, N_PEERS / 2);
	size_t out_of_order = 0;
	for (size_t k = 0; k < pos; k++)
		out_of_order += wg_device_peer(d, k) != peers[2 * k + 1];
	CHECK_INT(out_of_order, 0);
	CHECK_INT(wrong_lookups(d), 0);

	/* Their keys and addresses can be taken again. */
	for (int i = 0; i < N_PEERS; i += 2) {
		peers[i] = add(d, i);
		CHECK(peers[i] != NULL);
	}
	CHECK_INT(wrong_lookups(d), 0);
	CHECK_INT(keymap_count(&d->by_key), N_PEERS);
	CHECK_INT(keymap_count(&d->host_routes), 2 * N_PEERS);
}

/* Shorter prefixes: the longest that matches wins, whatever the order they
 * came in, and host routes before them all. */
static void test_nets(struct wg_device *d)
{
	const char *nets[] = {"10.0.0.0/8", "10.1.0.0/16", "0.0.0.0/0", "10.1.2.0/24"};
	struct wg_peer *np[4];

	for (int i = 0; i < 4; i++) {
		struct prefix a = check_prefix(nets[i]);
		uint8_t pub[32];
		char name[8];

		crypto_random(pub, sizeof(pub));
		snprintf(name, sizeof(name), "n%d", i);
		np[i] = wg_peer_add(
		        d, &(struct wg_peer_params){
		                   .name = name, .public_key = pub, .allowed = &a, .n_allowed = 1});
		CHECK(np[i] != NULL);
	}
	struct prefix a = check_prefix("10.1.2.3");
	CHECK(wg_route_lookup(d, AF_INET, &a.v4) == np[3]);
	a = check_prefix("10.1.9.9");
	CHECK(wg_route_lookup(d, AF_INET, &a.v4) == np[1]);
	a = check_prefix("10.9.9.9");
	CHECK(wg_route_lookup(d, AF_INET, &a.v4) == np[0]);
	a = check_prefix("192.0.2.1");
	CHECK(wg_route_lookup(d, AF_INET, &a.v4) == np[2]);
	a = check_prefix("100.64.0.3");
	CHECK(wg_route_lookup(d, AF_INET, &a.v4) == peers[1]);
	wg_peer_remove(np[1]);
	a = check_prefix("10.1.9.9");
	CHECK(wg_route_lookup(d, AF_INET, &a.v4) == np[0]);
	for (int i = 0; i < 4; i++)
		if (i != 1)
			wg_peer_remove(np[i]);
	CHECK(wg_route_lookup(d, AF_INET, &a.v4) == NULL);
	CHECK_INT(d->n_nets, 0);
}

/* The keys whose X25519 is all zeros. wg_peer_add() no longer computes it,
 * so it must know them: each is refused, with bit 255 (which X25519 ignores)
 * clear and set, and libcrypto confirms each is one. */
static void test_small_order(struct wg_device *d, const uint8_t priv[32])
{
	static const char *const hex[] = {
	        "0000000000000000000000000000000000000000000000000000000000000000",
	        "0100000000000000000000000000000000000000000000000000000000000000",
	        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	uint8_t key[32], out[32];

	for (size_t i = 0; i < sizeof(hex) / sizeof(hex[0]); i++) {
		for (int top = 0; top < 2; top++) {
			check_unhex(key, sizeof(key), hex[i]);
			key[31] |= (uint8_t)(top << 7);
			CHECK_INT(crypto_x25519(out, priv, key), -EINVAL);
			errno = 0;
			CHECK(wg_peer_add(d, &(struct wg_peer_params){.name = "low",
			                                              .public_key = key}) == NULL);
			CHECK_INT(errno, EINVAL);
		}
	}
	/* One bit off is an ordinary key. */
	check_unhex(key, sizeof(key), hex[2]);
	key[0] ^= 1;
	CHECK_INT(crypto_x25519(out, priv, key), 0);
	struct wg_peer *p =
	        wg_peer_add(d, &(struct wg_peer_params){.name = "ok", .public_key = key});
	CHECK(p != NULL);
	if (p)
		wg_peer_remove(p);
}

static void test_timers(struct wg_device *d)
{
	enum { T = 200 };
	uint64_t at[N_PEERS], now;
	size_t early = 0, late = 0;

	/* t_zero_keys on every peer at a time of its own (many equal), some
	 * re-armed earlier, some cleared (they come up, find nothing due and
	 * leave the heap), some removed while armed. */
	for (int i = 0; i < N_PEERS; i++) {
		at[i] = 1000 + (uint64_t)((i * 7919) % T) * 10;
		wg_timer_arm(peers[i], &peers[i]->t_zero_keys, at[i]);
	}
	CHECK_INT(d->timers.n, N_PEERS);
	for (int i = 0; i < N_PEERS; i += 5) {
		at[i] /= 2;
		wg_timer_arm(peers[i], &peers[i]->t_zero_keys, at[i]);
	}
	CHECK_INT(d->timers.n, N_PEERS);
	for (int i = 1; i < N_PEERS; i += 7) {
		peers[i]->t_zero_keys = 0;
		at[i] = 0;
	}
	for (int i = 3; i < N_PEERS; i += 11) {
		wg_peer_remove(peers[i]);
		peers[i] = NULL;
	}
	for (now = 0; now <= 1000 + 10 * T + 10; now += 10) {
		wg_device_tick(d, now);
		for (int i = 0; i < N_PEERS; i++) {
			if (!peers[i] || !at[i])
				continue;
			bool fired = peers[i]->t_zero_keys == 0;
			early += fired && at[i] > now;
			late += !fired && at[i] <= now;
		}
	}
	CHECK_INT(early, 0);
	CHECK_INT(late, 0);
	CHECK_INT(d->timers.n, 0); /* nothing armed: nobody in the heap */

	/* A peer whose timer moved later (the data path postpones without
	 * telling the heap) comes up early, is not fired, and fires on time. */
	wg_timer_arm(peers[0], &peers[0]->t_keepalive, now + 100);
	peers[0]->t_keepalive = now + 300;
	wg_device_tick(d, now + 150);
	CHECK(peers[0]->t_keepalive == now + 300);
	CHECK_INT(d->timers.n, 1);
	CHECK(d->timers.heap[0]->timer_due == now + 300);
	wg_device_tick(d, now + 300);
	CHECK(peers[0]->t_keepalive == 0);
	CHECK_INT(d->timers.n, 0);
}

int main(void)
{
	uint8_t priv[32];
	struct wg_device *d;
	int sv[2];

	log_set_level(LOG_LVL_ERR);
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	CHECK(crypto_x25519_genkey(priv) == 0);
	d = wg_device_new(
	        &(struct wg_device_params){.private_key = priv, .tun_fd = sv[0], .mtu = 1420});
	CHECK(d != NULL);
	if (!d)
		return check_done("test_wg_scale");
	test_indexes(d);
	test_nets(d);
	test_small_order(d, priv);
	test_timers(d);
	wg_device_free(d);
	close(sv[0]);
	close(sv[1]);
	return check_done("test_wg_scale");
}
