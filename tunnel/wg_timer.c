/* Which peers have a timer due: a binary min-heap of the peers with any
 * timer armed, keyed by a time no later than their earliest one, so a tick
 * costs the peers it serves and not every configured one (a gateway of
 * 60,000 mostly idle clients ticks ten times a second).
 *
 * A peer's key may be earlier than its earliest timer: arming a timer
 * lowers the key when it must, but clearing or postponing one never raises
 * it, since the data path does both on every packet. A peer that comes up
 * early is ticked (nothing is due, so nothing happens) and goes back in at
 * its true earliest time. So the tick never misses a timer, and a timer
 * fires at the first tick at or after its time, as when every peer was
 * ticked. */
#include "tunnel/wg_priv.h"

#include <errno.h>
#include <stdlib.h>

/* Positions are 1-based in the peers (0: not in the heap) and 0-based in
 * the array. */
static void place(struct wg_timers *h, size_t i, struct wg_peer *p)
{
	h->heap[i] = p;
	p->timer_pos = i + 1;
}

static void sift_up(struct wg_timers *h, size_t i)
{
	struct wg_peer *p = h->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (h->heap[parent]->timer_due <= p->timer_due)
			break;
		place(h, i, h->heap[parent]);
		i = parent;
	}
	place(h, i, p);
}

static void sift_down(struct wg_timers *h, size_t i)
{
	struct wg_peer *p = h->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->heap[c + 1]->timer_due < h->heap[c]->timer_due)
			c++;
		if (p->timer_due <= h->heap[c]->timer_due)
			break;
		place(h, i, h->heap[c]);
		i = c;
	}
	place(h, i, p);
}

int wg_timers_reserve(struct wg_timers *h, size_t n)
{
	struct wg_peer **heap;
	size_t cap = h->cap ? h->cap : 16;

	while (cap < n)
		cap *= 2;
	if (cap == h->cap)
		return 0;
	heap = realloc(h->heap, cap * sizeof(*heap));
	if (!heap)
		return -ENOMEM;
	h->heap = heap;
	h->cap = cap;
	return 0;
}

void wg_timers_free(struct wg_timers *h)
{
	free(h->heap);
	h->heap = NULL;
	h->n = h->cap = 0;
}

void wg_timers_wake(struct wg_peer *p, uint64_t at)
{
	struct wg_timers *h = &p->dev->timers;

	if (p->timer_pos) {
		if (at < p->timer_due) {
			p->timer_due = at;
			sift_up(h, p->timer_pos - 1);
		}
		return;
	}
	/* wg_peer_add() reserved a place for every peer, so this cannot fail. */
	p->timer_due = at;
	place(h, h->n++, p);
	sift_up(h, h->n - 1);
}

void wg_timers_drop(struct wg_peer *p)
{
	struct wg_timers *h = &p->dev->timers;
	size_t i = p->timer_pos;

	if (!i)
		return;
	p->timer_pos = 0;
	if (--i == --h->n)
		return;
	/* The last one fills the hole, and moves whichever way its key says. */
	place(h, i, h->heap[h->n]);
	if (i > 0 && h->heap[(i - 1) / 2]->timer_due > h->heap[i]->timer_due)
		sift_up(h, i);
	else
		sift_down(h, i);
}

void wg_timer_arm(struct wg_peer *p, uint64_t *timer, uint64_t at)
{
	*timer = at;
	wg_timers_wake(p, at);
}

/* The earliest armed timer, 0 when none is. */
static uint64_t earliest(const struct wg_peer *p)
{
	const uint64_t t[] = {p->t_retransmit, p->t_keepalive, p->t_new_handshake, p->t_zero_keys,
	                      p->t_persistent};
	uint64_t min = 0;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i] && (!min || t[i] < min))
			min = t[i];
	return min;
}

void wg_timers_run(struct wg_device *d, uint64_t now)
{
	struct wg_timers *h = &d->timers;

	while (h->n && h->heap[0]->timer_due <= now) {
		struct wg_peer *p = h->heap[0];
		uint64_t next;

		wg_timers_drop(p);
		session_tick(p, now);
		/* The tick may have armed timers and put it back; its key is now
		 * exactly its earliest. Never at or before now: each peer is
		 * ticked at most once per run, as in a walk over all of them. */
		next = earliest(p);
		wg_timers_drop(p);
		if (next)
			wg_timers_wake(p, next > now ? next : now + 1);
	}
}
