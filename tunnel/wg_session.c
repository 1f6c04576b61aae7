/* Handshakes, sessions and the protocol's timers for one peer, following the
 * WireGuard paper (section 6) and the behaviour of the Linux implementation. */
#include "tunnel/wg_priv.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tunnel/log.h"

static uint64_t jitter_ns(void)
{
	/* Handshake retries are spread by up to a third of a second so that
	 * two peers retrying together do not stay in step. */
	uint32_t r = 0;

	crypto_random(&r, sizeof(r));
	return (uint64_t)(r % 334) * 1000000ULL;
}

static void keypair_free(struct wg_device *d, struct keypair *kp)
{
	if (!kp)
		return;
	wg_index_del(d, kp->keys.local_index);
	crypto_aead_ctx_free(kp->seal);
	crypto_aead_ctx_free(kp->open);
	crypto_wipe(kp, sizeof(*kp));
	free(kp);
}

/* kp's AEAD contexts for its keys: 0, or -1 (ENOMEM; none left). */
static int keypair_bind(struct keypair *kp)
{
	kp->seal = crypto_aead_ctx_new(kp->keys.send, true);
	kp->open = crypto_aead_ctx_new(kp->keys.recv, false);
	if (kp->seal && kp->open)
		return 0;
	crypto_aead_ctx_free(kp->seal);
	crypto_aead_ctx_free(kp->open);
	kp->seal = kp->open = NULL;
	return -1;
}

static void handshake_clear(struct wg_peer *p)
{
	/* Only these states hold an index of ours in the map; a consumed
	 * initiation (INIT_CONSUMED) has none yet. */
	if (p->hs.state == NOISE_HS_INIT_CREATED || p->hs.state == NOISE_HS_RESP_CREATED ||
	    p->hs.state == NOISE_HS_RESP_CONSUMED)
		wg_index_del(p->dev, p->hs.local_index);
	crypto_wipe(&p->hs, sizeof(p->hs));
}

/* Same address and port; flow labels and the like do not count. */
static bool same_endpoint(const struct sockaddr_storage *a, socklen_t alen,
                          const struct sockaddr_storage *b, socklen_t blen)
{
	if (alen != blen || a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* Roaming: the peer is where its last authenticated packet came from, and
 * our side of that packet's path goes with it (sticky source): replies
 * leave from the address it reached, as the kernel's endpoint.src4/src6 do.
 * A new local address alone is no move worth a log line. */
static void set_endpoint(struct wg_peer *p, const struct sockaddr_storage *src, socklen_t len,
                         const struct wg_src *local, uint64_t now)
{
	unsigned long suppressed;

	if (!wg_src_equal(&p->ep_src, local))
		p->ep_src = *local;
	if (same_endpoint(&p->ep, p->ep_len, src, len))
		return;
	/* A peer behind a NAT that rebinds often, or one that roams on purpose
	 * every packet, moves as often as it likes: the log hears of it at most
	 * once per interval. */
	if (p->ep_len && log_ratelimit(&p->roam_log, now, LOG_INTERVAL_NS, &suppressed))
		log_info("peer %s: endpoint moved (%lu more moves not logged)", p->name,
		         suppressed);
	memcpy(&p->ep, src, len);
	p->ep_len = len;
	p->stats.has_endpoint = true;
	memcpy(&p->stats.endpoint, src, len);
}

/* The bytes a cookie is bound to: the source IP address then its port. */
static size_t cookie_source(const struct sockaddr_storage *src, uint8_t out[18])
{
	if (src->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)src;
		memcpy(out, &s->sin_addr, 4);
		memcpy(out + 4, &s->sin_port, 2);
		return 6;
	}
	const struct sockaddr_in6 *s6 = (const void *)src;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memcpy(out, &s6->sin6_addr.s6_addr[12], 4);
		memcpy(out + 4, &s6->sin6_port, 2);
		return 6;
	}
	memcpy(out, &s6->sin6_addr, 16);
	memcpy(out + 16, &s6->sin6_port, 2);
	return 18;
}

