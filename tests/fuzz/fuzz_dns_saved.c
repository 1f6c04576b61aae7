/* libFuzzer target for edge/dns.c's parser of the saved resolv.conf: any
 * bytes. Never a crash; what it takes has a positive pid, an absolute path
 * and a body inside the input. */
#include <stdint.h>
#include <string.h>

#include "edge/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct dns_saved s;

	if (dns_saved_parse(buf, size, &s) == 0 &&
	    (s.pid <= 0 || s.path[0] != '/' || s.body < buf || s.body + s.body_len != buf + size))
		__builtin_trap();
	return 0;
}
