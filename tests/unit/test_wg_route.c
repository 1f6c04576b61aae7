/* Cryptokey routing of the device: every peer's host addresses find that
 * peer, shorter prefixes catch the rest, and unknown addresses find none. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "tunnel/crypto.h"
#include "tunnel/log.h"
#include "tunnel/prefix.h"
#include "tunnel/wg_priv.h"

#define N_PEERS 200

int main(void)
{
	static struct wg_peer *peers[N_PEERS];
	uint8_t priv[32], pub[32];
	struct wg_device *d;
	int sv[2];

	log_set_level(LOG_LVL_ERR);
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	CHECK(crypto_x25519_genkey(priv) == 0);
	d = wg_device_new(
	        &(struct wg_device_params){.private_key = priv, .tun_fd = sv[0], .mtu = 1420});
	CHECK(d != NULL);
	if (!d)
		return check_done("test_wg_route");

	/* Peers in an order unlike their addresses': 100.64.x.y, fd00:64::x:y. */
	for (int i = 0; i < N_PEERS; i++) {
		int host = (i * 37) % N_PEERS + 2;
		struct prefix allowed[2] = {
		        {.family = AF_INET, .len = 32},
		        {.family = AF_INET6, .len = 128},
		};
		char name[16];

		allowed[0].v4.s_addr = htonl(0x64400000u | (uint32_t)host);
		inet_pton(AF_INET6, "fd00:64::", &allowed[1].v6);
		allowed[1].v6.s6_addr[14] = (uint8_t)(host >> 8);
		allowed[1].v6.s6_addr[15] = (uint8_t)host;
		snprintf(name, sizeof(name), "p%d", host);
		crypto_x25519_genkey(priv);
		crypto_x25519_pubkey(pub, priv);
		peers[host - 2] = wg_peer_add(d, &(struct wg_peer_params){.name = name,
		                                                          .public_key = pub,
		                                                          .allowed = allowed,
		                                                          .n_allowed = 2});
		CHECK(peers[host - 2] != NULL);
	}
	for (int host = 2; host < N_PEERS + 2; host++) {
		uint32_t a4 = htonl(0x64400000u | (uint32_t)host);
		struct in6_addr a6;

		inet_pton(AF_INET6, "fd00:64::", &a6);
		a6.s6_addr[14] = (uint8_t)(host >> 8);
		a6.s6_addr[15] = (uint8_t)host;
		CHECK(wg_route_lookup(d, AF_INET, &a4) == peers[host - 2]);
		CHECK(wg_route_lookup(d, AF_INET6, &a6) == peers[host - 2]);
	}
	uint32_t unknown = htonl(0x64400001u);
	CHECK(wg_route_lookup(d, AF_INET, &unknown) == NULL);
	unknown = htonl(0xcb007150u); /* 203.0.113.80 */
	CHECK(wg_route_lookup(d, AF_INET, &unknown) == NULL);

	/* A default route catches everything the host routes do not. */
	struct prefix all[2] = {{.family = AF_INET}, {.family = AF_INET6}};
	crypto_x25519_genkey(priv);
	crypto_x25519_pubkey(pub, priv);
	struct wg_peer *def = wg_peer_add(
	        d, &(struct wg_peer_params){
	                   .name = "default", .public_key = pub, .allowed = all, .n_allowed = 2});
	CHECK(def != NULL);
	CHECK(wg_route_lookup(d, AF_INET, &unknown) == def);
	uint32_t known = htonl(0x64400005u);
	CHECK(wg_route_lookup(d, AF_INET, &known) == peers[3]);

	/* The same key twice, or a prefix already taken, is refused. */
	CHECK(wg_peer_add(d, &(struct wg_peer_params){.name = "dup", .public_key = pub}) == NULL);
	crypto_x25519_genkey(priv);
	crypto_x25519_pubkey(pub, priv);
	CHECK(wg_peer_add(d, &(struct wg_peer_params){.name = "taken",
	                                              .public_key = pub,
	                                              .allowed = all,
	                                              .n_allowed = 1}) == NULL);

	/* Removing peers takes exactly their routes with them; the others keep
	 * theirs, in order, and a removed peer's prefixes can be taken again. */
	size_t n_before = 0;
	while (wg_device_peer(d, n_before))
		n_before++;
	CHECK_INT(n_before, N_PEERS + 1);
	for (int host = 2; host < N_PEERS + 2; host += 3)
		wg_peer_remove(peers[host - 2]);
	wg_peer_remove(def);
	size_t n_after = 0;
	for (struct wg_peer *p; (p = wg_device_peer(d, n_after)); n_after++)
		CHECK(p != def);
	CHECK_INT(n_after, N_PEERS - (N_PEERS + 2) / 3);
	for (int host = 2; host < N_PEERS + 2; host++) {
		uint32_t a4 = htonl(0x64400000u | (uint32_t)host);
		struct wg_peer *want = (host - 2) % 3 == 0 ? NULL : peers[host - 2];

		CHECK(wg_route_lookup(d, AF_INET, &a4) == want);
	}
	CHECK(wg_route_lookup(d, AF_INET, &unknown) == NULL);
	CHECK_STR(wg_peer_name(wg_device_peer(d, 0)), "p39"); /* p2, added first, went */
	def = wg_peer_add(
	        d, &(struct wg_peer_params){
	                   .name = "again", .public_key = pub, .allowed = all, .n_allowed = 2});
	CHECK(def != NULL);
	CHECK(wg_route_lookup(d, AF_INET, &unknown) == def);

	wg_device_free(d);
	close(sv[0]);
	close(sv[1]);
	return check_done("test_wg_route");
}
