/* WireGuard's handshake, Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, and its
 * message formats, mac1/mac2 and cookie replies. Pure computation: no I/O, no
 * clocks but noise_tai64n(), no allocation. Integers in the messages are
 * little-endian on the wire; the structs hold them raw (use le32toh/htole32). */
#ifndef EGRESS_NOISE_H
#define EGRESS_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/crypto.h"

#define NOISE_MSG_INIT   1
#define NOISE_MSG_RESP   2
#define NOISE_MSG_COOKIE 3
#define NOISE_MSG_DATA   4

#define NOISE_MAC_LEN       16
#define NOISE_COOKIE_LEN    16
#define NOISE_TIMESTAMP_LEN 12

struct noise_msg_init {
	uint8_t type; /* NOISE_MSG_INIT */
	uint8_t reserved[3];
	uint32_t sender;
	uint8_t ephemeral[CRYPTO_KEY_LEN];
	uint8_t enc_static[CRYPTO_KEY_LEN + CRYPTO_TAG_LEN];
	uint8_t enc_timestamp[NOISE_TIMESTAMP_LEN + CRYPTO_TAG_LEN];
	uint8_t mac1[NOISE_MAC_LEN];
	uint8_t mac2[NOISE_MAC_LEN];
} __attribute__((packed)); /* 148 bytes */

struct noise_msg_resp {
	uint8_t type; /* NOISE_MSG_RESP */
	uint8_t reserved[3];
	uint32_t sender;
	uint32_t receiver;
	uint8_t ephemeral[CRYPTO_KEY_LEN];
	uint8_t enc_empty[CRYPTO_TAG_LEN];
	uint8_t mac1[NOISE_MAC_LEN];
	uint8_t mac2[NOISE_MAC_LEN];
} __attribute__((packed)); /* 92 bytes */

struct noise_msg_cookie {
	uint8_t type; /* NOISE_MSG_COOKIE */
	uint8_t reserved[3];
	uint32_t receiver;
	uint8_t nonce[CRYPTO_XNONCE_LEN];
	uint8_t enc_cookie[NOISE_COOKIE_LEN + CRYPTO_TAG_LEN];
} __attribute__((packed)); /* 64 bytes */

struct noise_msg_data {
	uint8_t type; /* NOISE_MSG_DATA */
	uint8_t reserved[3];
	uint32_t receiver;
	uint64_t counter;
	uint8_t payload[]; /* encrypted packet, padded to 16, then the tag */
} __attribute__((packed)); /* 16 bytes + payload */

#define NOISE_DATA_HDR_LEN 16
#define NOISE_DATA_MIN_LEN (NOISE_DATA_HDR_LEN + CRYPTO_TAG_LEN) /* a keepalive */

/* Our identity. */
struct noise_local {
	uint8_t priv[CRYPTO_KEY_LEN];
	uint8_t pub[CRYPTO_KEY_LEN];
	uint8_t mac1_key[CRYPTO_KEY_LEN];   /* HASH("mac1----" || pub): mac1 of messages to us */
	uint8_t cookie_key[CRYPTO_KEY_LEN]; /* HASH("cookie--" || pub): our cookie replies */
};
/* 0, or -EIO. */
int noise_local_init(struct noise_local *l, const uint8_t priv[CRYPTO_KEY_LEN]);

/* What we know of a peer from configuration. */
struct noise_remote {
	uint8_t pub[CRYPTO_KEY_LEN];
	uint8_t psk[CRYPTO_KEY_LEN];        /* zeros when there is none */
	uint8_t ss[CRYPTO_KEY_LEN];         /* DH(our private key, its public key) */
	uint8_t mac1_key[CRYPTO_KEY_LEN];   /* HASH("mac1----" || its pub): our messages to it */
	uint8_t cookie_key[CRYPTO_KEY_LEN]; /* HASH("cookie--" || its pub): its cookie replies */
	bool has_ss;                        /* ss is computed: no handshake goes without */
};
/* psk may be NULL. 0, or -EINVAL when the static-static DH is all zeros. */
int noise_remote_init(struct noise_remote *r, const struct noise_local *l,
                      const uint8_t pub[CRYPTO_KEY_LEN], const uint8_t *psk);
