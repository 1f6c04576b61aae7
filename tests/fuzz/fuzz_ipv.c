/* The inner IP header reads of the device, on any bytes: a decrypted packet
 * is the peer's choice. Every address pointer handed out must lie inside the
 * buffer, and a length must never exceed it. */
#include <stdlib.h>
#include <sys/socket.h>

#include "tunnel/ipv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *addr;
	size_t len = ipv_length(data, size);

	if (len > size)
		abort();
	for (int source = 0; source < 2; source++) {
		int family = ipv_addr(data, size, source, &addr);
		if (family >= 0 &&
		    (addr < data || addr + (family == AF_INET ? 4 : 16) > data + size))
			abort();
	}
	if (len)
		ipv_link_scoped(data, len);
	return 0;
}
