/* Sticky sources: the local address a datagram reached, kept as the
 * control message that sends a reply from it (struct wg_src in wg_priv.h),
 * as wireguard-go's sticky sockets and the kernel's endpoint.src4/src6 do.
 * A gateway with several addresses on its uplink then answers each client
 * from the address that client sent to, which is what a client behind a
 * stateful firewall or NAT accepts. */
#include "tunnel/wg_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

/* src from a local address; 0.0.0.0, :: and multicast ones leave it empty
 * (replies from a multicast address are refused). addr is a struct in_addr
 * or in6_addr, IPv4-mapped ones taken as IPv4. */
void wg_src_set(struct wg_src *s, int family, const void *addr)
{
	struct cmsghdr *c = (struct cmsghdr *)s->cmsg;

	memset(s, 0, sizeof(*s));
	if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(addr)) {
		addr = &((const struct in6_addr *)addr)->s6_addr[12];
		family = AF_INET;
	}
	if (family == AF_INET) {
		struct in_pktinfo pi = {0};

		memcpy(&pi.ipi_spec_dst, addr, sizeof(pi.ipi_spec_dst));
		if (!pi.ipi_spec_dst.s_addr || IN_MULTICAST(ntohl(pi.ipi_spec_dst.s_addr)))
			return;
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		s->len = CMSG_SPACE(sizeof(pi));
	} else if (family == AF_INET6) {
		struct in6_pktinfo pi = {0};

		memcpy(&pi.ipi6_addr, addr, sizeof(pi.ipi6_addr));
		if (IN6_IS_ADDR_UNSPECIFIED(&pi.ipi6_addr) || IN6_IS_ADDR_MULTICAST(&pi.ipi6_addr))
			return;
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		s->len = CMSG_SPACE(sizeof(pi));
	}
}

/* The local address of a received datagram, from its pktinfo messages;
 * IP_PKTINFO's ipi_spec_dst before IPV6_PKTINFO's mapped destination. */
void wg_src_from_control(struct wg_src *s, struct msghdr *m)
{
	struct in_pktinfo pi4;
	struct in6_pktinfo pi6;
	bool has4 = false, has6 = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		/* A message cut short (MSG_CTRUNC) is shorter than its type's. */
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(pi4))) {
			memcpy(&pi4, CMSG_DATA(c), sizeof(pi4));
			has4 = true;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
		           c->cmsg_len >= CMSG_LEN(sizeof(pi6))) {
			memcpy(&pi6, CMSG_DATA(c), sizeof(pi6));
			has6 = true;
		}
	}
	if (has4)
		wg_src_set(s, AF_INET, &pi4.ipi_spec_dst);
	else if (has6)
		wg_src_set(s, AF_INET6, &pi6.ipi6_addr);
	else
		s->len = 0;
}

void wg_src_from_sockaddr(struct wg_src *s, const struct sockaddr *sa, socklen_t len)
{
	s->len = 0;
	if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		wg_src_set(s, AF_INET, &((const struct sockaddr_in *)sa)->sin_addr);
	else if (sa && sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		wg_src_set(s, AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr);
}

/* Did a send fail because its source address is not ours (any more)? The
 * kernel says so with EINVAL (IPv6: ip6_datagram_send_ctl()), ENETUNREACH
 * (IPv4: the output route lookup with that source; seen on 6.18) or
 * EADDRNOTAVAIL. A real "unreachable" costs one needless resend and the
 * source, which the peer's next packet brings back. */
bool wg_src_refused(int err)
{
	return err == EINVAL || err == ENETUNREACH || err == EADDRNOTAVAIL;
}

bool wg_src_equal(const struct wg_src *a, const struct wg_src *b)
{
	return a->len == b->len && memcmp(a->cmsg, b->cmsg, a->len) == 0;
}
