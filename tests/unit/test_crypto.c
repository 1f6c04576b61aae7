/* The primitives against their published vectors: RFC 7748 (X25519), RFC 8439
 * (ChaCha20-Poly1305), RFC 7693 and the BLAKE2 KAT (BLAKE2s), and
 * draft-irtf-cfrg-xchacha-03 (HChaCha20, XChaCha20-Poly1305). Where no
 * published vector fits our API (16-byte keyed BLAKE2s, HMAC-BLAKE2s, the KDF)
 * the expected values come from an independent implementation (CPython's
 * hashlib/hmac). Also checks that the AEAD does not allocate per packet. */
#include "tests/unit/check.h"
#include "tunnel/crypto.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/crypto.h>

static int counting;
static long allocations;

static void *count_malloc(size_t n, const char *file, int line)
{
	if (counting)
		allocations++;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	if (counting)
		allocations++;
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	free(p);
}

static void test_x25519(void)
{
	uint8_t a[32], b[32], apub[32], bpub[32], want[32], out[32], s1[32], s2[32];
	uint8_t scalar[32], u[32], zero[32] = {0}, one[32] = {1};

	/* RFC 7748 section 5.2 */
	check_unhex(scalar, 32, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
	check_unhex(u, 32, "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
	check_unhex(want, 32, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
	CHECK_INT(crypto_x25519(out, scalar, u), 0);
	CHECK_MEM(out, want, 32);
	check_unhex(scalar, 32, "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
	check_unhex(u, 32, "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
	check_unhex(want, 32, "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
	CHECK_INT(crypto_x25519(out, scalar, u), 0);
	CHECK_MEM(out, want, 32);

	/* RFC 7748 section 6.1 */
	check_unhex(a, 32, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	check_unhex(b, 32, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
	CHECK_INT(crypto_x25519_pubkey(apub, a), 0);
	CHECK_INT(crypto_x25519_pubkey(bpub, b), 0);
	check_unhex(want, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	CHECK_MEM(apub, want, 32);
	check_unhex(want, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
	CHECK_MEM(bpub, want, 32);
	check_unhex(want, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	CHECK_INT(crypto_x25519(s1, a, bpub), 0);
	CHECK_INT(crypto_x25519(s2, b, apub), 0);
	CHECK_MEM(s1, want, 32);
	CHECK_MEM(s2, want, 32);

	/* Low-order points give an all-zero secret, which must be refused. */
	CHECK_INT(crypto_x25519(out, a, zero), -EINVAL);
	CHECK_INT(crypto_x25519(out, a, one), -EINVAL);
	check_unhex(u, 32, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
	CHECK_INT(crypto_x25519(out, a, u), -EINVAL);

	/* A new key is clamped and works. */
	CHECK_INT(crypto_x25519_genkey(a), 0);
	CHECK_INT(a[0] & 7, 0);
	CHECK_INT(a[31] & 0xc0, 0x40);
	CHECK_INT(crypto_x25519_pubkey(apub, a), 0);
	CHECK_INT(crypto_x25519(s1, a, bpub), 0);
	CHECK_INT(crypto_x25519(s2, b, apub), 0);
	CHECK_MEM(s1, s2, 32);
}

static void test_blake2s(void)
{
	uint8_t out[32], want[32], key[32], in[3];
	int i;

	/* RFC 7693 appendix B (as BLAKE2s-256) */
	check_unhex(want, 32, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
	crypto_blake2s(out, "abc", 3, NULL, 0);
	CHECK_MEM(out, want, 32);
	crypto_blake2s(out, "a", 1, "bc", 2); /* the two parts are concatenated */
	CHECK_MEM(out, want, 32);

	/* blake2s-kat.txt, keyed: key 00..1f, in = 00..(n-1) */
	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < 3; i++)
		in[i] = (uint8_t)i;
	check_unhex(want, 32, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49");
	CHECK_INT(crypto_blake2s_mac(out, 32, key, 32, in, 0), 0);
	CHECK_MEM(out, want, 32);
	check_unhex(want, 32, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1");
	CHECK_INT(crypto_blake2s_mac(out, 32, key, 32, in, 1), 0);
	CHECK_MEM(out, want, 32);
	check_unhex(want, 32, "6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803");
	CHECK_INT(crypto_blake2s_mac(out, 32, key, 32, in, 2), 0);
	CHECK_MEM(out, want, 32);

	/* 16-byte output, as WireGuard's mac1/mac2: the length is a BLAKE2
	 * parameter, so this is not a truncation of the 32-byte digest. */
	memset(out, 0xaa, sizeof(out));
	check_unhex(want, 16, "620aec2189126dfadcb054f2c489ea77");
	CHECK_INT(crypto_blake2s_mac(out, 16, key, 32, "The quick brown fox", 19), 0);
	CHECK_MEM(out, want, 16);
	CHECK_INT(out[16], 0xaa);
	check_unhex(want, 16, "f3d43a11e02ceac71be687650da4ce04");
	CHECK_INT(crypto_blake2s_mac(out, 16, (const uint8_t *)"kkkkkkk", 7, "abc", 3), 0);
	CHECK_MEM(out, want, 16);

	CHECK_INT(crypto_blake2s_mac(out, 0, key, 32, in, 1), -EINVAL);
	CHECK_INT(crypto_blake2s_mac(out, 33, key, 32, in, 1), -EINVAL);
	CHECK_INT(crypto_blake2s_mac(out, 16, key, 0, in, 1), -EINVAL);
	CHECK_INT(crypto_blake2s_mac(out, 16, key, 33, in, 1), -EINVAL);
}

static void test_hmac_kdf(void)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	uint8_t out[32], want[32], ck[32], t1[32], t2[32], t3[32], k1[32];
	uint8_t longkey[100];
	int i;

	check_unhex(want, 32, "f93215bb90d4af4c3061cd932fb169fb8bb8a91d0b4022baea1271e1323cd9a0");
	crypto_hmac_blake2s(out, (const uint8_t *)"key", 3, fox, strlen(fox));
	CHECK_MEM(out, want, 32);
	memset(longkey, 'K', sizeof(longkey)); /* longer than the block: hashed first */
	check_unhex(want, 32, "2425c3d757c30d387e3622be1e3a63867243e49a4d9c8e829bbf888f5a0e1e8d");
	crypto_hmac_blake2s(out, longkey, sizeof(longkey), "abc", 3);
	CHECK_MEM(out, want, 32);

	for (i = 0; i < 32; i++)
		ck[i] = (uint8_t)i;
	crypto_kdf(t1, t2, t3, ck, "input keying material", 21);
	check_unhex(want, 32, "d49ec1ae587b690ec2d4c38d1802dd052d26ab3338bc0b665629ece5dfc61ae1");
	CHECK_MEM(t1, want, 32);
	check_unhex(want, 32, "46d705e3e5cbc140bbfdf613d3733a0c3905bf21d5e1b34213c5a2a883b10553");
	CHECK_MEM(t2, want, 32);
	check_unhex(want, 32, "17e6966e3a04136a899866a1650d1a323fdcdcb19956e0e97c6be5291850b302");
	CHECK_MEM(t3, want, 32);
	/* KDF_1 and KDF_2 are prefixes of KDF_3. */
	crypto_kdf(k1, NULL, NULL, ck, "input keying material", 21);
	CHECK_MEM(k1, t1, 32);
	memset(t3, 0, sizeof(t3));
	crypto_kdf(k1, t3, NULL, ck, "input keying material", 21);
	CHECK_MEM(t3, t2, 32);
}

/* RFC 8439 appendix A.5: nonce 00000000 01020304 05060708 is our layout with
 * the counter 0x0807060504030201. */
static const char a5_key[] = "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0";
static const char a5_aad[] = "f33388860000000000004e91";
static const char a5_plain[] =
        "496e7465726e65742d4472616674732061726520647261667420646f63756d656e74732076616c6964"
        "20666f722061206d6178696d756d206f6620736978206d6f6e74687320616e64206d61792062652075"
        "7064617465642c207265706c616365642c206f72206f62736f6c65746564206279206f746865722064"
        "6f63756d656e747320617420616e792074696d652e20497420697320696e617070726f707269617465"
        "20746f2075736520496e7465726e65742d447261667473206173207265666572656e6365206d617465"
        "7269616c206f7220746f2063697465207468656d206f74686572207468616e206173202fe2809c776f"
        "726b20696e2070726f67726573732e2fe2809d";
static const char a5_sealed[] =
        "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea0"
        "9ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf332f830e710b97ce98c8a84abd0b948114ad"
        "176e008d33bd60f982b1ff37c8559797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f615"
        "7b53c867e4b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523eaf4534d7"
        "f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a0bb2316053fa76991955ebd631"
        "59434ecebb4e466dae5a1073a6727627097a1049e617d91d361094fa68f0ff77987130305beaba2eda"
        "04df997b714d6c6f2c29a6ad5cb4022b02709b"
        "eead9d67890cbb22392336fea1851f38";

static void test_aead(void)
{
	uint8_t key[32], aad[12], plain[512], sealed[512], out[512], buf[512];
	size_t plen, slen;
	uint64_t nonce = 0x0807060504030201ull;

	check_unhex(key, 32, a5_key);
	check_unhex(aad, 12, a5_aad);
	plen = check_unhex(plain, sizeof(plain), a5_plain);
	slen = check_unhex(sealed, sizeof(sealed), a5_sealed);
	CHECK_INT(plen, 265);
	CHECK_INT(slen, plen + CRYPTO_TAG_LEN);

	CHECK_INT(crypto_aead_seal(out, plain, plen, aad, 12, nonce, key), 0);
	CHECK_MEM(out, sealed, slen);
	CHECK_INT(crypto_aead_open(out, sealed, slen, aad, 12, nonce, key), 0);
	CHECK_MEM(out, plain, plen);

	/* In place, both ways. */
	memcpy(buf, plain, plen);
	CHECK_INT(crypto_aead_seal(buf, buf, plen, aad, 12, nonce, key), 0);
	CHECK_MEM(buf, sealed, slen);
	CHECK_INT(crypto_aead_open(buf, buf, slen, aad, 12, nonce, key), 0);
	CHECK_MEM(buf, plain, plen);

	/* Any flipped bit, a wrong nonce, key or AD, or a short input is refused. */
	memcpy(buf, sealed, slen);
	buf[0] ^= 1;
	CHECK_INT(crypto_aead_open(out, buf, slen, aad, 12, nonce, key), -EBADMSG);
	memcpy(buf, sealed, slen);
	buf[slen - 1] ^= 0x80;
	CHECK_INT(crypto_aead_open(out, buf, slen, aad, 12, nonce, key), -EBADMSG);
	CHECK_INT(crypto_aead_open(out, sealed, slen, aad, 12, nonce + 1, key), -EBADMSG);
	CHECK_INT(crypto_aead_open(out, sealed, slen, aad, 11, nonce, key), -EBADMSG);
	key[5] ^= 4;
	CHECK_INT(crypto_aead_open(out, sealed, slen, aad, 12, nonce, key), -EBADMSG);
	key[5] ^= 4;
	CHECK_INT(crypto_aead_open(out, sealed, 15, aad, 12, nonce, key), -EBADMSG);
	/* A good packet after the failures: the thread's context recovers. */
	CHECK_INT(crypto_aead_open(out, sealed, slen, aad, 12, nonce, key), 0);
	CHECK_MEM(out, plain, plen);

	/* WireGuard's keepalive: empty plaintext, no AD, tag only. */
	CHECK_INT(crypto_aead_seal(buf, NULL, 0, NULL, 0, 7, key), 0);
	CHECK_INT(crypto_aead_open(out, buf, CRYPTO_TAG_LEN, NULL, 0, 7, key), 0);
	buf[3] ^= 1;
	CHECK_INT(crypto_aead_open(out, buf, CRYPTO_TAG_LEN, NULL, 0, 7, key), -EBADMSG);

	/* Round trip with a high counter (all 8 nonce bytes in use). */
	CHECK_INT(crypto_aead_seal(buf, plain, 100, NULL, 0, UINT64_MAX - 1, key), 0);
	CHECK_INT(crypto_aead_open(out, buf, 116, NULL, 0, UINT64_MAX - 1, key), 0);
	CHECK_MEM(out, plain, 100);
	CHECK_INT(crypto_aead_open(out, buf, 116, NULL, 0, UINT64_MAX, key), -EBADMSG);
}

static void test_aead_no_alloc(void)
{
	uint8_t key[32] = {1}, ad[16] = {2}, buf[1500 + CRYPTO_TAG_LEN] = {0};
	int i, bad = 0;

	/* The first call per thread creates the context; later ones must not
	 * touch the allocator. */
	crypto_aead_seal(buf, buf, 1400, NULL, 0, 0, key);
	crypto_aead_open(buf, buf, 1400 + CRYPTO_TAG_LEN, NULL, 0, 0, key);
	allocations = 0;
	counting = 1;
	for (i = 0; i < 1000; i++) {
		bad |= crypto_aead_seal(buf, buf, 1400, ad, 16, (uint64_t)i, key);
		bad |= crypto_aead_open(buf, buf, 1400 + CRYPTO_TAG_LEN, ad, 16, (uint64_t)i, key);
	}
	counting = 0;
	CHECK_INT(bad, 0);
	CHECK_INT(allocations, 0);

	/* The counter itself works: X25519 does allocate (handshake only). */
	counting = 1;
	CHECK_INT(crypto_x25519_pubkey(buf, key), 0);
	counting = 0;
	CHECK(allocations > 0);
}

/* The keyed contexts give the one-shot functions' bytes, packet after
 * packet (each nonce restarts Poly1305), refuse what those refuse, recover
 * after a forgery, and allocate nothing per packet. */
static void test_aead_ctx(void)
{
	uint8_t key[32], plain[1400], a[1400 + CRYPTO_TAG_LEN], b[1400 + CRYPTO_TAG_LEN];
	struct crypto_aead_ctx *seal, *open;
	int bad = 0;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)i;
	seal = crypto_aead_ctx_new(key, true);
	open = crypto_aead_ctx_new(key, false);
	CHECK(seal && open);
	if (!seal || !open)
		goto out;
	for (uint64_t n = 0; n < 40; n++) {
		size_t len = (size_t)(n * 37) % sizeof(plain); /* 0 too: a keepalive */

		CHECK_INT(crypto_aead_seal(a, plain, len, NULL, 0, n, key), 0);
		CHECK_INT(crypto_aead_ctx_seal(seal, b, plain, len, n), 0);
		CHECK_MEM(b, a, len + CRYPTO_TAG_LEN);
		CHECK_INT(crypto_aead_ctx_open(open, b, b, len + CRYPTO_TAG_LEN, n), 0);
		CHECK_MEM(b, plain, len);
	}
	/* a flipped bit, a wrong nonce, a short input; then a good one again */
	CHECK_INT(crypto_aead_ctx_seal(seal, a, plain, 100, 5), 0);
	memcpy(b, a, 116);
	b[50] ^= 1;
	CHECK_INT(crypto_aead_ctx_open(open, b, b, 116, 5), -EBADMSG);
	CHECK_INT(crypto_aead_ctx_open(open, b, a, 116, 6), -EBADMSG);
	CHECK_INT(crypto_aead_ctx_open(open, b, a, 15, 5), -EBADMSG);
	CHECK_INT(crypto_aead_ctx_open(open, b, a, 116, 5), 0);
	CHECK_MEM(b, plain, 100);
	/* each direction only its own */
	CHECK_INT(crypto_aead_ctx_seal(open, b, plain, 10, 1), -EIO);
	CHECK_INT(crypto_aead_ctx_open(seal, b, a, 116, 5), -EBADMSG);

	allocations = 0;
	counting = 1;
	for (uint64_t n = 0; n < 1000; n++) {
		bad |= crypto_aead_ctx_seal(seal, a, plain, 1400, n);
		bad |= crypto_aead_ctx_open(open, a, a, 1400 + CRYPTO_TAG_LEN, n);
	}
	counting = 0;
	CHECK_INT(bad, 0);
	CHECK_INT(allocations, 0);
out:
	crypto_aead_ctx_free(seal);
	crypto_aead_ctx_free(open);
	crypto_aead_ctx_free(NULL);
}

static void *aead_worker(void *arg)
{
	uint8_t key[32], buf[256 + CRYPTO_TAG_LEN], plain[256];
	uintptr_t bad = 0;
	int i;

	memset(key, (int)(uintptr_t)arg, sizeof(key));
	for (i = 0; i < 2000; i++) {
		memset(plain, i, sizeof(plain));
		bad += crypto_aead_seal(buf, plain, sizeof(plain), NULL, 0, (uint64_t)i, key) != 0;
		bad += crypto_aead_open(buf, buf, sizeof(buf), NULL, 0, (uint64_t)i, key) != 0;
		bad += memcmp(buf, plain, sizeof(plain)) != 0;
	}
	return (void *)bad;
}

static void test_aead_threads(void)
{
	pthread_t t[4];
	void *bad;
	int i;

	for (i = 0; i < 4; i++)
		CHECK_INT(pthread_create(&t[i], NULL, aead_worker, (void *)(uintptr_t)(i + 1)), 0);
	for (i = 0; i < 4; i++) {
		CHECK_INT(pthread_join(t[i], &bad), 0);
		CHECK_INT((uintptr_t)bad, 0);
	}
}

static void test_xchacha(void)
{
	static const char plain_hex[] =
	        "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f662027"
	        "39393a204966204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020"
	        "666f7220746865206675747572652c2073756e73637265656e20776f756c642062652069742e";
	static const char sealed_hex[] =
	        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6"
	        "440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1"
	        "bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e"
	        "c0875924c1c7987947deafd8780acf49";
	uint8_t key[32], nonce[24], out[32], want[32], aad[12], plain[128], sealed[160], buf[160];
	size_t plen, slen;

	/* draft-irtf-cfrg-xchacha-03 section 2.2.1 */
	check_unhex(key, 32, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	check_unhex(nonce, 16, "000000090000004a0000000031415927");
	check_unhex(want, 32, "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc");
	crypto_hchacha20(out, key, nonce);
	CHECK_MEM(out, want, 32);

	/* draft-irtf-cfrg-xchacha-03 appendix A.3.1 */
	check_unhex(key, 32, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
	check_unhex(nonce, 24, "404142434445464748494a4b4c4d4e4f5051525354555657");
	check_unhex(aad, 12, "50515253c0c1c2c3c4c5c6c7");
	plen = check_unhex(plain, sizeof(plain), plain_hex);
	slen = check_unhex(sealed, sizeof(sealed), sealed_hex);
	CHECK_INT(plen, 114);
	CHECK_INT(slen, plen + CRYPTO_TAG_LEN);
	CHECK_INT(crypto_xaead_seal(buf, plain, plen, aad, 12, nonce, key), 0);
	CHECK_MEM(buf, sealed, slen);
	CHECK_INT(crypto_xaead_open(buf, buf, slen, aad, 12, nonce, key), 0);
	CHECK_MEM(buf, plain, plen);
	sealed[20] ^= 2;
	CHECK_INT(crypto_xaead_open(buf, sealed, slen, aad, 12, nonce, key), -EBADMSG);
	sealed[20] ^= 2;
	nonce[3] ^= 1; /* the HChaCha20 half of the nonce matters too */
	CHECK_INT(crypto_xaead_open(buf, sealed, slen, aad, 12, nonce, key), -EBADMSG);
}

static void test_misc(void)
{
	uint8_t a[64] = {0}, b[64] = {0};

	CHECK(crypto_equal(a, b, sizeof(a)));
	b[63] = 1;
	CHECK(!crypto_equal(a, b, sizeof(a)));
	CHECK(crypto_equal(a, b, 63));
	CHECK_INT(crypto_random(a, sizeof(a)), 0);
	CHECK_INT(crypto_random(b, sizeof(b)), 0);
	CHECK(!crypto_equal(a, b, sizeof(a)));
	crypto_wipe(a, sizeof(a));
	memset(b, 0, sizeof(b));
	CHECK_MEM(a, b, sizeof(a));
}

int main(void)
{
	/* Before libcrypto's first allocation, or it refuses. */
	CHECK(CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free));

	test_x25519();
	test_blake2s();
	test_hmac_kdf();
	test_aead();
	test_aead_no_alloc();
	test_aead_ctx();
	test_aead_threads();
	test_xchacha();
	test_misc();
	return check_done("test_crypto");
}
