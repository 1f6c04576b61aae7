/* libFuzzer target for the control protocol's parsers of outside input:
 * the server's request parser, the client's reply reader and its parser of
 * one stream part. Any input must give a request or one printable error
 * line, never a crash or a leak; a part that parses encodes back to one
 * that parses the same.
 * The input is also cut into reply parts at each "\n\n" and fed to one
 * reader in order. And whatever request parses, a reply carrying its args
 * (or one of its strings), cut into small parts, must come back equal. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(const char *err)
{
	for (; *err; err++)
		if ((unsigned char)*err < 0x20 || (unsigned char)*err > 0x7e)
			__builtin_trap();
}

static void round_trip(json_t *value, size_t part_max)
{
	struct ctl_reply in = {.ok = part_max % 2 == 0, .error = "e\"rr", .data = value};
	struct ctl_reader *rd = ctl_reader_new();
	struct ctl_parts *p = NULL;
	struct ctl_reply *out;
	char err[256];
	int ret = 1;

	if (ctl_reply_encode(&in, part_max, &p) < 0) {
		ctl_reader_free(rd);
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (p->len[i] > part_max || ret != 1)
			__builtin_trap();
		ret = ctl_reader_feed(rd, p->buf[i], p->len[i], err, sizeof(err));
	}
	out = ctl_reader_take(rd);
	if (ret != 0 || !out || out->ok != in.ok || !json_equal(out->data, value))
		__builtin_trap();
	ctl_reply_free(out);
	ctl_parts_free(p);
	ctl_reader_free(rd);
}

/* The input as one part of a stream (ctl_stream_call's parser). */
static void stream_part(const uint8_t *data, size_t size)
{
	struct ctl_reply *r = NULL, *again = NULL;
	char err[256], *buf = NULL;
	bool more = false, more2 = false;
	size_t len;

	if (ctl_part_parse(data, size, &r, &more, err, sizeof(err)) < 0) {
		check_err(err);
		return;
	}
	if ((r->ok && r->error) || (!r->ok && !r->error))
		__builtin_trap();
	if (ctl_part_encode(r, more, 4 * size + 64, &buf, &len) == 0) {
		if (ctl_part_parse(buf, len, &again, &more2, err, sizeof(err)) < 0 ||
		    more2 != more || again->ok != r->ok ||
		    /* json_equal() of two NULLs is false: a part without data */
		    (again->data || r->data ? !json_equal(again->data, r->data) : false))
			__builtin_trap();
		ctl_reply_free(again);
		free(buf);
	}
	ctl_reply_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request req = {.fd = -1};
	struct ctl_reader *rd;
	json_t *root = NULL;
	char err[256];
	size_t off = 0;

	if (ctl_request_parse(data, size, &root, &req, err, sizeof(err)) == 0) {
		const char *key;
		json_t *v;

		round_trip(req.args, 64 + size % 200);
		json_object_foreach(req.args, key, v)
		{
			if (json_is_string(v) || json_is_array(v))
				round_trip(v, 48 + size % 100);
		}
		json_decref(root);
	} else {
		check_err(err);
	}

	stream_part(data, size);

	rd = ctl_reader_new();
	while (off <= size) {
		const uint8_t *end = memmem(data + off, size - off, "\n\n", 2);
		size_t len = end ? (size_t)(end - (data + off)) : size - off;
		int ret = ctl_reader_feed(rd, data + off, len, err, sizeof(err));

		if (ret < 0)
			check_err(err);
		if (ret <= 0)
			break;
		off += len + 2;
	}
	ctl_reply_free(ctl_reader_take(rd));
	ctl_reader_free(rd);
	return 0;
}
