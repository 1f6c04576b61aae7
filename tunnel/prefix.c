/* IPv4/IPv6 prefixes: see prefix.h. */
#include "tunnel/prefix.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

unsigned prefix_max_len(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

static size_t addr_bytes(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

int prefix_parse(struct prefix *out, const char *s, int family)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/'), *d;
	struct prefix p;
	unsigned len = 0;
	size_t n;

	memset(&p, 0, sizeof(p));
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (!n || n >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (family != AF_INET6 && inet_pton(AF_INET, addr, &p.v4) == 1)
		p.family = AF_INET;
	else if (family != AF_INET && inet_pton(AF_INET6, addr, &p.v6) == 1)
		p.family = AF_INET6;
	else
		return -EINVAL;
	p.len = prefix_max_len(p.family);
	if (slash) {
		d = slash + 1;
		/* Plain decimal: no sign, no space, no "08", at most 3 digits. */
		if (!*d || strlen(d) > 3 || (d[0] == '0' && d[1]))
			return -EINVAL;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return -EINVAL;
			len = len * 10 + (unsigned)(*d - '0');
		}
		if (len > p.len)
			return -EINVAL;
		p.len = len;
	}
	*out = p;
	return 0;
}

struct prefix prefix_from_bytes(int family, const void *addr)
{
	struct prefix p;

	memset(&p, 0, sizeof(p));
	p.family = family;
	p.len = prefix_max_len(family);
	memcpy(p.bytes, addr, addr_bytes(family));
	return p;
}

/* The mask byte for byte i of a prefix of length len. */
static uint8_t mask_byte(unsigned len, size_t i)
{
	unsigned bits = len > i * 8 ? len - (unsigned)i * 8 : 0;

	return bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
}

void prefix_mask(struct prefix *p)
{
	size_t i;

	for (i = 0; i < sizeof(p->bytes); i++)
		p->bytes[i] &= i < addr_bytes(p->family) ? mask_byte(p->len, i) : 0;
}

bool prefix_is_network(const struct prefix *p)
{
	struct prefix m = *p;

	prefix_mask(&m);
	return !memcmp(m.bytes, p->bytes, addr_bytes(p->family));
}

bool prefix_contains(const struct prefix *outer, const struct prefix *inner)
{
	size_t i;

	if (outer->family != inner->family || !addr_bytes(outer->family) || inner->len < outer->len)
		return false;
	for (i = 0; i < addr_bytes(outer->family); i++) {
		uint8_t m = mask_byte(outer->len, i);

		if ((outer->bytes[i] & m) != (inner->bytes[i] & m))
			return false;
	}
	return true;
}

int prefix_cmp(const struct prefix *a, const struct prefix *b)
{
	int r;

	if (a->family != b->family)
		return a->family == AF_INET ? -1 : b->family == AF_INET ? 1 : a->family - b->family;
	r = memcmp(a->bytes, b->bytes, addr_bytes(a->family));
	if (r)
		return r < 0 ? -1 : 1;
	return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

char *prefix_format_addr(const struct prefix *p, char *buf, size_t size)
{
	if (!size)
		return buf;
	if (!addr_bytes(p->family) || !inet_ntop(p->family, p->bytes, buf, (socklen_t)size))
		snprintf(buf, size, "?");
	return buf;
}

char *prefix_format(const struct prefix *p, char *buf, size_t size)
{
	size_t n;

	prefix_format_addr(p, buf, size);
	n = strlen(buf);
	if (addr_bytes(p->family) && n < size)
		snprintf(buf + n, size - n, "/%u", p->len);
	return buf;
}
