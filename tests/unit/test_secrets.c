/* Nothing secret is freed without being wiped first. This program is linked
 * with -Wl,--wrap=free,--wrap=realloc (tests/CMakeLists.txt), so every free()
 * and realloc() in its own code and in the egress libraries goes through
 * inspect(), and OpenSSL's allocations are routed there too
 * (CRYPTO_set_mem_functions). inspect() looks at each block about to be
 * given back, as far as malloc_usable_size() reaches, for any of the secrets
 * the test knows: private keys, preshared keys, static-static DH results,
 * session keys and a marker inside staged plaintext packets. A block that
 * still holds one is a failure.
 *
 * Under AddressSanitizer the hook works the same: --wrap renames our calls,
 * and __real_free is then ASan's free, which also answers
 * malloc_usable_size() (with the size asked for). A first check frees an
 * unwiped secret on purpose and expects the hook to see it, so a build where
 * the hook is not in place fails instead of passing quietly.
 *
 * One unwiped block can be reported again by a later step: malloc hands its
 * memory out again with the secret still in it. The first report is the one
 * that names the culprit.
 *
 * What it cannot see: frees inside other shared libraries (libyaml holds only
 * the configuration's text; glibc's stdio holds no keys: key files are read
 * with read(2) into a wiped stack buffer). */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "edge/config.h"
#include "gateway/config.h"
#include "tunnel/crypto.h"
#include "tunnel/key.h"
#include "tunnel/log.h"
#include "tunnel/uapi.h"
#include "tunnel/wg_priv.h"
#include "wgtest.h"

#define MAX_SECRETS 20

static struct {
	const char *name;
	uint8_t bytes[32];
} secrets[MAX_SECRETS];
static size_t n_secrets;
static unsigned long inspected, unwiped;
static const char *last_unwiped;

void __real_free(void *p);
void *__real_realloc(void *p, size_t size);
void __wrap_free(void *p);
void *__wrap_realloc(void *p, size_t size);

/* Called with every block about to be freed; it must not allocate. */
static void inspect(void *p)
{
	size_t len;

	if (!p)
		return;
	len = malloc_usable_size(p);
	inspected++;
	for (size_t i = 0; i < n_secrets; i++) {
		if (memmem(p, len, secrets[i].bytes, sizeof(secrets[i].bytes))) {
			unwiped++;
			last_unwiped = secrets[i].name;
		}
	}
}

void __wrap_free(void *p)
{
	inspect(p);
	__real_free(p);
}

/* A realloc may move the block and give the old one back unwiped: a secret
 * must never be in a block that is realloc'd. */
void *__wrap_realloc(void *p, size_t size)
{
	inspect(p);
	return __real_realloc(p, size);
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
	(void)file, (void)line;
	return malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file, (void)line;
	return __wrap_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file, (void)line;
	__wrap_free(p);
}

static const uint8_t *secret(const char *name, const uint8_t bytes[32])
{
	if (n_secrets == MAX_SECRETS) {
		fprintf(stderr, "test_secrets: more than %d secrets\n", MAX_SECRETS);
		exit(1);
	}
	secrets[n_secrets].name = name;
	memcpy(secrets[n_secrets].bytes, bytes, 32);
	return secrets[n_secrets++].bytes;
}

static const uint8_t *random_secret(const char *name)
{
	uint8_t b[32];

	CHECK_INT(crypto_random(b, sizeof(b)), 0);
	return secret(name, b);
}

/* No freed block held a secret since the last call; where names the step. */
static void check_nothing_unwiped(const char *where)
{
	if (unwiped)
		fprintf(stderr, "%s: %lu freed block(s) held a secret, the last: %s\n", where,
		        unwiped, last_unwiped);
	CHECK_INT(unwiped, 0);
	unwiped = 0;
}

/* The hook is in place: a secret freed unwiped is seen, a wiped one is not.
 * Through volatile pointers, or the compiler drops the malloc/free pair. */