/* Under load (see note_load() in wg.c), a handshake message without a valid
 * mac2 is answered with a cookie reply and costs no Diffie-Hellman. */
static bool under_load(struct wg_device *d, uint64_t now)
{
	return now < d->under_load_until_ns;
}

/* A token bucket per source address (its IP, not its port, so one host
 * cannot escape by changing ports). Different addresses may share a bucket:
 * that only makes the limit stricter for them. */
static bool ratelimit_allow(struct wg_device *d, const uint8_t *source, size_t slen, uint64_t now)
{
	const uint64_t cost = NSEC / RATELIMIT_PER_SECOND;
	const uint64_t max = cost * RATELIMIT_BURST;
	uint8_t h[8];
	uint64_t idx, tokens;

	/* IPv4: the address; IPv6: its /64, as one host usually holds a /64. */
	crypto_blake2s_mac(h, sizeof(h), d->ratelimit_key, sizeof(d->ratelimit_key), source,
	                   slen == 6 ? 4 : 8);
	memcpy(&idx, h, sizeof(idx));
	struct ratelimit *r = &d->ratelimit[idx % RATELIMIT_BUCKETS];
	tokens = r->last_ns ? r->tokens * (uint64_t)1000 + (now - r->last_ns) : max;
	if (tokens > max)
		tokens = max;
	r->last_ns = now;
	if (tokens < cost) {
		r->tokens = (uint32_t)(tokens / 1000);
		return false;
	}
	r->tokens = (uint32_t)((tokens - cost) / 1000);
	return true;
}

/* The common gate of initiations and responses: mac1, then under load mac2. */
static bool handshake_admitted(struct wg_device *d, const void *msg, size_t len, uint32_t sender,
                               const struct sockaddr_storage *src, socklen_t srclen,
                               const struct wg_src *local, uint64_t now)
{
	struct noise_msg_cookie reply;
	uint8_t source[18];
	size_t slen;

	if (!noise_mac1_ok(msg, len, d->local.mac1_key)) {
		d->stats.invalid++;
		return false;
	}
	d->stats.handshake_rx++;
	if (!under_load(d, now))
		return true;
	slen = cookie_source(src, source);
	if (noise_mac2_ok(&d->cookies, msg, len, source, slen, now))
		return ratelimit_allow(d, source, slen, now);
	if (noise_cookie_reply_create(&reply, &d->cookies, msg, len, sender, source, slen, now) ==
	    0) {
		/* From the address the message came to: a cookie reply answers
		 * that message, not a peer's endpoint (the sender may be none). */
		struct wg_src from = *local;
		wg_send_to(d, src, srclen, &from, &reply, sizeof(reply));
		d->stats.cookie_replies++;
	}
	return false;
}

static struct wg_peer *peer_of_remote(const struct noise_remote *r)
{
	return (struct wg_peer *)((const char *)r - offsetof(struct wg_peer, remote));
}

static const struct noise_remote *lookup_remote(void *arg, const uint8_t pub[CRYPTO_KEY_LEN])
{
	struct wg_device *d = arg;
	struct wg_peer *p = keymap_find(&d->by_key, pub);

	/* Its static-static DH, once: what wg_peer_add() left for now. */
	if (!p || noise_remote_ss(&p->remote, &d->local) < 0)
		return NULL;
	return &p->remote;
}

/* A staged packet's slot: its length and the packet, kept 8-byte aligned. */
static size_t staged_slot(const struct wg_device *d)
{
	return (sizeof(struct staged) + d->mtu + 7) & ~(size_t)7;
}

static void send_staged(struct wg_peer *p, struct keypair *kp, uint64_t now)
{
	size_t slot = staged_slot(p->dev);

	for (unsigned i = 0; i < p->n_staged; i++) {
		struct staged *s = (void *)(p->staged + i * slot);
		wg_send_one(p, kp, s->data, s->len, now);
	}
	p->n_staged = 0;
}

/* role is "initiator" or "responder". The first session, or one after the
 * last had expired, is news for the log; the rekeys every two minutes are not. */
