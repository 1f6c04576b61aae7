/* See keymap.h. */
#include "tunnel/keymap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/crypto.h"

#define MIN_CAP 16

static const uint8_t *key_of(const struct keymap *m, const void *item)
{
	return (const uint8_t *)item + m->key_off;
}

/* A multiply-xorshift mix over 8-byte words, then a finaliser (splitmix64's),
 * so keys that differ in one low byte (consecutive addresses) spread over
 * the whole table. */
static uint64_t hash(const struct keymap *m, const uint8_t *key)
{
	uint64_t h = m->seed ^ (m->key_len * 0x9e3779b97f4a7c15ull), w;
	size_t i = 0;

	for (; i + 8 <= m->key_len; i += 8) {
		memcpy(&w, key + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 32;
	}
	if (i < m->key_len) {
		w = 0;
		memcpy(&w, key + i, m->key_len - i);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

void keymap_init(struct keymap *m, size_t key_off, size_t key_len)
{
	memset(m, 0, sizeof(*m));
	m->key_off = key_off;
	m->key_len = key_len;
	/* Without randomness the map still works, only with a known layout. */
	if (crypto_random(&m->seed, sizeof(m->seed)) < 0)
		m->seed = 0x2545f4914f6cdd1dull;
}

void keymap_free(struct keymap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}

size_t keymap_count(const struct keymap *m)
{
	return m->n;
}

/* The slot holding key, or the empty slot that ends its probe run. */
static size_t probe(const struct keymap *m, const uint8_t *key)
{
	size_t mask = m->cap - 1, j = hash(m, key) & mask;

	while (m->slots[j] && memcmp(key_of(m, m->slots[j]), key, m->key_len) != 0)
		j = (j + 1) & mask;
	return j;
}

static int resize(struct keymap *m, size_t cap)
{
	void **old = m->slots;
	size_t old_cap = m->cap;

	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots) {
		m->slots = old;
		return -ENOMEM;
	}
	m->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			m->slots[probe(m, key_of(m, old[i]))] = old[i];
	free(old);
	return 0;
}

int keymap_reserve(struct keymap *m, size_t more)
{
	size_t cap = m->cap ? m->cap : MIN_CAP;

	if (more > (SIZE_MAX / 4) - m->n)
		return -ENOMEM;
	while (cap < 2 * (m->n + more))
		cap *= 2;
	return cap == m->cap ? 0 : resize(m, cap);
}

void *keymap_find(const struct keymap *m, const void *key)
{
	return m->cap ? m->slots[probe(m, key)] : NULL;
}

int keymap_add(struct keymap *m, void *item)
{
	size_t j;
	int ret;

	if (keymap_find(m, key_of(m, item)))
		return -EEXIST;
	ret = keymap_reserve(m, 1);
	if (ret < 0)
		return ret;
	j = probe(m, key_of(m, item));
	m->slots[j] = item;
	m->n++;
	return 0;
}

bool keymap_del(struct keymap *m, const void *item)
{
	size_t mask = m->cap - 1, i, j;

	if (!m->cap)
		return false;
	i = probe(m, key_of(m, item));
	if (m->slots[i] != item)
		return false;
	m->slots[i] = NULL;
	m->n--;
	/* Backward shift: an item further along the run moves into the hole
	 * unless its home slot lies after the hole (cyclically), so every probe
	 * run stays unbroken without tombstones. */
	for (j = (i + 1) & mask; m->slots[j]; j = (j + 1) & mask) {
		size_t home = hash(m, key_of(m, m->slots[j])) & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			m->slots[j] = NULL;
			i = j;
		}
	}
	return true;
}