/* The same, but ss is left for noise_remote_ss(): a scalar multiplication
 * (0.2 ms with libcrypto here) is paid at a peer's first handshake, not for
 * each of a gateway's 60,000 clients when it starts. 0, or -EINVAL when pub
 * is of small order, the only keys whose DH is all zeros. */
int noise_remote_init_deferred(struct noise_remote *r, const uint8_t pub[CRYPTO_KEY_LEN],
                               const uint8_t *psk);
/* Computes ss unless it is there: 0, or -EINVAL (all zeros). */
int noise_remote_ss(struct noise_remote *r, const struct noise_local *l);

enum noise_hs_state {
	NOISE_HS_ZEROED,
	NOISE_HS_INIT_CREATED,  /* initiator: waiting for the response */
	NOISE_HS_INIT_CONSUMED, /* responder: may create the response */
	NOISE_HS_RESP_CREATED,  /* responder: may derive keys */
	NOISE_HS_RESP_CONSUMED, /* initiator: may derive keys */
};

/* One handshake in progress. Zero-initialise; every failure leaves it as it
 * was, so a forged message cannot disturb a handshake under way. */
struct noise_handshake {
	enum noise_hs_state state;
	uint8_t hash[CRYPTO_HASH_LEN];
	uint8_t ck[CRYPTO_HASH_LEN];
	uint8_t e_priv[CRYPTO_KEY_LEN];
	uint8_t remote_e[CRYPTO_KEY_LEN];
	uint32_t local_index;  /* host order */
	uint32_t remote_index; /* host order */
};

/* Keys of one session, from noise_derive_keys(). */
struct noise_keys {
	uint8_t send[CRYPTO_KEY_LEN];
	uint8_t recv[CRYPTO_KEY_LEN];
	uint32_t local_index;  /* host order: the receiver index peers put in messages to us */
	uint32_t remote_index; /* host order: what we put in messages to the peer */
	bool initiator;
};

/* Initiator. Fills m but its mac1/mac2 (see noise_macs_add()); hs becomes
 * INIT_CREATED with a new ephemeral key. 0, -EINVAL, or -EIO. */
int noise_init_create(struct noise_msg_init *m, struct noise_handshake *hs,
                      const struct noise_local *l, const struct noise_remote *r,
                      uint32_t local_index);

/* noise_init_create() with the ephemeral private key and the timestamp given
 * instead of fresh ones, so that a known-answer test can reproduce a message.
 * Only tests may call it: an ephemeral key used twice loses forward secrecy. */
int noise_init_create_with(struct noise_msg_init *m, struct noise_handshake *hs,
                           const struct noise_local *l, const struct noise_remote *r,
                           uint32_t local_index, const uint8_t e_priv[CRYPTO_KEY_LEN],
                           const uint8_t timestamp[NOISE_TIMESTAMP_LEN]);

/* Finds the noise_remote of a static public key; NULL when it is unknown.
 * One from noise_remote_init_deferred() must have its ss by then. */
typedef const struct noise_remote *(*noise_lookup_fn)(void *arg, const uint8_t pub[CRYPTO_KEY_LEN]);

/* Responder. Decrypts the initiator's static key, finds it with lookup, and
 * decrypts its timestamp; the caller must reject a timestamp not greater than
 * the greatest it has seen from that peer (memcmp order) before using hs.
 * On success hs is INIT_CONSUMED, *remote the peer. 0, -EBADMSG (does not
 * decrypt), -ENOENT (unknown key), or -EINVAL (bad DH). mac1 is not checked. */