static void handshake_complete(struct wg_peer *p, const char *role, uint64_t now)
{
	bool news = !p->last_handshake_ns || now - p->last_handshake_ns >= p->dev->reject_after_ns;

	if (news)
		log_info("peer %s: handshake complete (%s)", p->name, role);
	else
		log_debug("peer %s: handshake complete (%s), session renewed", p->name, role);
	p->last_handshake_ns = now;
	p->t_retransmit = 0;
	p->hs_attempts = 0;
	p->stats.unanswered = 0;
	p->sent_lastminute_handshake = false;
	wg_timer_arm(p, &p->t_zero_keys, now + 3 * p->dev->reject_after_ns);
	p->stats.handshakes++;
	p->stats.last_handshake_unix = (uint64_t)time(NULL);
}

static void any_packet_received(struct wg_peer *p, uint64_t now)
{
	/* Any authenticated packet (data, keepalive, handshake) shows the
	 * session is alive: no new handshake is needed for want of replies. */
	p->t_new_handshake = 0;
	if (p->persistent_keepalive)
		wg_timer_arm(p, &p->t_persistent,
		             now + (uint64_t)p->persistent_keepalive * NSEC / p->dev->time_divisor);
}

static void any_packet_sent(struct wg_peer *p, uint64_t now)
{
	p->t_keepalive = 0;
	if (p->persistent_keepalive)
		wg_timer_arm(p, &p->t_persistent,
		             now + (uint64_t)p->persistent_keepalive * NSEC / p->dev->time_divisor);
}

void session_handle_init(struct wg_device *d, const void *buf, const struct sockaddr_storage *src,
                         socklen_t srclen, const struct wg_src *local, uint64_t now)
{
	const struct noise_msg_init *m = buf;
	const struct noise_remote *remote;
	struct noise_handshake hs = {0};
	struct noise_msg_resp resp;
	struct noise_keys keys;
	struct keypair *kp = NULL;
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	struct wg_peer *p;
	uint32_t index;

	if (!handshake_admitted(d, m, sizeof(*m), m->sender, src, srclen, local, now))
		return;
	if (noise_init_consume(m, &d->local, lookup_remote, d, &hs, &remote, ts) < 0) {
		d->stats.invalid++;
		d->stats.handshake_failures++;
		goto out;
	}
	p = peer_of_remote(remote);
	/* A replayed initiation carries an old timestamp; a flood of fresh
	 * ones from a peer that holds the key is rate-limited. */
	if (memcmp(ts, p->greatest_ts, sizeof(ts)) <= 0 ||
	    (p->last_init_rx_ns && now - p->last_init_rx_ns < INITIATION_MIN_INTERVAL_NS)) {
		log_debug("peer %s: initiation replayed or too soon, dropped", p->name);
		d->stats.handshake_failures++;
		goto out;
	}
	kp = calloc(1, sizeof(*kp));
	if (!kp || wg_index_add(d, p, &index) < 0)
		goto out;
	handshake_clear(p);
	p->hs = hs;
	memcpy(p->greatest_ts, ts, sizeof(ts));
	p->last_init_rx_ns = now;
	set_endpoint(p, src, srclen, local, now);

	if (noise_resp_create(&resp, &p->hs, &p->remote, index) < 0 ||
	    noise_derive_keys(&keys, &p->hs) < 0) {
		wg_index_del(d, index);
		crypto_wipe(&p->hs, sizeof(p->hs));
		goto out;
	}
	noise_macs_add(&resp, sizeof(resp), p->remote.mac1_key,
	               p->cookie_ns && now - p->cookie_ns < d->cookie_valid_ns ? p->cookie : NULL,
	               p->last_mac1);
	p->has_last_mac1 = true;
	kp->keys = keys;
	if (keypair_bind(kp) < 0) {
		wg_index_del(d, index);
		crypto_wipe(&p->hs, sizeof(p->hs));
		crypto_wipe(kp, sizeof(*kp));
		goto out;
	}
	kp->birth_ns = now;
	replay_init(&kp->replay);
	/* As the kernel's add_new_keypair() does for a responder: the new
	 * session waits in next for its confirmation, and previous goes, so at
	 * most two sessions are ever accepted (current and the unconfirmed
	 * next). Data under the old previous is refused from now on. */
	keypair_free(d, p->next);
	keypair_free(d, p->previous);
	p->previous = NULL;
	p->next = kp; /* the index now belongs to the keypair */
	kp = NULL;
	wg_timer_arm(p, &p->t_zero_keys, now + 3 * d->reject_after_ns);
	wg_send_to(d, &p->ep, p->ep_len, &p->ep_src, &resp, sizeof(resp));
	any_packet_received(p, now);
	any_packet_sent(p, now);
	log_debug("peer %s: answered an initiation", p->name);
out:
	free(kp);
	crypto_wipe(&hs, sizeof(hs));
	crypto_wipe(&keys, sizeof(keys));
}

