/* An index of items by a key of fixed length that each item holds at a fixed
 * offset: a public key inside a peer, an address inside a route, a name
 * inside a client. Finding, adding and removing one take constant time
 * whatever the number of items, so a device or a configuration of 60,000
 * clients is built in linear time. The items stay the caller's: the map
 * holds pointers to them, which must stay valid while they are in it, and
 * an item's key must not change while it is. */
#ifndef EGRESS_KEYMAP_H
#define EGRESS_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Open addressing with linear probing, at most half full, over a hash keyed
 * with a random seed (so which keys share a probe run cannot be planned).
 * Fields are the implementation's; zero-filled is not a valid map, use
 * keymap_init(). */
struct keymap {
	void **slots; /* cap pointers, NULL for empty; cap a power of two or 0 */
	size_t cap, n;
	size_t key_off, key_len;
	uint64_t seed;
};

/* An empty map of items whose key is the key_len bytes at key_off. Takes no
 * memory until the first add or reserve. */
void keymap_init(struct keymap *m, size_t key_off, size_t key_len);
/* Frees the map's memory, not the items. Accepts a map never added to. */
void keymap_free(struct keymap *m);
/* Makes room for `more` items beyond those in the map, so that that many
 * keymap_add()s cannot fail for want of memory. 0 or -ENOMEM. */
int keymap_reserve(struct keymap *m, size_t more);
/* The item whose key is these key_len bytes, or NULL. */
void *keymap_find(const struct keymap *m, const void *key);
/* 0; -EEXIST when an item with the same key is in the map (the map is then
 * unchanged); -ENOMEM. */
int keymap_add(struct keymap *m, void *item);
/* Removes item itself (found by its key, compared by address); false when it
 * is not in the map. Other items may move between slots. */
bool keymap_del(struct keymap *m, const void *item);
/* Items in the map. */
size_t keymap_count(const struct keymap *m);

#endif