int noise_init_consume(const struct noise_msg_init *m, const struct noise_local *l,
                       noise_lookup_fn lookup, void *arg, struct noise_handshake *hs,
                       const struct noise_remote **remote, uint8_t timestamp[NOISE_TIMESTAMP_LEN]);

/* Responder. hs must be INIT_CONSUMED; fills m but its MACs; hs becomes
 * RESP_CREATED. 0, -EINVAL (wrong state), or -EIO. */
int noise_resp_create(struct noise_msg_resp *m, struct noise_handshake *hs,
                      const struct noise_remote *r, uint32_t local_index);

/* noise_resp_create() with the ephemeral private key given; for tests only,
 * as noise_init_create_with(). */
int noise_resp_create_with(struct noise_msg_resp *m, struct noise_handshake *hs,
                           const struct noise_remote *r, uint32_t local_index,
                           const uint8_t e_priv[CRYPTO_KEY_LEN]);

/* Initiator. hs must be INIT_CREATED with local_index == the message's
 * receiver; on success it becomes RESP_CONSUMED. 0, -EINVAL (wrong state or
 * index), or -EBADMSG. mac1 is not checked. */
int noise_resp_consume(const struct noise_msg_resp *m, struct noise_handshake *hs,
                       const struct noise_local *l, const struct noise_remote *r);

/* Either side, once hs is RESP_CREATED or RESP_CONSUMED: the session keys.
 * hs is wiped back to ZEROED. 0 or -EINVAL (wrong state). */
int noise_derive_keys(struct noise_keys *k, struct noise_handshake *hs);

/* mac1 and mac2 of an initiation or response of len bytes. mac1 is keyed with
 * the receiver's mac1_key; mac2 with a cookie from its cookie reply, or zeros
 * when cookie is NULL. last_mac1 (may be NULL) receives mac1, which the sender
 * keeps to decrypt a cookie reply to this message. */
void noise_macs_add(void *msg, size_t len, const uint8_t mac1_key[CRYPTO_KEY_LEN],
                    const uint8_t *cookie, uint8_t *last_mac1);
bool noise_mac1_ok(const void *msg, size_t len, const uint8_t mac1_key[CRYPTO_KEY_LEN]);

/* The receiving side of cookies: a secret that changes every two minutes,
 * from which the cookie of a source address is derived. */
struct noise_cookie_checker {
	uint8_t secret[CRYPTO_HASH_LEN];
	uint64_t secret_born_ns; /* 0: none yet */
	uint8_t mac1_key[CRYPTO_KEY_LEN];
	uint8_t cookie_key[CRYPTO_KEY_LEN];
};
void noise_cookie_checker_init(struct noise_cookie_checker *c, const struct noise_local *l);
/* True when msg's mac2 is the cookie of src (the sender's IP address bytes
 * then its port, big-endian) under the current secret. now_ns is monotonic. */
bool noise_mac2_ok(struct noise_cookie_checker *c, const void *msg, size_t len, const void *src,
                   size_t srclen, uint64_t now_ns);
/* Builds the cookie reply to msg (an initiation or response whose mac1 was
 * valid) from src; receiver is the msg's sender index, raw as on the wire.
 * 0 or -EIO. */
int noise_cookie_reply_create(struct noise_msg_cookie *out, struct noise_cookie_checker *c,
                              const void *msg, size_t len, uint32_t receiver, const void *src,
                              size_t srclen, uint64_t now_ns);
/* The sending side: the cookie from a reply, given the mac1 of the message it
 * answers and the peer's cookie_key. 0 or -EBADMSG. */
int noise_cookie_reply_consume(const struct noise_msg_cookie *m,
                               const uint8_t remote_cookie_key[CRYPTO_KEY_LEN],
                               const uint8_t last_mac1[NOISE_MAC_LEN],
                               uint8_t cookie[NOISE_COOKIE_LEN]);

/* The TAI64N timestamp of now, its nanoseconds rounded down to a power of two
 * boundary (as WireGuard does) so the clock leaks less. */
void noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN]);

#endif
