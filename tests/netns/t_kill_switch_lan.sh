#!/usr/bin/env bash
# allow_lan: true lets out the private subnets on link at edged's start and
# nothing else. edge1's LAN gets a ULA prefix beside its documentation one
# (192.0.2.0/24, which the kill switch treats as public, as it would a
# provider's), and an on-link public prefix of the internet host's range is
# added to eth0 before the start (LocalNet: a hostile network handing out a
# public prefix as "local"). Then, with edged connecting (no gateway is
# needed for this):
#   - the router answers a ping to its ULA address, and sees it;
#   - nothing else leaves: pings and TCP to the router's public LAN address,
#     to the internet host over the on-link public prefix, and DNS to the
#     router's ULA address (DNS goes only through the tunnel);
#   - nor after a more specific route outside the tunnel (TunnelVision) and
#     another on-link public prefix are added while edged runs; without
#     edged the same probes are seen (the control).
# The router counts what comes from edge1's addresses (ns inet, before
# anything else there), the allowed ULA destination apart.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

topology
keys gateway edge1
addr "$NS_INET" br0 fd00:2::1/64
addr "$NS_E1" eth0 fd00:2::2/64
e1 ip addr add 203.0.113.77/24 dev eth0
for ns in "$NS_INET" "$NS_E1"; do
	wait_for 10 "IPv6 duplicate address detection in $ns" settled "$ns"
done
wait_for 5 "the router's ULA address" e1 ping -c1 -W1 fd00:2::1

inet nft -f - <<'NFT'
table inet leakwatch {
	counter leaked {}
	counter lan {}
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		ip daddr 198.51.100.1 udp dport 51820 return
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } return
		ip6 daddr fd00:2::1 meta l4proto ipv6-icmp counter name lan return
		ip saddr { 192.0.2.2, 203.0.113.77, 198.51.100.200 } counter name leaked
		ip6 saddr { 2001:db8:2::2, fd00:2::2 } counter name leaked
	}
}
NFT
counted() { inet nft list counter inet leakwatch "$1" | awk '$1 == "packets" { print $2 }'; }

log "edged with allow_lan: true"
{
	edge_yaml edge1
	echo "allow_lan: true"
} >"$EG_DIR/edge1.yaml"
start edged-edge1 "$NS_E1" "$EDGED" -c "$EG_DIR/edge1.yaml" -v
wait_for 10 "edged's default route" nonempty e1 ip route show table 51820 default dev "$TUN_IF"
grep "allow_lan" "$EG_DIR/edged-edge1.log"
[[ $(seen edged-edge1 "allow_lan: fd00:2::/64 let out") == 1 ]] || die "fd00:2::/64 was not let out"
[[ $(seen edged-edge1 "allow_lan: 192.0.2.0/24 is on link but not a private range") == 1 ]] ||
	die "192.0.2.0/24 was not refused as public"
[[ $(seen edged-edge1 "allow_lan: 203.0.113.0/24 is on link but not a private range") == 1 ]] ||
	die "203.0.113.0/24 was not refused as public"

log "the ULA router answers"
e1 ping -c3 -i0.2 -W1 fd00:2::1
(($(counted lan) >= 3)) || die "the router saw $(counted lan) of the 3 pings"

log "nothing else leaves: the public LAN, the on-link public prefix, DNS to the LAN"
before=$(counted leaked)
for a in 192.0.2.1 "$HOST"; do
	e1 ping -c1 -W1 "$a" >/dev/null 2>&1 || true
	e1 timeout 1 bash -c "echo probe >/dev/tcp/$a/80" 2>/dev/null || true
done
e1 timeout 1 bash -c "echo probe >/dev/udp/fd00:2::1/53" 2>/dev/null || true
e1 timeout 1 bash -c "echo probe >/dev/tcp/fd00:2::1/53" 2>/dev/null || true
after=$(counted leaked)
echo "$((after - before)) packets left outside the tunnel"
((after == before)) || die "$((after - before)) packets left outside the tunnel"
dns=$(e1 nft list counter inet egress-edge dns_blocked | awk '$1 == "packets" { print $2 }')
((dns >= 2)) || die "the DNS probes were not counted as dns_blocked ($dns)"

log "after the start: a more specific route (TunnelVision) and a new on-link public prefix"
e1 ip route add 198.51.100.0/25 via 192.0.2.1 dev eth0
e1 ip -6 route add 2001:db8:80::/64 via 2001:db8:2::1 dev eth0
addr "$NS_INET" br0 198.51.100.129/25
e1 ip addr add 198.51.100.200/25 dev eth0
late_probes() {
	local a
	for a in 198.51.100.2 198.51.100.129 2001:db8:80::80; do
		e1 ping -c1 -W1 "$a" >/dev/null 2>&1 || true
		e1 timeout 1 bash -c "echo probe >/dev/tcp/$a/80" 2>/dev/null || true
	done
}
before=$(counted leaked)
late_probes
after=$(counted leaked)
echo "$((after - before)) packets left outside the tunnel"
((after == before)) || die "with the new routes, $((after - before)) packets left outside the tunnel"
! grep "198.51.100.128/25" "$EG_DIR/edged-edge1.log" >/dev/null || die "the prefix added after the start was let out"

stop edged-edge1

log "edged stopped: the same probes are seen (the control)"
before=$(counted leaked)
late_probes
after=$(counted leaked)
echo "$((after - before)) probe packets seen"
((after - before >= 4)) || die "only $((after - before)) of the probes were seen without edged"
echo PASS
