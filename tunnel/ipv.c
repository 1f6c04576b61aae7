#include "tunnel/ipv.h"

#include <string.h>
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

static bool v6_link_scoped(const uint8_t *a, bool source)
{
	static const uint8_t unspecified[16];

	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) /* fe80::/10 */
		return true;
	if (source)
		return memcmp(a, unspecified, sizeof(unspecified)) == 0;
	return a[0] == 0xff; /* multicast */
}

bool ipv_link_scoped(const uint8_t *buf, size_t len)
{
	const uint8_t *src, *dst;
	int family = ipv_addr(buf, len, true, &src);

	if (family < 0 || ipv_addr(buf, len, false, &dst) != family)
		return false;
	if (family == AF_INET6)
		return v6_link_scoped(src, true) || v6_link_scoped(dst, false);
	/* 224.0.0.0/4 multicast, the limited broadcast, the unspecified source */
	return (dst[0] & 0xf0) == 0xe0 ||
	       (dst[0] == 255 && dst[1] == 255 && dst[2] == 255 && dst[3] == 255) ||
	       (src[0] == 0 && src[1] == 0 && src[2] == 0 && src[3] == 0);
}
