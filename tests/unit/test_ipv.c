/* Inner IP header reads: lengths, padding, and every malformed form. */
#include <sys/socket.h>

#include "check.h"
#include "tunnel/ipv.h"

int main(void)
{
	uint8_t p[96] = {0};
	const uint8_t *a;

	/* IPv4: 20-byte header, total 28, then padding to 32. */
	p[0] = 0x45;
	p[3] = 28;
	CHECK_INT(ipv_length(p, 32), 28);
	CHECK_INT(ipv_length(p, 28), 28);
	CHECK_INT(ipv_length(p, 27), 0); /* total past the buffer */
	CHECK_INT(ipv_length(p, 19), 0); /* no room for the header */
	CHECK_INT(ipv_addr(p, 20, true, &a), AF_INET);
	CHECK(a == p + 12);
	CHECK_INT(ipv_addr(p, 20, false, &a), AF_INET);
	CHECK(a == p + 16);
	CHECK_INT(ipv_addr(p, 19, false, &a), -1);
	p[0] = 0x44; /* header length 16 */
	CHECK_INT(ipv_length(p, 32), 0);
	p[0] = 0x4f; /* header length 60 > total 28 */
	CHECK_INT(ipv_length(p, 64), 0);

	/* IPv6: 40-byte header, payload 8. */
	p[0] = 0x60;
	p[3] = 0;
	p[5] = 8;
	CHECK_INT(ipv_length(p, 48), 48);
	CHECK_INT(ipv_length(p, 64), 48);
	CHECK_INT(ipv_length(p, 47), 0);
	CHECK_INT(ipv_length(p, 39), 0);
	CHECK_INT(ipv_addr(p, 40, true, &a), AF_INET6);
	CHECK(a == p + 8);
	CHECK_INT(ipv_addr(p, 40, false, &a), AF_INET6);
	CHECK(a == p + 24);
	CHECK_INT(ipv_addr(p, 39, true, &a), -1);

	/* Neither version. */
	p[0] = 0x50;
	CHECK_INT(ipv_length(p, 64), 0);
	CHECK_INT(ipv_addr(p, 64, true, &a), -1);
	CHECK_INT(ipv_length(p, 0), 0);
	return check_done("test_ipv");
}
