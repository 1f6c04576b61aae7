/* Which of edge.yaml's gateways edged uses, and when it moves: a pure state
 * machine that edged drives once a second with the peers' counters, so that
 * its tests run on a clock of their own.
 *
 * The gateway in use (the active one) holds the routes; it fails when
 *   - it answered since it was chosen, and edged has been sending for
 *     failover_after without an authenticated packet back (a working
 *     gateway answers data within 10 s, at least with a keepalive);
 *   - it never answered since it was chosen: after three initiations and at
 *     least the hold time.
 * "Sending" starts at the tick before the one that sees new packets out, so
 * an answer that came back between the two ticks counts.
 * Then the next one in the list is chosen (after the last, the first). The
 * hold time, failover_after at first, doubles after each round through the
 * list in which no gateway answered, up to 8 times: the backoff while all
 * are down.
 *
 * Failback "preempt": while a later gateway is in use and answering, the
 * earlier ones are probed in order, one at a time, by a handshake of a
 * peer without routes. One that answers must answer again after a 30 s
 * hold-down; then it becomes the active one. "sticky" never probes. */
#ifndef EGRESS_EDGE_FAILOVER_H
#define EGRESS_EDGE_FAILOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FO_NONE_PROBED   ((size_t)-1)
#define FO_HOLD_DOWN_NS  (30 * 1000000000ull)
#define FO_PROBE_WAIT_NS (15 * 1000000000ull) /* for a probe's answer */

/* A peer's counters at now (from wg_peer_stats). */
struct fo_peer {
	uint64_t tx_packets;
	uint64_t last_rx_ns; /* 0: never */
	uint64_t handshakes; /* completed */
	uint64_t unanswered; /* initiations since the last completed one */
};

enum fo_action {
	FO_STAY,
	FO_SWITCH,      /* gateway *to becomes the active one: a failover */
	FO_FAILBACK,    /* the same, back to the probed gateway *to */
	FO_PROBE,       /* a handshake with gateway *to, on a new probe peer (its
	                   counters at zero; any probe peer before is dropped) */
	FO_PROBE_AGAIN, /* another handshake on the probe peer there is */
	FO_PROBE_END,   /* the probe peer is no longer wanted */
};

enum fo_stage { FO_IDLE, FO_WAIT, FO_HOLD, FO_CONFIRM };

struct fo {
	size_t n, active;
	uint64_t failover_after_ns;
	bool sticky;
	/* the active gateway */
	uint64_t chosen_ns;
	uint64_t hs_at_choose, tx_seen;
	uint64_t sending_since_ns; /* sending, nothing back since; 0: not */
	uint64_t last_tick_ns;
	bool up;         /* a handshake since it was chosen */
	unsigned misses; /* switches in a row from gateways that never answered */
	/* failback */
	enum fo_stage stage;
	size_t probe; /* FO_NONE_PROBED */
	uint64_t probe_ns, probe_hs;
};

/* Gateway 0 active from now. */
void fo_init(struct fo *f, size_t n, unsigned failover_after_s, bool sticky, uint64_t now);
/* One tick: a is the active peer's counters, p the probe peer's (NULL when
 * there is none). What edged is to do now, with the gateway in *to. */
enum fo_action fo_tick(struct fo *f, uint64_t now, const struct fo_peer *a, const struct fo_peer *p,
                       size_t *to);
/* A new list (SIGHUP) in which the active gateway, whose peer stays, is
 * now at index active: what is known of it (answering, sending, the
 * backoff) is kept; probing starts over. */
void fo_keep(struct fo *f, size_t n, unsigned failover_after_s, bool sticky, size_t active,
             uint64_t now);
/* The hold time now (see above). */
uint64_t fo_hold_ns(const struct fo *f);

#endif
