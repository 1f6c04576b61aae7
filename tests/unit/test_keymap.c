/* tunnel/keymap: items found by the key inside them, through growth, removal
 * of every other item, duplicates refused, and removals while the items are
 * walked; checked against a plain array that says which items are in. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tunnel/keymap.h"

#define N 5000

struct item {
	uint32_t other;
	uint8_t key[18]; /* a route's length: not a multiple of 8 */
	bool in;
};

static struct item items[N];

static void make_key(uint8_t key[18], uint32_t i)
{
	/* Consecutive keys that differ in their last bytes only, as host
	 * addresses do: the worst case for a weak hash. */
	memset(key, 0, 18);
	key[0] = 2;
	key[1] = 32;
	key[14] = (uint8_t)(i >> 24);
	key[15] = (uint8_t)(i >> 16);
	key[16] = (uint8_t)(i >> 8);
	key[17] = (uint8_t)i;
}

/* Every item is found exactly when it is in, and the count agrees. */
static void check_all(const struct keymap *m)
{
	size_t in = 0, wrong = 0;

	for (size_t i = 0; i < N; i++) {
		void *found = keymap_find(m, items[i].key);
		if (found != (items[i].in ? &items[i] : NULL))
			wrong++;
		in += items[i].in;
	}
	CHECK_INT(wrong, 0);
	CHECK_INT(keymap_count(m), in);
}

static void test_add_find_remove(void)
{
	struct keymap m;
	uint8_t absent[18];

	keymap_init(&m, offsetof(struct item, key), sizeof(items[0].key));
	make_key(absent, N + 1);
	CHECK(keymap_find(&m, absent) == NULL); /* empty, no memory yet */
	CHECK(!keymap_del(&m, &items[0]));
	for (uint32_t i = 0; i < N; i++) {
		make_key(items[i].key, i);
		items[i].in = false;
	}
	/* Growth: from none to N, many doublings. */
	for (size_t i = 0; i < N; i++) {
		CHECK_INT(keymap_add(&m, &items[i]), 0);
		items[i].in = true;
	}
	check_all(&m);
	CHECK(m.cap >= 2 * N); /* at most half full */
	CHECK(keymap_find(&m, absent) == NULL);

	/* Duplicates: the same item, or another with the same key. */
	struct item twin = items[7];
	CHECK_INT(keymap_add(&m, &items[7]), -EEXIST);
	CHECK_INT(keymap_add(&m, &twin), -EEXIST);
	CHECK(!keymap_del(&m, &twin)); /* not in: only its key is */
	check_all(&m);

	/* Every other one out, then back in, then all out. */
	for (size_t i = 0; i < N; i += 2) {
		CHECK(keymap_del(&m, &items[i]));
		items[i].in = false;
	}
	CHECK(!keymap_del(&m, &items[0]));
	check_all(&m);
	for (size_t i = 0; i < N; i += 2) {
		CHECK_INT(keymap_add(&m, &items[i]), 0);
		items[i].in = true;
	}
	check_all(&m);
	for (size_t i = 0; i < N; i++) {
		CHECK(keymap_del(&m, &items[i]));
		items[i].in = false;
	}
	check_all(&m);
	keymap_free(&m);
	keymap_free(&m); /* twice is fine */
}

/* Removal while walking the items (as a caller that drops every peer
 * matching something does): each removal leaves the rest findable, at every
 * step, however the removals shift the probe runs. */
static void test_remove_while_walking(void)
{
	struct keymap m;
	size_t wrong = 0;

	keymap_init(&m, offsetof(struct item, key), sizeof(items[0].key));
	CHECK_INT(keymap_reserve(&m, N), 0);
	size_t cap = m.cap;
	for (size_t i = 0; i < N; i++) {
		CHECK_INT(keymap_add(&m, &items[i]), 0);
		items[i].in = true;
	}
	CHECK_INT(m.cap, cap); /* reserved: no growth on the way */
	for (size_t i = 0; i < N; i++) {
		if (i % 3 == 0)
			continue;
		CHECK(keymap_del(&m, &items[i]));
		items[i].in = false;
		/* The next items, which removals may have moved, are still there. */
		for (size_t j = i + 1; j < N && j < i + 64; j++)
			if (keymap_find(&m, items[j].key) != &items[j])
				wrong++;
	}
	CHECK_INT(wrong, 0);
	check_all(&m);
	keymap_free(&m);
}

/* Keys whose length is a multiple of 8, and others of a few bytes: all
 * bytes count. */
static void test_key_lengths(void)
{
	struct word {
		char name[32];
	} words[3] = {{"alice"}, {"alicf"}, {"bob"}};
	struct keymap m;

	keymap_init(&m, 0, sizeof(words[0].name));
	for (int i = 0; i < 3; i++)
		CHECK_INT(keymap_add(&m, &words[i]), 0);
	CHECK(keymap_find(&m, "alicf\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0") ==
	      &words[1]);
	CHECK(keymap_find(&m, "carol\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0") == NULL);
	keymap_free(&m);

	uint8_t bytes[3][3] = {{1, 2, 3}, {1, 2, 4}, {0, 2, 3}};
	keymap_init(&m, 0, 3);
	for (int i = 0; i < 3; i++)
		CHECK_INT(keymap_add(&m, bytes[i]), 0);
	for (int i = 0; i < 3; i++)
		CHECK(keymap_find(&m, bytes[i]) == bytes[i]);
	keymap_free(&m);
}

int main(void)
{
	test_add_find_remove();
	test_remove_while_walking();
	test_key_lengths();
	return check_done("test_keymap");
}
