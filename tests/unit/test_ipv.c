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

	/* Link-scoped IPv6: source fe80::1 or ::, destination ff02::2 or fe80::. */
	uint8_t v6[40] = {0x60};
	v6[8 + 15] = 1;                                             /* source ::1 */
	v6[24] = 0x20, v6[25] = 0x01, v6[26] = 0x0d, v6[27] = 0xb8; /* destination 2001:db8:: */
	CHECK(!ipv_link_scoped(v6, sizeof(v6)));
	v6[8] = 0xfe, v6[9] = 0x80;
	CHECK(ipv_link_scoped(v6, sizeof(v6)));
	memset(v6 + 8, 0, 16);
	CHECK(ipv_link_scoped(v6, sizeof(v6)));
	v6[8 + 15] = 1;
	v6[24] = 0xff, v6[25] = 0x02;
	CHECK(ipv_link_scoped(v6, sizeof(v6)));
	v6[24] = 0xfe, v6[25] = 0xbf;
	CHECK(ipv_link_scoped(v6, sizeof(v6)));
	v6[24] = 0xfe, v6[25] = 0xc0; /* fec0:: is not fe80::/10 */
	CHECK(!ipv_link_scoped(v6, sizeof(v6)));

	/* Link-scoped IPv4: multicast and broadcast destinations, 0.0.0.0 source;
	 * 169.254.169.254 is an ordinary destination as far as the tunnel goes. */
	uint8_t v4[20] = {0x45, 0, 0, 20};
	v4[12] = 100, v4[13] = 64, v4[15] = 2;
	v4[16] = 203, v4[17] = 0, v4[18] = 113, v4[19] = 80;
	CHECK(!ipv_link_scoped(v4, sizeof(v4)));
	v4[16] = 224, v4[19] = 251;
	CHECK(ipv_link_scoped(v4, sizeof(v4)));
	v4[16] = 239;
	CHECK(ipv_link_scoped(v4, sizeof(v4)));
	memset(v4 + 16, 255, 4);
	CHECK(ipv_link_scoped(v4, sizeof(v4)));
	v4[16] = 169, v4[17] = 254, v4[18] = 169, v4[19] = 254;
	CHECK(!ipv_link_scoped(v4, sizeof(v4)));
	memset(v4 + 12, 0, 4);
	CHECK(ipv_link_scoped(v4, sizeof(v4)));

	/* Neither version. */
	p[0] = 0x50;
	CHECK_INT(ipv_length(p, 64), 0);
	CHECK_INT(ipv_addr(p, 64, true, &a), -1);
	CHECK_INT(ipv_length(p, 0), 0);
	return check_done("test_ipv");
}
