/* The sliding window of received counters, WireGuard's size: a bitmap of
 * 8192 bits of which 8128 are the window (RFC 6479's layout). */
#ifndef EGRESS_REPLAY_H
#define EGRESS_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define REPLAY_BITS_TOTAL  8192
#define REPLAY_WINDOW_SIZE (REPLAY_BITS_TOTAL - 64)
/* A session refuses counters from here on (and senders stop before). */
#define REPLAY_REJECT_AFTER_MESSAGES (UINT64_MAX - REPLAY_WINDOW_SIZE - 1)

struct replay {
	uint64_t greatest; /* one past the greatest counter accepted */
	uint64_t bits[REPLAY_BITS_TOTAL / 64];
};

void replay_init(struct replay *r);
/* Call only after the packet authenticated. True when counter is new and
 * inside the window (it is then marked seen); false for a replay, a counter
 * too old for the window, or one at or past REPLAY_REJECT_AFTER_MESSAGES. */
bool replay_accept(struct replay *r, uint64_t counter);

#endif
