/* The primitives of WireGuard's Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, on
 * OpenSSL 3's libcrypto. HChaCha20 (for the cookie's XChaCha20-Poly1305) is
 * written here since libcrypto does not export it. Nothing here allocates on
 * the data path: the AEAD keeps one cipher context per thread. */
#ifndef EGRESS_CRYPTO_H
#define EGRESS_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN    32 /* X25519 keys, ChaCha20 keys, BLAKE2s-256 digests */
#define CRYPTO_HASH_LEN   32
#define CRYPTO_TAG_LEN    16 /* Poly1305 */
#define CRYPTO_XNONCE_LEN 24

/* Fills buf with len bytes from the system CSPRNG. 0 or -EIO. */
int crypto_random(void *buf, size_t len);

/* A new private key: 32 random bytes, clamped as X25519 requires. 0 or -EIO. */
int crypto_x25519_genkey(uint8_t priv[CRYPTO_KEY_LEN]);
/* The public key of priv. 0 or -EIO. */
int crypto_x25519_pubkey(uint8_t pub[CRYPTO_KEY_LEN], const uint8_t priv[CRYPTO_KEY_LEN]);
/* out = X25519(priv, pub). -EINVAL when the result is all zeros (a low-order
 * point), which the handshake must reject; -EIO on a library failure. */
int crypto_x25519(uint8_t out[CRYPTO_KEY_LEN], const uint8_t priv[CRYPTO_KEY_LEN],
                  const uint8_t pub[CRYPTO_KEY_LEN]);

/* out = BLAKE2s-256(a || b); b may be NULL with blen 0. */
void crypto_blake2s(uint8_t out[CRYPTO_HASH_LEN], const void *a, size_t alen, const void *b,
                    size_t blen);
/* Keyed BLAKE2s with an outlen-byte digest (1..32), as WireGuard's MAC(key, in)
 * with outlen 16. keylen 1..32. 0 or -EINVAL/-EIO. */
int crypto_blake2s_mac(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen,
                       const void *in, size_t inlen);
/* out = HMAC-BLAKE2s(key, in), WireGuard's HMAC. */
void crypto_hmac_blake2s(uint8_t out[CRYPTO_HASH_LEN], const uint8_t *key, size_t keylen,
                         const void *in, size_t inlen);
/* WireGuard's KDF_n: t0 = HMAC(ck, in); t1 = HMAC(t0, 0x1);
 * t2 = HMAC(t0, t1 || 0x2); t3 = HMAC(t0, t2 || 0x3). t2 and t3 may be NULL
 * (KDF_1, KDF_2). t0 is wiped. */
void crypto_kdf(uint8_t t1[CRYPTO_HASH_LEN], uint8_t *t2, uint8_t *t3,
                const uint8_t ck[CRYPTO_HASH_LEN], const void *in, size_t inlen);

/* ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce: 32 zero bits then the
 * 64-bit counter little-endian. seal writes len + 16 bytes to dst; open reads
 * len bytes (ciphertext and tag, len >= 16) and writes len - 16. dst may equal
 * src. open returns 0 or -EBADMSG (forged, or wrong key), seal 0 or -EIO. */
int crypto_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
                     uint64_t nonce, const uint8_t key[CRYPTO_KEY_LEN]);
int crypto_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
                     uint64_t nonce, const uint8_t key[CRYPTO_KEY_LEN]);

/* The same AEAD with its key bound to a context once, for a session's data
 * messages: one context per keypair and direction, and each packet sets only
 * the nonce (no key schedule per call). No associated data. new: NULL on
 * ENOMEM or a cipher this OpenSSL lacks; free wipes the key and accepts
 * NULL. seal and open as crypto_aead_seal() and crypto_aead_open(), with
 * their results bit for bit. A context serves one thread at a time. */
struct crypto_aead_ctx;
struct crypto_aead_ctx *crypto_aead_ctx_new(const uint8_t key[CRYPTO_KEY_LEN], bool seal);
void crypto_aead_ctx_free(struct crypto_aead_ctx *c);
int crypto_aead_ctx_seal(struct crypto_aead_ctx *c, uint8_t *dst, const uint8_t *src, size_t len,
                         uint64_t nonce);
int crypto_aead_ctx_open(struct crypto_aead_ctx *c, uint8_t *dst, const uint8_t *src, size_t len,
                         uint64_t nonce);

/* HChaCha20 (draft-irtf-cfrg-xchacha section 2.2). */
void crypto_hchacha20(uint8_t out[CRYPTO_KEY_LEN], const uint8_t key[CRYPTO_KEY_LEN],
                      const uint8_t nonce[16]);
/* XChaCha20-Poly1305 with a 24-byte nonce; same conventions as the above. */
int crypto_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
                      const uint8_t nonce[CRYPTO_XNONCE_LEN], const uint8_t key[CRYPTO_KEY_LEN]);
int crypto_xaead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
                      const uint8_t nonce[CRYPTO_XNONCE_LEN], const uint8_t key[CRYPTO_KEY_LEN]);

/* Constant-time comparison; true when equal. */
bool crypto_equal(const void *a, const void *b, size_t len);
/* Wipes secrets so the compiler cannot drop the store. */
void crypto_wipe(void *p, size_t len);

#endif