void session_handle_resp(struct wg_device *d, const void *buf, const struct sockaddr_storage *src,
                         socklen_t srclen, const struct wg_src *local, uint64_t now)
{
	const struct noise_msg_resp *m = buf;
	struct noise_keys keys;
	struct keypair *kp;
	struct wg_peer *p;

	if (!handshake_admitted(d, m, sizeof(*m), m->sender, src, srclen, local, now))
		return;
	p = wg_index_find(d, le32toh(m->receiver));
	if (!p || p->hs.state != NOISE_HS_INIT_CREATED ||
	    noise_resp_consume(m, &p->hs, &d->local, &p->remote) < 0) {
		d->stats.invalid++;
		d->stats.handshake_failures++;
		return;
	}
	kp = calloc(1, sizeof(*kp));
	if (!kp || noise_derive_keys(&keys, &p->hs) < 0) {
		free(kp);
		handshake_clear(p);
		return;
	}
	/* The handshake's index stays registered: it is the keypair's now. */
	kp->keys = keys;
	crypto_wipe(&keys, sizeof(keys));
	if (keypair_bind(kp) < 0) {
		crypto_wipe(kp, sizeof(*kp));
		free(kp);
		handshake_clear(p);
		return;
	}
	kp->birth_ns = now;
	replay_init(&kp->replay);
	/* A session we answered but that was never confirmed may already be in
	 * use by the peer: it stays as previous rather than current. */
	keypair_free(d, p->previous);
	if (p->next) {
		keypair_free(d, p->current);
		p->previous = p->next;
		p->next = NULL;
	} else {
		p->previous = p->current;
	}
	p->current = kp;
	set_endpoint(p, src, srclen, local, now);
	handshake_complete(p, "initiator", now);
	any_packet_received(p, now);

	/* Send what waited for the session, or a keepalive that confirms it. */
	if (p->n_staged) {
		send_staged(p, kp, now);
	} else {
		wg_send_one(p, kp, NULL, 0, now);
	}
}

void session_handle_cookie(struct wg_device *d, const void *buf, uint64_t now)
{
	const struct noise_msg_cookie *m = buf;
	struct wg_peer *p = wg_index_find(d, le32toh(m->receiver));
	uint8_t cookie[NOISE_COOKIE_LEN];
	unsigned long suppressed;

	if (!p || !p->has_last_mac1 ||
	    noise_cookie_reply_consume(m, p->remote.cookie_key, p->last_mac1, cookie) < 0) {
		d->stats.invalid++;
		return;
	}
	memcpy(p->cookie, cookie, sizeof(cookie));
	p->cookie_ns = now;
	/* One reply per message: a second one for the same mac1 is refused. */
	p->has_last_mac1 = false;
	if (log_ratelimit(&p->cookie_log, now, LOG_INTERVAL_NS, &suppressed))
		log_info("peer %s: gateway under load, got a cookie for the next try (%lu more "
		         "cookies not logged)",
		         p->name, suppressed);
}