static void test_hook(void)
{
	void *(*volatile alloc)(size_t) = malloc;
	void (*volatile release)(void *) = free;
	const uint8_t *s = random_secret("the hook's own test");
	unsigned long before = inspected;
	uint8_t *b = alloc(100);

	memcpy(b + 50, s, 32);
	release(b);
	CHECK(inspected > before);
	CHECK_INT(unwiped, 1);
	unwiped = 0;
	b = alloc(100);
	memcpy(b + 50, s, 32);
	crypto_wipe(b, 100);
	release(b);
	CHECK_INT(unwiped, 0);
}

/* A device with a peer that has a PSK, a second peer refused after its
 * remote state was computed, packets staged and a session made; then the
 * device is freed. */
static void test_device(void)
{
	uint8_t priv[32], pub[32], ss[32], psk1_b[32], psk2_b[32], pub2[32], priv2[32];
	uint8_t pkt[100];
	const uint8_t *marker, *psk1, *psk2;
	struct wgtest_peer edge;
	struct noise_keys keys;
	struct wg_device *d;
	struct wg_peer *p;
	int tun[2];

	CHECK_INT(crypto_x25519_genkey(priv), 0);
	CHECK_INT(crypto_x25519_pubkey(pub, priv), 0);
	secret("the device's private key", priv);
	CHECK_INT(crypto_random(psk1_b, 32), 0);
	CHECK_INT(crypto_random(psk2_b, 32), 0);
	psk1 = secret("the first peer's PSK", psk1_b);
	psk2 = secret("the refused peer's PSK", psk2_b);
	marker = random_secret("a staged packet's plaintext");
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, tun) == 0);
	if (wgtest_peer_init(&edge, pub, psk1) < 0)
		return;
	CHECK_INT(crypto_x25519(ss, priv, edge.pub), 0);
	secret("the static-static DH with the first peer", ss);

	d = wg_device_new(
	        &(struct wg_device_params){.private_key = priv, .tun_fd = tun[0], .mtu = 1420});
	crypto_wipe(priv, sizeof(priv)); /* the device's copy is the one under test */
	CHECK(d != NULL);
	if (!d)
		return;
	struct prefix allowed = {.family = AF_INET, .v4.s_addr = htonl(0x64400002), .len = 32};
	p = wg_peer_add(d, &(struct wg_peer_params){.name = "edge",
	                                            .public_key = edge.pub,
	                                            .psk = psk1,
	                                            .allowed = &allowed,
	                                            .n_allowed = 1});
	CHECK(p != NULL);
	if (!p)
		goto out;

	/* Another key with the same allowed address: refused with EEXIST after
	 * its PSK was copied and its DH computed. */
	CHECK_INT(crypto_x25519_genkey(priv2), 0);
	CHECK_INT(crypto_x25519_pubkey(pub2, priv2), 0);
	CHECK_INT(crypto_x25519(ss, d->local.priv, pub2), 0);
	secret("the static-static DH with the refused peer", ss);
	errno = 0;
	CHECK(wg_peer_add(d, &(struct wg_peer_params){.name = "twin",
	                                              .public_key = pub2,
	                                              .psk = psk2,
	                                              .allowed = &allowed,
	                                              .n_allowed = 1}) == NULL);
	CHECK_INT(errno, EEXIST);
	check_nothing_unwiped("wg_peer_add's failure");

	/* Packets for the peer before any session: staged. */
	wgtest_ip_packet(pkt, 0x64400001);
	memcpy(pkt + 40, marker, 32);
	for (int i = 0; i < 3; i++)
		session_stage(p, pkt, sizeof(pkt), wgtest_now);
	CHECK_INT(p->n_staged, 3);

	/* A session, so keypairs are freed too. */
	CHECK_INT(wgtest_handshake(d, &edge, 0x1234, &keys), 0);
	secret("a session's sending key", keys.send);
	secret("a session's receiving key", keys.recv);

	/* Data under it, with a marker inside: decrypted in the device's batch
	 * buffers and written to the TUN. */
	uint8_t msg[256], got[256];
	const uint8_t *data_marker = random_secret("a data packet's plaintext");
	wgtest_ip_packet(pkt, 0x64400002);
	pkt[3] = sizeof(pkt);
	memcpy(pkt + 40, data_marker, 32);
	size_t mlen = wgtest_data_message(msg, &keys, 0, pkt, sizeof(pkt));
	wgtest_input(d, msg, mlen, (struct sockaddr *)&edge.from, sizeof(edge.from));
	CHECK_INT(wgtest_recv(tun[1], got, sizeof(got)), sizeof(pkt));
	crypto_wipe(got, sizeof(got));
	crypto_wipe(pkt, sizeof(pkt));

	/* wg show's reply, with the private key and the PSK in hex (the first
	 * 32 digits of each are the secrets looked for). */
	char hex[2][65], *reply = NULL;
	size_t rlen = 0;
	for (int i = 0; i < 32; i++) {
		sprintf(hex[0] + 2 * i, "%02x", d->local.priv[i]);
		sprintf(hex[1] + 2 * i, "%02x", psk1[i]);
	}
	secret("the private key in hex, in wg show's reply", (const uint8_t *)hex[0]);
	secret("the PSK in hex, in wg show's reply", (const uint8_t *)hex[1]);
	crypto_wipe(hex, sizeof(hex));
	CHECK_INT(uapi_render(d, &reply, &rlen), 0);
	uapi_reply_free(reply, rlen);
	check_nothing_unwiped("uapi_reply_free");
