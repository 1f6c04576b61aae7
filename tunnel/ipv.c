#include "tunnel/ipv.h"

#include <sys/socket.h>

#define IPV4_HDR_LEN 20
#define IPV6_HDR_LEN 40

int ipv_addr(const uint8_t *buf, size_t len, bool source, const uint8_t **addr)
{
	if (len >= IPV4_HDR_LEN && buf[0] >> 4 == 4) {
		*addr = buf + (source ? 12 : 16);
		return AF_INET;
	}
	if (len >= IPV6_HDR_LEN && buf[0] >> 4 == 6) {
		*addr = buf + (source ? 8 : 24);
		return AF_INET6;
	}
	return -1;
}

size_t ipv_length(const uint8_t *buf, size_t len)
{
	size_t total;

	if (len >= IPV4_HDR_LEN && buf[0] >> 4 == 4) {
		size_t ihl = (size_t)(buf[0] & 0xf) * 4;
		total = (size_t)buf[2] << 8 | buf[3];
		if (ihl < IPV4_HDR_LEN || total < ihl)
			return 0;
	} else if (len >= IPV6_HDR_LEN && buf[0] >> 4 == 6) {
		total = IPV6_HDR_LEN + ((size_t)buf[4] << 8 | buf[5]);
	} else {
		return 0;
	}
	return total <= len ? total : 0;
}
