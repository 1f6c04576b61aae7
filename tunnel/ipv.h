/* The few facts the device reads from an inner IP packet, each read only
 * after the length that holds it was checked. */
#ifndef EGRESS_IPV_H
#define EGRESS_IPV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The family (AF_INET or AF_INET6) of the packet in buf, with *addr pointing
 * at its source (source true) or destination address; -1 when len cannot
 * hold the fixed header of the version in the first nibble. */
int ipv_addr(const uint8_t *buf, size_t len, bool source, const uint8_t **addr);

/* The length the packet's own header gives (IPv4 total length, IPv6 40 +
 * payload length), or 0 when that is no well-formed packet inside len bytes:
 * a short buffer, an IPv4 header length under 5 words or past the total, a
 * total past len. What lies beyond it is padding. */
size_t ipv_length(const uint8_t *buf, size_t len);

/* True for a packet that belongs to its link and has no business crossing a
 * routed tunnel: a multicast or broadcast destination, an IPv6 link-local
 * destination, or an unspecified or IPv6 link-local source (router
 * solicitations, MLD reports and the like, which a kernel sends on any
 * interface with IPv6). buf holds at least the fixed header of its version
 * (ipv_addr() returned a family). */
bool ipv_link_scoped(const uint8_t *buf, size_t len);

#endif
