/* libFuzzer target for gateway/onboard.c's edits of gateway.yaml: any text,
 * a fixed client added to it and then removed again, and its first client
 * removed. Never a crash or a leak; a refusal is one line; an edit that
 * succeeds parses (as the daemon would, without key files) with one client
 * more or one less, and adding then removing the same client gives back the
 * text, a final line break aside. And when the text can be indexed
 * (onboard_index_new()), the index's add and removes give byte for byte what
 * the full edits give, and the indexes they give do so for the next edit. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"
#include "gateway/onboard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t clients_of(const char *buf, size_t len)
{
	struct gw_config *g = NULL;
	char err[256];
	size_t n;

	if (gw_config_parse_flags("fuzz.yaml", NULL, buf, len, GW_CONFIG_NO_KEY_FILES, &g, err,
	                          sizeof(err)) < 0)
		__builtin_trap(); /* an edit that succeeded must parse */
	n = g->n_clients;
	gw_config_free(g);
	return n;
}

/* What an edit may leave after the original text: nothing or one line break. */
static int final_break(const char *rest, size_t len)
{
	return len == 0 || (len == 1 && rest[0] == '\n') ||
	       (len == 2 && rest[0] == '\r' && rest[1] == '\n');
}

static void check_err(const char *err, size_t size)
{
	if (!memchr(err, '\0', size) || strchr(err, '\n'))
		__builtin_trap();
}

/* The full edit and the index's give the same: both fail, or both give the
 * same text. Frees both texts. */
static void same_edit(int full, char *a, size_t alen, int indexed, char *b, size_t blen)
{
	if ((full < 0) != (indexed < 0) || (full == 0 && (alen != blen || memcmp(a, b, alen))))
		__builtin_trap();
	free(a);
	free(b);
}

/* ix's add of c and its removes of the first, a middle and the last client
 * against the full edits of its text; with depth, the same again for each
 * index an edit gives, which must also be one the text it gave can have. */
static void same_edits(const struct onboard_index *ix, const struct onboard_client *c, int depth)
{
	const struct gw_config *cfg = onboard_index_config(ix);
	size_t n = cfg->n_clients, which[3] = {0, n / 2, n - 1}, len;
	const char *text = onboard_index_text(ix, &len);
	struct onboard_index *next = NULL, *fresh = NULL;
	char err[256], *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int full, indexed;

	for (size_t k = 0; k <= 3; k++) {
		const char *name = k < 3 ? cfg->clients[which[k]].name : NULL;

		if (name) {
			full = onboard_yaml_remove_client(text, len, name, &a, &alen, err,
			                                  sizeof(err));
			indexed =
			        onboard_index_remove(ix, name, &b, &blen, &next, err, sizeof(err));
		} else {
			full = onboard_yaml_add_client(text, len, c, &a, &alen, err, sizeof(err));
			indexed = onboard_index_add(ix, c, &b, &blen, &next, err, sizeof(err));
		}
		if (indexed < 0)
			check_err(err, sizeof(err));
		/* an index for every text left with a client */
		if (indexed == 0 && (next != NULL) != (!name || n > 1))
			__builtin_trap();
		if (next) {
			if (onboard_index_new(b, blen, NULL, &fresh, err, sizeof(err)) < 0)
				__builtin_trap();
			onboard_index_free(fresh);
			fresh = NULL;
			if (depth > 0)
				same_edits(next, c, depth - 1);
		}
		onboard_index_free(next);
		next = NULL;
		same_edit(full, a, alen, indexed, b, blen);
		a = b = NULL;
		alen = blen = 0;
	}
}

static void check_index(const char *text, size_t size, const struct onboard_client *c)
{
	struct onboard_index *ix = NULL;
	char err[256];

	if (onboard_index_new(text, size, NULL, &ix, err, sizeof(err)) < 0) {
		check_err(err, sizeof(err));
		return;
	}
	same_edits(ix, c, 1);
	onboard_index_free(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct onboard_client c = {.name = "fuzzed", .psk_file = "fuzzed.psk"};
	const char *text = (const char *)data;
	struct gw_config *old = NULL;
	char err[256], *out = NULL, *back = NULL;
	size_t len = 0, blen = 0, n = 0;
	int ret;

	memset(c.pub, 0x5a, sizeof(c.pub));
	c.addr.family = AF_INET;
	c.addr.len = 32;
	c.addr.bytes[0] = 100;
	c.addr.bytes[1] = 64;
	c.addr.bytes[3] = 77;
	if (gw_config_parse_flags("fuzz.yaml", NULL, text, size, GW_CONFIG_NO_KEY_FILES, &old, err,
	                          sizeof(err)) == 0)
		n = old->n_clients;

	ret = onboard_yaml_add_client(text, size, &c, &out, &len, err, sizeof(err));
	if (ret < 0) {
		check_err(err, sizeof(err));
	} else {
		if (!old || clients_of(out, len) != n + 1 || strlen(out) != len)
			__builtin_trap();
		ret = onboard_yaml_remove_client(out, len, c.name, &back, &blen, err, sizeof(err));
		/* Back to the text when it had clients (an empty list stays
		 * "clients:"), a final line break aside: "\n", or "\r\n" in a
		 * file whose lines end so. */
		if (ret < 0 || clients_of(back, blen) != n ||
		    (n && (blen < size || memcmp(back, text, size) ||
		           !final_break(back + size, blen - size))))
			__builtin_trap();
		free(back);
		back = NULL;
	}
	free(out);
	out = NULL;

	if (old && n) {
		ret = onboard_yaml_remove_client(text, size, old->clients[0].name, &out, &len, err,
		                                 sizeof(err));
		if (ret < 0)
			check_err(err, sizeof(err));
		else if (clients_of(out, len) != n - 1)
			__builtin_trap();
		free(out);
	}
	gw_config_free(old);
	check_index(text, size, &c);
	return 0;
}