void session_send_initiation(struct wg_peer *p, bool retry, uint64_t now)
{
	struct wg_device *d = p->dev;
	struct noise_msg_init m;
	uint32_t index;

	if (!p->ep_len)
		return;
	if (!retry && p->last_hs_sent_ns && now - p->last_hs_sent_ns < d->rekey_timeout_ns)
		return;
	if (!retry)
		p->hs_attempts = 0;
	handshake_clear(p);
	if (noise_remote_ss(&p->remote, &d->local) < 0 || wg_index_add(d, p, &index) < 0)
		return;
	if (noise_init_create(&m, &p->hs, &d->local, &p->remote, index) < 0) {
		wg_index_del(d, index);
		crypto_wipe(&p->hs, sizeof(p->hs));
		return;
	}
	noise_macs_add(&m, sizeof(m), p->remote.mac1_key,
	               p->cookie_ns && now - p->cookie_ns < d->cookie_valid_ns ? p->cookie : NULL,
	               p->last_mac1);
	p->has_last_mac1 = true;
	p->last_hs_sent_ns = now;
	p->stats.unanswered++;
	wg_timer_arm(p, &p->t_retransmit,
	             now + d->rekey_timeout_ns + jitter_ns() / d->time_divisor);
	/* A retry means the last try got no answer: perhaps our sticky source
	 * still exists but no longer leads to the peer (the route moved to
	 * another interface, which the kernel catches with endpoint.src_if4).
	 * Retries leave from the route's choice; the next packet from the peer
	 * sets the source again. */
	if (retry)
		p->ep_src.len = 0;
	wg_send_to(d, &p->ep, p->ep_len, &p->ep_src, &m, sizeof(m));
	any_packet_sent(p, now);
	log_debug("peer %s: sent an initiation (try %u)", p->name, p->hs_attempts + 1);
}

static bool keypair_usable(const struct wg_device *d, const struct keypair *kp, uint64_t now)
{
	return kp && now - kp->birth_ns < d->reject_after_ns &&
	       kp->send_counter < REPLAY_REJECT_AFTER_MESSAGES;
}

struct keypair *session_sending_keypair(struct wg_peer *p, uint64_t now)
{
	struct keypair *kp = p->current;

	if (!keypair_usable(p->dev, kp, now))
		return NULL;
	/* A session is renewed in time: by its initiator when it is old, by
	 * either side when it has used many counters. */
	if (kp->send_counter > REKEY_AFTER_MESSAGES ||
	    (kp->keys.initiator && now - kp->birth_ns > p->dev->rekey_after_ns))
		session_send_initiation(p, false, now);
	return kp;
}

void session_stage(struct wg_peer *p, const uint8_t *pkt, size_t len, uint64_t now)
{
	size_t slot = staged_slot(p->dev);

	if (!p->staged)
		p->staged = malloc(MAX_STAGED * slot);
	if (p->staged && len <= p->dev->mtu) {
		/* Keep the newest: drop the oldest when full. */
		if (p->n_staged == MAX_STAGED) {
			memmove(p->staged, p->staged + slot, (MAX_STAGED - 1) * slot);
			p->n_staged--;
		}
		struct staged *s = (void *)(p->staged + p->n_staged * slot);
		s->len = (uint16_t)len;
		memcpy(s->data, pkt, len);
		p->n_staged++;
	}
	if (!p->t_retransmit)
		session_send_initiation(p, false, now);
}

struct keypair *session_receiving_keypair(struct wg_peer *p, uint32_t index, uint64_t now)
{
	struct keypair *kps[3] = {p->current, p->next, p->previous};

	for (int i = 0; i < 3; i++) {
		struct keypair *kp = kps[i];
		if (kp && kp->keys.local_index == index)
			return now - kp->birth_ns < p->dev->reject_after_ns ? kp : NULL;
	}
	return NULL;
}

