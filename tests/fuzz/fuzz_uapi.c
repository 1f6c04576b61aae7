/* libFuzzer target for the `wg show` socket's request parser (tunnel/uapi.h),
 * the one parser of what its clients send. The input is one connection's
 * stream; its first byte picks the size of the reads it arrives in. However
 * it is cut, the parser must take no byte it was not given, take every byte
 * while it waits for more, see the same requests in the same order as when
 * it gets the stream whole, and take nothing more once it found junk or a
 * set request too large. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tunnel/uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The requests s holds, one letter each (G, S), then I or B when it ends in
 * junk or an oversized set; at most cap letters. */
static size_t requests(const uint8_t *s, size_t len, size_t step, char *out, size_t cap)
{
	struct uapi_parser p = {0};
	enum uapi_op op = UAPI_MORE;
	size_t off = 0, n = 0;

	while (off < len && n < cap) {
		size_t piece = len - off < step ? len - off : step;
		size_t used = uapi_parse(&p, s + off, piece, &op);

		if (used > piece || (op == UAPI_MORE && used != piece))
			__builtin_trap();
		off += used;
		if (op == UAPI_GET || op == UAPI_SET) {
			out[n++] = op == UAPI_GET ? 'G' : 'S';
			continue;
		}
		if (op == UAPI_INVALID || op == UAPI_TOO_BIG) {
			out[n++] = op == UAPI_INVALID ? 'I' : 'B';
			/* Final: nothing more is taken, and it says so again. */
			if (uapi_parse(&p, s, len, &op) != 0 ||
			    (op != UAPI_INVALID && op != UAPI_TOO_BIG))
				__builtin_trap();
			break;
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char whole[512], cut[512];
	size_t n_whole, n_cut, step;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	data++;
	size--;
	n_whole = requests(data, size, size ? size : 1, whole, sizeof(whole));
	n_cut = requests(data, size, step, cut, sizeof(cut));
	if (n_whole != n_cut || memcmp(whole, cut, n_whole) != 0)
		__builtin_trap();
	return 0;
}