out:
	wg_device_free(d);
	check_nothing_unwiped("wg_device_free");
	wgtest_peer_close(&edge);
	close(tun[0]);
	close(tun[1]);
}

/* Writes key as a 0600 key file dir/name. */
static void write_key_file(const char *dir, const char *name, const uint8_t key[32])
{
	char path[256], b64[KEY_B64_LEN + 1];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	key_to_base64(b64, key);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fprintf(f, "%s\n", b64);
	fclose(f);
	CHECK_INT(chmod(path, 0600), 0);
	crypto_wipe(b64, sizeof(b64));
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* No copy of a secret is left in the n bytes at p. */
static bool holds_no_secret(const void *p, size_t n)
{
	for (size_t i = 0; i < n_secrets; i++)
		if (memmem(p, n, secrets[i].bytes, 32))
			return false;
	return true;
}

/* Configurations loaded from YAML with key files: as the daemons use them
 * (a device made from them, then their keys wiped), and one that fails
 * after a PSK was read. */
static void test_configs(void)
{
	char dir[] = "/tmp/test_secrets.XXXXXX", path[256], yaml[1024], err[512] = "";
	uint8_t priv[32], psk[32], cpub[32], cpriv[32], ss[32], epriv[32], gpub[32];
	char cpub_b64[KEY_B64_LEN + 1], gpub_b64[KEY_B64_LEN + 1];
	struct gw_config *g = NULL;
	struct edge_config *e = NULL;
	struct wg_device *d;
	int tun[2];

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	CHECK_INT(crypto_x25519_genkey(priv), 0);
	CHECK_INT(crypto_x25519_pubkey(gpub, priv), 0);
	CHECK_INT(crypto_x25519_genkey(cpriv), 0);
	CHECK_INT(crypto_x25519_pubkey(cpub, cpriv), 0);
	CHECK_INT(crypto_x25519_genkey(epriv), 0);
	CHECK_INT(crypto_random(psk, sizeof(psk)), 0);
	CHECK_INT(crypto_x25519(ss, priv, cpub), 0);
	write_key_file(dir, "gateway.key", priv);
	write_key_file(dir, "edge.key", epriv);
	write_key_file(dir, "alice.psk", psk);
	secret("the gateway's private key", priv);
	secret("the edge's private key", epriv);
	secret("the gateway's PSK with alice", psk);
	secret("the static-static DH with alice", ss);
	crypto_wipe(priv, sizeof(priv));
	crypto_wipe(epriv, sizeof(epriv));
	crypto_wipe(psk, sizeof(psk));
	key_to_base64(cpub_b64, cpub);
	key_to_base64(gpub_b64, gpub);

	/* As gatewayd: load, make the device and its client, wipe the config's
	 * keys, and free both at the end. */
	snprintf(yaml, sizeof(yaml),
	         "private_key_file: gateway.key\naddress: 100.64.0.1/24\nclients:\n"
	         "  - name: alice\n    public_key: %s\n    address: 100.64.0.2\n"
	         "    preshared_key_file: alice.psk\n",
	         cpub_b64);
	write_text(dir, "gateway.yaml", yaml);
	snprintf(path, sizeof(path), "%s/gateway.yaml", dir);
	CHECK_INT(gw_config_load(path, &g, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, tun) == 0);
	if (g && g->n_clients == 1) {
		CHECK(!holds_no_secret(g, sizeof(*g))); /* the key is there to begin with */
		d = wg_device_new(&(struct wg_device_params){
		        .private_key = g->priv, .tun_fd = tun[0], .mtu = g->mtu});
		CHECK(d != NULL);
		struct prefix allowed = g->clients[0].addr;
		CHECK(d && wg_peer_add(d, &(struct wg_peer_params){.name = g->clients[0].name,
		                                                   .public_key = g->clients[0].pub,
		                                                   .psk = g->clients[0].psk,
		                                                   .allowed = &allowed,
		                                                   .n_allowed = 1}) != NULL);
		gw_config_wipe_keys(g);
		CHECK(holds_no_secret(g, sizeof(*g)));
		CHECK(holds_no_secret(g->clients, sizeof(*g->clients)));
		CHECK(g->clients[0].has_psk); /* the rest stays usable */
		CHECK_STR(g->clients[0].name, "alice");
		wg_device_free(d);
	}
	gw_config_free(g);
	check_nothing_unwiped("gateway config and device");
	/* As gatewayd -n: loaded and freed, nothing handed over. */
	CHECK_INT(gw_config_load(path, &g, err, sizeof(err)), 0);
	gw_config_free(g);
	check_nothing_unwiped("a gateway config freed with its keys");

	/* A failure after alice's PSK was read: the half-made config is freed. */
	snprintf(yaml, sizeof(yaml),
	         "private_key_file: gateway.key\naddress: 100.64.0.1/24\nclients:\n"
	         "  - name: alice\n    public_key: %s\n    address: 100.64.0.2\n"
	         "    preshared_key_file: alice.psk\n"
	         "  - name: alice\n    public_key: %s\n    address: 100.64.0.3\n"
	         "    preshared_key_file: alice.psk\n",
	         cpub_b64, gpub_b64);
	write_text(dir, "bad.yaml", yaml);
	snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	g = (struct gw_config *)1;
	CHECK_INT(gw_config_load(path, &g, err, sizeof(err)), -EINVAL);
	CHECK(g == NULL);
	check_nothing_unwiped("a gateway config that failed half-way");

	/* As edged. */
	snprintf(yaml, sizeof(yaml),
	         "private_key_file: edge.key\naddress: 100.64.0.2/32\ngateway:\n"
	         "  endpoint: 198.51.100.1:51820\n  public_key: %s\n"
	         "  preshared_key_file: alice.psk\n",
	         gpub_b64);
	write_text(dir, "edge.yaml", yaml);
	snprintf(path, sizeof(path), "%s/edge.yaml", dir);
	CHECK_INT(edge_config_load(path, &e, err, sizeof(err)), 0);
	edge_config_free(e); /* as edged -n */
	check_nothing_unwiped("an edge config freed with its keys");
	CHECK_INT(edge_config_load(path, &e, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	if (e) {
		CHECK(!holds_no_secret(e, sizeof(*e)));
		edge_config_wipe_keys(e);
		CHECK(holds_no_secret(e, sizeof(*e)));
		CHECK(e->gws[0].has_psk);
	}
	edge_config_free(e);
	check_nothing_unwiped("edge config");

	close(tun[0]);
	close(tun[1]);
	for (size_t i = 0; i < 6; i++) {
		static const char *const files[] = {"gateway.key",  "edge.key", "alice.psk",
		                                    "gateway.yaml", "bad.yaml", "edge.yaml"};
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	/* Before OpenSSL allocates anything, or it refuses. */
	CHECK(CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) == 1);
	log_set_level(LOG_LVL_ERR);
	test_hook();
	test_device();
	test_configs();
	printf("%lu freed blocks inspected\n", inspected);
	return check_done("test_secrets");
}
