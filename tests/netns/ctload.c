/* ctload N TAG FIRST_ID CLIENTS: puts N conntrack entries into the current
 * network namespace, for the flows bench (scripts/bench.sh --flows); never
 * installed. Each is a UDP flow from a client of the 100.64.0.0/16 tunnel
 * subnet (ids FIRST_ID .. FIRST_ID+CLIENTS-1, in turn) to 203.0.113.80,
 * NAT'd to 198.51.100.1, with ct mark TAG|id, that conntrack keeps for ten
 * minutes: what gatewayd's clients' flows look like to a dump. Prints how
 * long the loading took. Exit status 0, 1 when the kernel refuses an entry,
 * 2 for bad arguments. */
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void)
{
	fprintf(stderr, "usage: ctload N TAG FIRST_ID CLIENTS\n");
	return 2;
}

static bool number(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 0);
	return s[0] && !*end && !errno && *out <= max;
}

/* Entry i: client id, source port and destination port from i. The ports
 * alone tell every entry apart, since the replies all go to one NAT
 * address and conntrack keeps the reply tuples unique too. */
static void fill(struct nf_conntrack *ct, unsigned long i, unsigned long tag, unsigned long first,
                 unsigned long clients)
{
	uint32_t id = (uint32_t)(first + i % clients);
	uint32_t src = htonl(0x64400000u | id); /* 100.64.0.0/16 */
	uint32_t dst = inet_addr("203.0.113.80"), nat = inet_addr("198.51.100.1");
	uint16_t sport = htons((uint16_t)(1024 + i % 60000));
	uint16_t dport = htons((uint16_t)(1 + i / 60000 % 65535));

	nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
	nfct_set_attr_u32(ct, ATTR_IPV4_SRC, src);
	nfct_set_attr_u32(ct, ATTR_IPV4_DST, dst);
	nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_UDP);
	nfct_set_attr_u16(ct, ATTR_PORT_SRC, sport);
	nfct_set_attr_u16(ct, ATTR_PORT_DST, dport);
	nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, AF_INET);
	nfct_set_attr_u8(ct, ATTR_REPL_L4PROTO, IPPROTO_UDP);
	nfct_set_attr_u32(ct, ATTR_REPL_IPV4_SRC, dst);
	nfct_set_attr_u32(ct, ATTR_REPL_IPV4_DST, nat);
	nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, dport);
	nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, sport);
	nfct_set_attr_u32(ct, ATTR_TIMEOUT, 600);
	nfct_set_attr_u32(ct, ATTR_MARK, (uint32_t)tag | id);
}

int main(int argc, char **argv)
{
	unsigned long n, tag, first, clients;
	struct nfct_handle *h;
	struct nf_conntrack *ct;
	struct timespec t0, t1;
	int rc = 0;

	if (argc != 5 || !number(argv[1], 10000000, &n) || !number(argv[2], 0xffffffff, &tag) ||
	    !number(argv[3], 0xffff, &first) || !number(argv[4], 0xffff, &clients) || !clients ||
	    first + clients > 0x10000)
		return usage();
	h = nfct_open(CONNTRACK, 0);
	ct = nfct_new();
	if (!h || !ct) {
		perror("ctload: ctnetlink");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < n; i++) {
		fill(ct, i, tag, first, clients);
		if (nfct_query(h, NFCT_Q_CREATE, ct) < 0) {
			fprintf(stderr, "ctload: entry %lu: %s\n", i, strerror(errno));
			rc = 1;
			break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!rc)
		printf("ctload: %lu entries in %.2f s\n", n,
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	nfct_destroy(ct);
	nfct_close(h);
	return rc;
}
