/* libFuzzer target for tunnel/offload.c: the input is a virtio_net_hdr (10
 * bytes) and the packet after it, as a TUN read with IFF_VNET_HDR gives
 * them. Never a crash, never a write outside the slots; every segment it
 * emits fits its slot and, for a GSO packet, has valid checksums. */
#include <stdint.h>
#include <string.h>

#include "tunnel/offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t slots[OFFLOAD_MAX_SEGS * 1600];

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
	}
	return 0;
}
