/* The receive-side replay window of RFC 6479, laid out as the Linux kernel's
 * WireGuard does it: a ring of 64-bit words where a whole word is cleared as
 * the window slides past it, so sliding costs one store per word instead of a
 * shift of the whole bitmap. One word of the ring is always being recycled,
 * which is why only REPLAY_BITS_TOTAL - 64 bits are a usable window. */
#include <string.h>

#include "tunnel/replay.h"

#define WORD_BITS  64
#define WORD_SHIFT 6
#define RING_WORDS (REPLAY_BITS_TOTAL / WORD_BITS)

_Static_assert((RING_WORDS & (RING_WORDS - 1)) == 0, "the ring index is masked, not divided");

void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

bool replay_accept(struct replay *r, uint64_t counter)
{
	uint64_t index, index_current, top, i;

	/* Past this point the counter could wrap the window arithmetic below; the
	 * session must be rekeyed long before, so refusing is all that is left. */
	if (r->greatest >= REPLAY_REJECT_AFTER_MESSAGES + 1 ||
	    counter >= REPLAY_REJECT_AFTER_MESSAGES)
		return false;

	/* Work one past the counter so that greatest == 0 means "nothing yet"
	 * and counter 0 is still a valid first packet. */
	counter++;

	if (counter + REPLAY_WINDOW_SIZE < r->greatest)
		return false; /* too old for the window */

	index = counter >> WORD_SHIFT;
	if (counter > r->greatest) {
		/* Slide: clear every word between the old top and the new one,
		 * but never more than the whole ring. */
		index_current = r->greatest >> WORD_SHIFT;
		top = index - index_current;
		if (top > RING_WORDS)
			top = RING_WORDS;
		for (i = 1; i <= top; i++)
			r->bits[(i + index_current) & (RING_WORDS - 1)] = 0;
		r->greatest = counter;
	}

	index &= RING_WORDS - 1;
	uint64_t bit = UINT64_C(1) << (counter & (WORD_BITS - 1));
	if (r->bits[index] & bit)
		return false; /* replay */
	r->bits[index] |= bit;
	return true;
}
