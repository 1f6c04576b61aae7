/* libFuzzer target for gateway/onboard.c's edits of gateway.yaml: any text,
 * a fixed client added to it and then removed again, and its first client
 * removed. Never a crash or a leak; a refusal is one line; an edit that
 * succeeds parses (as the daemon would, without key files) with one client
 * more or one less, and adding then removing the same client gives back the
 * text, a final line break aside. */
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
	return 0;
}