void session_received(struct wg_peer *p, struct keypair *kp, const struct sockaddr_storage *src,
                      socklen_t srclen, const struct wg_src *local, bool keepalive, uint64_t now)
{
	struct wg_device *d = p->dev;

	set_endpoint(p, src, srclen, local, now);
	p->stats.last_rx_ns = now;
	if (kp == p->next) {
		/* The initiator used the session we answered: it is confirmed. */
		keypair_free(d, p->previous);
		p->previous = p->current;
		p->current = kp;
		p->next = NULL;
		handshake_complete(p, "responder", now);
		/* Staged packets had waited for this session. */
		send_staged(p, kp, now);
	}
	any_packet_received(p, now);
	if (!keepalive && !p->t_keepalive)
		wg_timer_arm(p, &p->t_keepalive, now + d->keepalive_ns);
	/* The initiator of an old session renews it before it is refused. */
	if (kp == p->current && kp->keys.initiator && !p->sent_lastminute_handshake &&
	    now - kp->birth_ns > d->reject_after_ns - d->keepalive_ns - d->rekey_timeout_ns) {
		p->sent_lastminute_handshake = true;
		session_send_initiation(p, false, now);
	}
}

void session_sent(struct wg_peer *p, struct keypair *kp, bool keepalive, uint64_t now)
{
	any_packet_sent(p, now);
	if (!keepalive && !p->t_new_handshake)
		wg_timer_arm(p, &p->t_new_handshake,
		             now + p->dev->keepalive_ns + p->dev->rekey_timeout_ns +
		                     jitter_ns() / p->dev->time_divisor);
}

static bool due(uint64_t *t, uint64_t now)
{
	if (!*t || now < *t)
		return false;
	*t = 0;
	return true;
}

void session_tick(struct wg_peer *p, uint64_t now)
{
	struct wg_device *d = p->dev;

	if (p->persistent_keepalive && !p->t_persistent)
		wg_timer_arm(p, &p->t_persistent,
		             now + (uint64_t)p->persistent_keepalive * NSEC / d->time_divisor);

	if (due(&p->t_retransmit, now)) {
		if (p->hs_attempts > MAX_TIMER_HANDSHAKES) {
			log_info("peer %s: no handshake after %u tries, giving up until new "
			         "traffic",
			         p->name, p->hs_attempts + 1);
			p->hs_attempts = 0;
			p->n_staged = 0;
			p->t_keepalive = 0;
			handshake_clear(p);
			if (!p->t_zero_keys)
				wg_timer_arm(p, &p->t_zero_keys, now + 3 * d->reject_after_ns);
		} else {
			p->hs_attempts++;
			session_send_initiation(p, true, now);
		}
	}
	if (due(&p->t_keepalive, now) && keypair_usable(d, p->current, now))
		wg_send_one(p, p->current, NULL, 0, now);
	if (due(&p->t_new_handshake, now)) {
		/* We sent data and heard nothing back: the session may be dead. */
		log_debug("peer %s: no reply for %llu ms, starting a handshake", p->name,
		          (unsigned long long)((d->keepalive_ns + d->rekey_timeout_ns) / 1000000));
		session_send_initiation(p, false, now);
	}
	if (due(&p->t_zero_keys, now)) {
		keypair_free(d, p->current);
		keypair_free(d, p->previous);
		keypair_free(d, p->next);
		p->current = p->previous = p->next = NULL;
		handshake_clear(p);
		log_debug("peer %s: session keys wiped after %u s without a handshake", p->name,
		          3 * REJECT_AFTER_TIME);
	}
	if (due(&p->t_persistent, now)) {
		struct keypair *kp = session_sending_keypair(p, now);
		if (kp)
			wg_send_one(p, kp, NULL, 0, now);
		else if (!p->t_retransmit)
			session_send_initiation(p, false, now);
		if (!p->t_persistent) /* a send re-arms it; make sure it stays armed */
			wg_timer_arm(p, &p->t_persistent,
			             now + (uint64_t)p->persistent_keepalive * NSEC /
			                             d->time_divisor);
	}
}

void session_free(struct wg_peer *p)
{
	keypair_free(p->dev, p->current);
	keypair_free(p->dev, p->previous);
	keypair_free(p->dev, p->next);
	handshake_clear(p);
	/* Staged packets are plaintext, as secret as the keys that never sent them. */
	if (p->staged)
		crypto_wipe(p->staged, MAX_STAGED * staged_slot(p->dev));
	free(p->staged);
	crypto_wipe(&p->remote, sizeof(p->remote));
}
