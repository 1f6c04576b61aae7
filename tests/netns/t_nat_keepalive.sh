#!/usr/bin/env bash
# An edge behind a NAT whose UDP conntrack timeouts are both 2 s (ns nat, a
# NAT66 router between edge1 and the LAN: edge1 has only fd00:99::2 and
# reaches the gateway at [2001:db8:51::1]:51820 through it).
#   - With persistent_keepalive: 1 the NAT's mapping outlives 10 s without
#     a packet of traffic: the gateway still reaches the edge through the
#     tunnel. The control: with keepalives off, after 5 s it does not.
#   - The NAT's conntrack flushed in the middle of a download: the download
#     completes intact; flushed while the tunnel is idle: the gateway
#     reaches the edge again within 3 s, a few keepalives.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

NS_NAT=$EG_PREFIX-nat
topology
# edge1 moves behind the NAT.
e1 ip link del eth0
ns_add "$NS_NAT"
veth "$NS_NAT" eth0 "$NS_INET" nat
inet ip link set nat master br0
addr "$NS_NAT" eth0 2001:db8:2::5/64
n "$NS_NAT" ip -6 route add default via 2001:db8:2::1
veth "$NS_E1" eth0 "$NS_NAT" lan0
addr "$NS_NAT" lan0 fd00:99::1/64
addr "$NS_E1" eth0 fd00:99::2/64
e1 ip -6 route add default via fd00:99::1
forwarding "$NS_NAT"
n "$NS_NAT" nft -f - <<'NFT'
table ip6 nat66 {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth0" masquerade
	}
}
NFT
n "$NS_NAT" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=2 \
	net.netfilter.nf_conntrack_udp_timeout_stream=2
n "$NS_NAT" sysctl net.netfilter.nf_conntrack_udp_timeout net.netfilter.nf_conntrack_udp_timeout_stream
wait_for 10 "IPv6 duplicate address detection behind the NAT" settled "$NS_E1"
wait_for 5 "edge1 to reach the gateway through the NAT" e1 ping -6 -c1 -W1 "$GW_PUBLIC6"

keys gateway edge1
web_start
sum=$(web_file big 24)
gatewayd_start edge1
# edge_yaml KEEPALIVE: edge1's, to the gateway's IPv6 endpoint.
edge1_yaml() {
	edge_yaml edge1 | sed -e "s/^  endpoint: .*/  endpoint: \"[$GW_PUBLIC6]:51820\"/" \
		-e "s/^persistent_keepalive: .*/persistent_keepalive: $1/" >"$EG_DIR/edge1.yaml"
}
edge1_start() {
	edge1_yaml "$1"
	start edged-edge1 "$NS_E1" "$EDGED" -c "$EG_DIR/edge1.yaml" -v
	wait_for 10 "the handshake through the NAT (ping $HOST)" e1 ping -c1 -W1 "$HOST"
}
reaches_edge() { gw ping -c1 -W1 "$(tun_addr edge1)" >/dev/null 2>&1; }
mappings() { n "$NS_NAT" conntrack -L -p udp 2>/dev/null | grep -c "dport=51820" || true; }

log "the control: keepalives off, 5 s idle, the NAT forgets the tunnel"
edge1_start 0
reaches_edge || die "the gateway does not reach the edge right after the handshake"
sleep 5
[[ $(mappings) == 0 ]] || die "the NAT still has the tunnel's mapping after 5 s idle"
! reaches_edge || die "the gateway reached the edge through an expired mapping: the test shows nothing"
stop edged-edge1 TERM

log "persistent_keepalive: 1: 10 s idle, the gateway still reaches the edge"
edge1_start 1
sleep 10
[[ $(mappings) == 1 ]] || die "the NAT has $(mappings) mappings of the tunnel, want 1"
reaches_edge || die "after 10 s idle the gateway does not reach the edge through the NAT"
echo "the mapping lived through 10 s of 2 s timeouts"

log "the NAT's conntrack flushed mid-download: the download completes intact"
e1 curl -gsSf --max-time 60 --limit-rate 4M -o "$EG_DIR/big.got" "http://$HOST/big" &
curl_pid=$!
sleep 2
n "$NS_NAT" conntrack -F 2>/dev/null
echo "flushed at 2 s"
wait "$curl_pid" || die "the download failed after the flush"
[[ $(sha256sum <"$EG_DIR/big.got" | cut -d' ' -f1) == "$sum" ]] || die "the download arrived damaged"
echo "download intact"

log "flushed while idle: the gateway reaches the edge again within 3 s"
sleep 3
n "$NS_NAT" conntrack -F 2>/dev/null
t0=$EPOCHREALTIME
wait_for 3 "the gateway to reach the edge after the flush" reaches_edge
echo "reached again after $(python3 -c "print(round($EPOCHREALTIME - $t0, 1))") s"
stop edged-edge1 TERM
echo PASS
