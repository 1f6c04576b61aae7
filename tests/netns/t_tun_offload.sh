#!/usr/bin/env bash
# The kernel in the loop for the TUN's write-side offload, no daemons:
# tests/netns/tunoff (tunoff.c) opens a TUN with IFF_VNET_HDR in a namespace
# of this run, coalesces UDP datagrams into one USO superpacket with
# tunnel/offload.c and writes it; a socket on the TUN's address must receive
# every datagram byte for byte, over IPv4 and IPv6. The same superpacket with
# csum_offset 16 (TCP's) and one of 129 segments must be refused (EINVAL),
# which the data path's fallback counts on; one of 128 is taken. A kernel without USO on TUNs
# (before 6.2) is reported as skipped, loudly.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
TUNOFF=$EGRESS_BIN/tests/tunoff
[[ -x $TUNOFF ]] || die "$TUNOFF is missing: build with -DEGRESS_NETNS_TESTS=ON"

NS=$EG_PREFIX-tunoff
ns_add "$NS"
rc=0
n "$NS" "$TUNOFF" tunoff0 | tee "$EG_DIR/tunoff.out" || rc=$?
if ((rc == 77)); then
	echo "SKIPPED: this kernel ($(uname -r)) takes no USO from a TUN" >&2
	exit 77
fi
((rc == 0)) || die "tunoff: status $rc"
for v in 4 6; do
	grep -x "uso$v ok 40 of 40 datagrams byte for byte" "$EG_DIR/tunoff.out" >/dev/null ||
		die "IPv$v: the datagrams did not all arrive intact"
	grep -x "uso$v-csum16 EINVAL" "$EG_DIR/tunoff.out" >/dev/null || die "IPv$v: csum_offset 16 was not refused"
	grep -x "uso$v-128segs accepted" "$EG_DIR/tunoff.out" >/dev/null || die "IPv$v: 128 segments were not taken"
	grep -x "uso$v-129segs EINVAL" "$EG_DIR/tunoff.out" >/dev/null || die "IPv$v: 129 segments were not refused"
done
echo PASS
