/* libFuzzer target for tunnel/offload.c: the input is a virtio_net_hdr (10
 * bytes) and the packet after it, as a TUN read with IFF_VNET_HDR gives
 * them. Never a crash, never a write outside the slots; every segment it
 * emits fits its slot and, for a GSO packet, has valid checksums. The
 * packet itself and the segments then go through the coalescer (as
 * decrypted packets from a peer would), and every superpacket it makes is
 * split again into segments with valid checksums. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tunnel/offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t slots[OFFLOAD_MAX_SEGS * 1600];
static uint8_t slots2[64 * 65600];
static uint8_t mem[OFFLOAD_ITEMS * OFFLOAD_SUPER_MAX];
static struct offload_coalescer c;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct offload_segs s = {.buf = slots,
	                         .stride = 1600,
	                         .headroom = 16,
	                         .tailroom = 32,
	                         .max = OFFLOAD_MAX_SEGS};
	struct virtio_net_hdr h;

	if (size < OFFLOAD_VNET_HDR_LEN)
		return 0;
	memcpy(&h, data, OFFLOAD_VNET_HDR_LEN);
	c.n = 0;
	c.uso = h.flags & 0x80;
	c.mem = mem;
	if (size - OFFLOAD_VNET_HDR_LEN <= OFFLOAD_SUPER_MAX)
		offload_coalesce(&c, data + OFFLOAD_VNET_HDR_LEN, size - OFFLOAD_VNET_HDR_LEN);
	if (offload_split(&h, data + OFFLOAD_VNET_HDR_LEN, size - OFFLOAD_VNET_HDR_LEN, &s) < 0)
		return 0;
	if (s.n < 1 || s.n > s.max)
		__builtin_trap();
	for (size_t i = 0; i < s.n; i++) {
		if (s.len[i] > s.stride - s.headroom - s.tailroom)
			__builtin_trap();
		if ((h.gso_type & 0x7f) != VIRTIO_NET_HDR_GSO_NONE &&
		    !offload_csum_ok(slots + i * s.stride + s.headroom, s.len[i]))
			__builtin_trap();
		if (offload_coalesce(&c, slots + i * s.stride + s.headroom, s.len[i]) == -ENOSPC)
			break;
	}
	for (size_t i = 0; i < c.n; i++) {
		struct offload_segs again = {.buf = slots2, .stride = 65600, .max = 64};

		offload_item_finish(&c.items[i]);
		if (c.items[i].segs < 2)
			continue;
		if (offload_split(&c.items[i].vh, c.items[i].buf, c.items[i].len, &again) < 0)
			__builtin_trap(); /* a superpacket of ours that does not split */
		for (size_t j = 0; j < again.n; j++)
			if (!offload_csum_ok(slots2 + j * again.stride, again.len[j]))
				__builtin_trap();
	}
	return 0;
}
