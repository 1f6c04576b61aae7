/* Range lists and coverage regions: see ranges.h. */
#include "policy/ranges.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int u128_cmp(struct u128 a, struct u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

struct u128 u128_of(uint64_t lo)
{
	struct u128 r = {0, lo};

	return r;
}

static struct u128 inc(struct u128 a)
{
	a.lo++;
	if (!a.lo)
		a.hi++;
	return a;
}

static struct u128 dec(struct u128 a)
{
	if (!a.lo)
		a.hi--;
	a.lo--;
	return a;
}

/* 2^bits - 1, bits 0..128. */
static struct u128 low_ones(unsigned bits)
{
	struct u128 r = {0, 0};

	if (bits >= 128)
		return (struct u128){~0ull, ~0ull};
	if (bits >= 64) {
		r.lo = ~0ull;
		r.hi = bits == 64 ? 0 : (1ull << (bits - 64)) - 1;
	} else {
		r.lo = bits ? (1ull << bits) - 1 : 0;
	}
	return r;
}

struct u128 u128_max(int family)
{
	return low_ones(prefix_max_len(family));
}

struct u128 u128_from_prefix(const struct prefix *p)
{
	struct u128 r = {0, 0};
	int i;

	if (p->family == AF_INET)
		return u128_of(ntohl(p->v4.s_addr));
	for (i = 0; i < 8; i++) {
		r.hi = r.hi << 8 | p->bytes[i];
		r.lo = r.lo << 8 | p->bytes[8 + i];
	}
	return r;
}

struct prefix u128_to_addr(int family, struct u128 a)
{
	struct prefix p;
	int i;

	memset(&p, 0, sizeof(p));
	p.family = family;
	p.len = prefix_max_len(family);
	if (family == AF_INET) {
		p.v4.s_addr = htonl((uint32_t)a.lo);
		return p;
	}
	for (i = 7; i >= 0; i--) {
		p.bytes[i] = (uint8_t)a.hi;
		p.bytes[8 + i] = (uint8_t)a.lo;
		a.hi >>= 8;
		a.lo >>= 8;
	}
	return p;
}

void ranges_init(struct ranges *r)
{
	memset(r, 0, sizeof(*r));
}

void ranges_free(struct ranges *r)
{
	free(r->v);
	ranges_init(r);
}

int ranges_add(struct ranges *r, struct u128 lo, struct u128 hi)
{
	struct range *v;
	size_t cap;

	if (r->n == r->cap) {
		cap = r->cap ? r->cap * 2 : 4;
		v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n].lo = lo;
	r->v[r->n].hi = hi;
	r->n++;
	return 0;
}

int ranges_add_prefix(struct ranges *r, const struct prefix *p)
{
	struct u128 host = low_ones(prefix_max_len(p->family) - p->len), a = u128_from_prefix(p);

	a.hi &= ~host.hi;
	a.lo &= ~host.lo;
	return ranges_add(r, a, (struct u128){a.hi | host.hi, a.lo | host.lo});
}

static int by_lo(const void *a, const void *b)
{
	return u128_cmp(((const struct range *)a)->lo, ((const struct range *)b)->lo);
}

void ranges_normalize(struct ranges *r)
{
	static const struct u128 all = {~0ull, ~0ull};
	size_t i, o = 0;

	if (r->n < 2)
		return;
	qsort(r->v, r->n, sizeof(*r->v), by_lo);
	for (i = 1; i < r->n; i++) {
		struct range *cur = &r->v[o];

		/* overlapping or adjacent: one range */
		if (!u128_cmp(cur->hi, all) || u128_cmp(r->v[i].lo, inc(cur->hi)) <= 0) {
			if (u128_cmp(r->v[i].hi, cur->hi) > 0)
				cur->hi = r->v[i].hi;
			continue;
		}
		r->v[++o] = r->v[i];
	}
	r->n = o + 1;
}

