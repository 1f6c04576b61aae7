/* The device with many peers, timed: what scripts/bench.sh --clients prints.
 * Not a test (nothing here asserts on time); it needs no root.
 *
 *   bench_peers clients N [V6]   N gateway.yaml client entries on stdout: real
 *                                X25519 public keys, 100.64.0.10 upwards in a
 *                                /16 (and fd00:64::a upwards when V6 is 1)
 *   bench_peers peers N          a device with N peers (two addresses each):
 *                                the time to add them all, then one more peer
 *                                added and removed, one address looked up,
 *                                and a tick, each the median of many */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tunnel/crypto.h"
#include "tunnel/key.h"
#include "tunnel/log.h"
#include "tunnel/prefix.h"
#include "tunnel/wg_priv.h"

#define ROUNDS 101

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Client i's addresses: host part i + 10 of 100.64.0.0/16 and fd00:64::/64,
 * clear of the test topology's edges (hosts 2 and 3). */
static void client_addrs(size_t i, struct prefix a[2])
{
	uint32_t host = (uint32_t)i + 10;

	memset(a, 0, 2 * sizeof(*a));
	a[0].family = AF_INET;
	a[0].len = 32;
	a[0].v4.s_addr = htonl(0x64400000u | host);
	a[1].family = AF_INET6;
	a[1].len = 128;
	inet_pton(AF_INET6, "fd00:64::", &a[1].v6);
	a[1].v6.s6_addr[12] = (uint8_t)(host >> 24);
	a[1].v6.s6_addr[13] = (uint8_t)(host >> 16);
	a[1].v6.s6_addr[14] = (uint8_t)(host >> 8);
	a[1].v6.s6_addr[15] = (uint8_t)host;
}

static int print_clients(size_t n, bool v6)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t priv[32], pub[32];
		char b64[KEY_B64_LEN + 1], a4[PREFIX_STRLEN], a6[PREFIX_STRLEN];
		struct prefix a[2];

		if (crypto_x25519_genkey(priv) < 0 || crypto_x25519_pubkey(pub, priv) < 0)
			return 1;
		key_to_base64(b64, pub);
		client_addrs(i, a);
		printf("  - name: c%zu\n    public_key: \"%s\"\n    address: %s\n", i + 10, b64,
		       prefix_format_addr(&a[0], a4, sizeof(a4)));
		if (v6)
			printf("    address6: %s\n", prefix_format_addr(&a[1], a6, sizeof(a6)));
	}
	return fflush(stdout) ? 1 : 0;
}

/* Public keys without their private keys are all the device needs of a
 * client that never connects; random ones cost no scalar multiplication. */
static struct wg_peer *add_peer(struct wg_device *d, size_t i)
{
	uint8_t pub[32];
	struct prefix a[2];
	char name[16];

	crypto_random(pub, sizeof(pub));
	pub[31] &= 0x7f;
	client_addrs(i, a);
	snprintf(name, sizeof(name), "c%zu", i + 10);
	return wg_peer_add(d,
	                   &(struct wg_peer_params){
	                           .name = name, .public_key = pub, .allowed = a, .n_allowed = 2});
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static long rss_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int bench_peers(size_t n)
{
	double t_add[ROUNDS], t_remove[ROUNDS], t_lookup[ROUNDS], t_tick[ROUNDS], t0, t_all;
	uint8_t priv[32];
	struct wg_device *d;
	long rss0, rss1;
	int sv[2];

	log_set_level(LOG_LVL_ERR);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0 || crypto_x25519_genkey(priv) < 0)
		return 1;
	d = wg_device_new(
	        &(struct wg_device_params){.private_key = priv, .tun_fd = sv[0], .mtu = 1420});
	if (!d) {
		perror("bench_peers: wg_device_new");
		return 1;
	}
	rss0 = rss_kib();
	t0 = seconds();
	for (size_t i = 0; i < n; i++) {
		if (!add_peer(d, i)) {
			perror("bench_peers: wg_peer_add");
			return 1;
		}
	}
	t_all = seconds() - t0;
	rss1 = rss_kib();
	for (int r = 0; r < ROUNDS; r++) {
		struct prefix a[2];
		struct wg_peer *p;

		t0 = seconds();
		p = add_peer(d, n + (size_t)r);
		t_add[r] = seconds() - t0;
		if (!p) {
			perror("bench_peers: wg_peer_add");
			return 1;
		}
		t0 = seconds();
		wg_peer_remove(p);
		t_remove[r] = seconds() - t0;

		client_addrs((size_t)r * 7919 % n, a);
		t0 = seconds();
		for (int k = 0; k < 1000; k++)
			if (!wg_route_lookup(d, AF_INET, &a[0].v4))
				return 1;
		t_lookup[r] = (seconds() - t0) / 1000;
		t0 = seconds();
		wg_device_tick(d, wg_now());
		t_tick[r] = seconds() - t0;
	}
	printf("peers %zu\n", n);
	printf("add_all_s %.3f\n", t_all);
	printf("add_one_ms %.4f\n", median(t_add, ROUNDS) * 1e3);
	printf("remove_one_ms %.4f\n", median(t_remove, ROUNDS) * 1e3);
	printf("lookup_ns %.0f\n", median(t_lookup, ROUNDS) * 1e9);
	printf("tick_ms %.4f\n", median(t_tick, ROUNDS) * 1e3);
	printf("rss_kib_per_peer %.2f\n", (double)(rss1 - rss0) / (double)n);
	wg_device_free(d);
	close(sv[0]);
	close(sv[1]);
	return 0;
}

int main(int argc, char **argv)
{
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;

	if (argc >= 3 && !strcmp(argv[1], "clients") && n)
		return print_clients(n, argc > 3 && !strcmp(argv[3], "1"));
	if (argc == 3 && !strcmp(argv[1], "peers") && n)
		return bench_peers(n);
	fprintf(stderr, "usage: bench_peers clients N [V6] | peers N\n");
	return 2;
}
