/* Gateway failover: see failover.h. */
#include "edge/failover.h"

#define NSEC 1000000000ull

static void choose(struct fo *f, size_t i, uint64_t now)
{
	f->active = i;
	f->chosen_ns = now;
	f->hs_at_choose = 0; /* a new peer: its counters start at 0 */
	f->tx_seen = 0;
	f->sending_since_ns = 0;
	f->last_tick_ns = now;
	f->up = false;
	f->stage = FO_IDLE;
	f->probe = FO_NONE_PROBED;
}

void fo_init(struct fo *f, size_t n, unsigned failover_after_s, bool sticky, uint64_t now)
{
	*f = (struct fo){.n = n, .failover_after_ns = failover_after_s * NSEC, .sticky = sticky};
	choose(f, 0, now);
}

uint64_t fo_hold_ns(const struct fo *f)
{
	unsigned rounds = f->n ? f->misses / (unsigned)f->n : 0;

	return f->failover_after_ns << (rounds < 3 ? rounds : 3);
}

/* Whether the active gateway has failed, a's counters updated in f. */
static bool failed(struct fo *f, uint64_t now, const struct fo_peer *a)
{
	uint64_t prev = f->last_tick_ns;

	f->last_tick_ns = now;
	if (a->handshakes > f->hs_at_choose && !f->up) {
		f->up = true;
		f->misses = 0;
	}
	if (f->sending_since_ns && a->last_rx_ns >= f->sending_since_ns)
		f->sending_since_ns = 0; /* an answer since */
	if (a->tx_packets != f->tx_seen) {
		f->tx_seen = a->tx_packets;
		/* sent since the last tick: an answer after that one counts */
		if (!f->sending_since_ns)
			f->sending_since_ns = prev ? prev : now;
	}
	if (now - f->chosen_ns < fo_hold_ns(f))
		return false;
	if (!f->up)
		return a->unanswered >= 3; /* never answered: three tries, a hold time */
	if (a->unanswered >= 3)
		return true; /* it answered, but its rekeys go unanswered */
	return f->sending_since_ns && now - f->sending_since_ns >= f->failover_after_ns;
}

/* The earlier gateway to probe after i (the first after the last). */
static size_t next_probe(const struct fo *f, size_t i)
{
	return i == FO_NONE_PROBED || i + 1 >= f->active ? 0 : i + 1;
}

static enum fo_action failback(struct fo *f, uint64_t now, const struct fo_peer *p, size_t *to)
{
	if (f->sticky || f->active == 0 || !f->up) {
		if (f->stage == FO_IDLE)
			return FO_STAY;
		f->stage = FO_IDLE;
		f->probe = FO_NONE_PROBED;
		return FO_PROBE_END;
	}
	switch (f->stage) {
	case FO_IDLE:
		break; /* the first probe */
	case FO_WAIT:
		if (p && p->handshakes > 0) {
			f->stage = FO_HOLD;
			f->probe_ns = now;
			return FO_STAY;
		}
		if (now - f->probe_ns < FO_PROBE_WAIT_NS)
			return FO_STAY;
		break; /* no answer: the next one */
	case FO_HOLD:
		if (now - f->probe_ns < FO_HOLD_DOWN_NS)
			return FO_STAY;
		f->stage = FO_CONFIRM;
		f->probe_ns = now;
		f->probe_hs = p ? p->handshakes : 0;
		*to = f->probe;
		return FO_PROBE_AGAIN;
	case FO_CONFIRM:
		if (p && p->handshakes > f->probe_hs) {
			*to = f->probe;
			choose(f, *to, now);
			return FO_FAILBACK;
		}
		if (now - f->probe_ns < FO_PROBE_WAIT_NS)
			return FO_STAY;
		break; /* it went again: the next one */
	}
	f->probe = next_probe(f, f->probe);
	f->stage = FO_WAIT;
	f->probe_ns = now;
	*to = f->probe;
	return FO_PROBE;
}

enum fo_action fo_tick(struct fo *f, uint64_t now, const struct fo_peer *a, const struct fo_peer *p,
                       size_t *to)
{
	bool down = failed(f, now, a); /* its counters followed, even alone */

	*to = f->active;
	if (f->n > 1 && down) {
		if (!f->up)
			f->misses++;
		*to = (f->active + 1) % f->n;
		choose(f, *to, now);
		return FO_SWITCH;
	}
	if (f->n < 2)
		return FO_STAY;
	return failback(f, now, p, to);
}

void fo_keep(struct fo *f, size_t n, unsigned failover_after_s, bool sticky, size_t active,
             uint64_t now)
{
	struct fo old = *f;

	fo_init(f, n, failover_after_s, sticky, now);
	f->active = active;
	f->chosen_ns = old.chosen_ns;
	f->hs_at_choose = old.hs_at_choose;
	f->tx_seen = old.tx_seen;
	f->sending_since_ns = old.sending_since_ns;
	f->last_tick_ns = old.last_tick_ns;
	f->up = old.up;
	f->misses = old.misses;
}