int ranges_copy(struct ranges *dst, const struct ranges *src)
{
	size_t i;
	int ret;

	dst->n = 0;
	for (i = 0; i < src->n; i++) {
		ret = ranges_add(dst, src->v[i].lo, src->v[i].hi);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int ranges_subtract(struct ranges *out, const struct ranges *a, const struct ranges *b)
{
	size_t i, j = 0, k;
	int ret;

	out->n = 0;
	for (i = 0; i < a->n; i++) {
		struct u128 lo = a->v[i].lo, hi = a->v[i].hi;
		bool gone = false;

		while (j < b->n && u128_cmp(b->v[j].hi, lo) < 0)
			j++;
		for (k = j; k < b->n && u128_cmp(b->v[k].lo, hi) <= 0; k++) {
			if (u128_cmp(b->v[k].lo, lo) > 0) {
				ret = ranges_add(out, lo, dec(b->v[k].lo));
				if (ret < 0)
					return ret;
			}
			if (u128_cmp(b->v[k].hi, hi) >= 0) {
				gone = true;
				break;
			}
			lo = inc(b->v[k].hi); /* b->v[k].hi < hi: no overflow */
		}
		if (!gone) {
			ret = ranges_add(out, lo, hi);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

/* The first range whose hi is >= x, or n. */
static size_t first_reaching(const struct range *v, size_t n, struct u128 x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u128_cmp(v[mid].hi, x) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool ranges_has(const struct ranges *r, struct u128 x)
{
	size_t i = first_reaching(r->v, r->n, x);

	return i < r->n && u128_cmp(r->v[i].lo, x) <= 0;
}

bool ranges_overlap(const struct ranges *r, struct u128 lo, struct u128 hi)
{
	size_t i = first_reaching(r->v, r->n, lo);

	return i < r->n && u128_cmp(r->v[i].lo, hi) <= 0;
}

bool ranges_within(const struct ranges *a, const struct ranges *b)
{
	size_t i, j;

	for (i = 0; i < a->n; i++) {
		/* b is merged: a's range must lie in one of b's. */
		j = first_reaching(b->v, b->n, a->v[i].lo);
		if (j == b->n || u128_cmp(b->v[j].lo, a->v[i].lo) > 0 ||
		    u128_cmp(b->v[j].hi, a->v[i].hi) < 0)
			return false;
	}
	return true;
}

bool ranges_equal(const struct ranges *a, const struct ranges *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (u128_cmp(a->v[i].lo, b->v[i].lo) || u128_cmp(a->v[i].hi, b->v[i].hi))
			return false;
	return true;
}

bool range_is_prefix(int family, struct u128 lo, struct u128 hi, unsigned *len)
{
	struct u128 x = {lo.hi ^ hi.hi, lo.lo ^ hi.lo};
	unsigned bits = (unsigned)(__builtin_popcountll(x.hi) + __builtin_popcountll(x.lo));
	struct u128 ones = low_ones(bits);

	/* lo..hi is a prefix when they differ in exactly the low bits, all
	 * clear in lo and set in hi. */
	if (u128_cmp(x, ones) || (lo.hi & x.hi) || (lo.lo & x.lo) || bits > prefix_max_len(family))
		return false;
	*len = prefix_max_len(family) - bits;
	return true;
}

void region_init(struct region *r)
{
	memset(r, 0, sizeof(*r));
}

static void pieces_free(struct region_piece *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ranges_free(&v[i].ports);
	free(v);
}

void region_free(struct region *r)
{
	pieces_free(r->v, r->n);
	region_init(r);
}

/* The first piece whose hi is >= x, or r->n. */
static size_t piece_reaching(const struct region *r, struct u128 x)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u128_cmp(r->v[mid].hi, x) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool region_covers(const struct region *r, const struct ranges *addrs, const struct ranges *ports)
{
	size_t i, k;

	for (i = 0; i < addrs->n; i++) {
		struct u128 cur = addrs->v[i].lo, hi = addrs->v[i].hi;

		k = piece_reaching(r, cur);
		for (;; k++) {
			if (k == r->n || u128_cmp(r->v[k].lo, cur) > 0)
				return false;
			if (!ranges_within(ports, &r->v[k].ports))
				return false;
			if (u128_cmp(r->v[k].hi, hi) >= 0)
				break;
			cur = inc(r->v[k].hi);
		}
	}
	return true;
}

/* Appends [lo, hi] with ports to out, or widens the last piece when it ends
 * at lo - 1 with the same ports. Takes ports over either way. */
static int emit(struct region *out, struct u128 lo, struct u128 hi, struct ranges *ports)
{
	struct region_piece *last = out->n ? &out->v[out->n - 1] : NULL, *v;
	size_t cap;

	if (last && !u128_cmp(inc(last->hi), lo) && ranges_equal(&last->ports, ports)) {
		last->hi = hi;
		ranges_free(ports);
		return 0;
	}
	if (out->n == out->cap) {
		cap = out->cap ? out->cap * 2 : 8;
		v = realloc(out->v, cap * sizeof(*v));
		if (!v) {
			ranges_free(ports);
			return -ENOMEM;
		}
		out->v = v;
		out->cap = cap;
	}
	out->v[out->n].lo = lo;
	out->v[out->n].hi = hi;
	out->v[out->n].ports = *ports;
	out->n++;
	ranges_init(ports);
	return 0;
}

static int union_of(struct ranges *out, const struct ranges *a, const struct ranges *b)
{
	size_t i;
	int ret;

	ranges_init(out);
	ret = ranges_copy(out, a);
	for (i = 0; ret == 0 && i < b->n; i++)
		ret = ranges_add(out, b->v[i].lo, b->v[i].hi);
	if (ret < 0) {
		ranges_free(out);
		return ret;
	}
	ranges_normalize(out);
	return 0;
}

/* One sweep over the old pieces and the new addresses together: each stretch
 * of addresses gets the old ports, the new ones, or their union. */
int region_add(struct region *r, const struct ranges *addrs, const struct ranges *ports)
{
	static const struct u128 all = {~0ull, ~0ull};
	struct region out;
	struct ranges val;
	struct u128 x, end;
	size_t i = 0, j = 0;
	int ret = 0;

	region_init(&out);
	if (!addrs->n)
		return 0;
	x = r->n && u128_cmp(r->v[0].lo, addrs->v[0].lo) < 0 ? r->v[0].lo : addrs->v[0].lo;
	while (i < r->n || j < addrs->n) {
		bool in_p = i < r->n && u128_cmp(r->v[i].lo, x) <= 0;
		bool in_a = j < addrs->n && u128_cmp(addrs->v[j].lo, x) <= 0;

		if (!in_p && !in_a) {
			/* a gap in both: jump to the next start */
			if (i < r->n && (j == addrs->n || u128_cmp(r->v[i].lo, addrs->v[j].lo) < 0))
				x = r->v[i].lo;
			else
				x = addrs->v[j].lo;
			continue;
		}
		end = all;
		if (i < r->n) {
			struct u128 e = in_p ? r->v[i].hi : dec(r->v[i].lo);

			if (u128_cmp(e, end) < 0)
				end = e;
		}
		if (j < addrs->n) {
			struct u128 e = in_a ? addrs->v[j].hi : dec(addrs->v[j].lo);

			if (u128_cmp(e, end) < 0)
				end = e;
		}
		if (in_p && in_a)
			ret = union_of(&val, &r->v[i].ports, ports);
		else
			ret = union_of(&val, in_p ? &r->v[i].ports : ports, &(struct ranges){0});
		if (ret == 0)
			ret = emit(&out, x, end, &val);
		if (ret < 0)
			goto fail;
		if (in_p && !u128_cmp(r->v[i].hi, end))
			i++;
		if (in_a && !u128_cmp(addrs->v[j].hi, end))
			j++;
		if (!u128_cmp(end, all))
			break;
		x = inc(end);
	}
	pieces_free(r->v, r->n);
	*r = out;
	return 0;
fail:
	region_free(&out);
	return ret;
}
