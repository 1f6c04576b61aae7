#!/usr/bin/env bash
# IPv6 inside the tunnel: the gateway has address6, the edge too; edged
# routes ::/0 through its TUN, ping6 and HTTP reach the host's IPv6 address,
# and the host sees the gateway's IPv6 uplink address. IPv4 still works.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

topology
web_start
keys gateway edge1

log "gatewayd and edged, both with address6"
gatewayd_start -6 edge1
edged_start -6 edge1
gw ip -6 addr show dev "$TUN_IF"
e1 ip -6 addr show dev "$TUN_IF"

log "edge1's IPv6 rules and routes"
e1 ip -6 rule
e1 ip -6 route show table 51820
e1 ip -6 rule | grep 'from all lookup main suppress_prefixlength 0' >/dev/null || die "no IPv6 suppress_prefixlength rule"
e1 ip -6 rule | grep 'not from all fwmark 0xca6c lookup 51820' >/dev/null || die "no IPv6 fwmark rule"
e1 ip -6 route get "$HOST6" | grep "dev $TUN_IF table 51820" >/dev/null || die "$HOST6 is not routed via $TUN_IF"

log "ping6 through the tunnel"
wait_for 10 "the handshake (ping6 $HOST6)" e1 ping -6 -c1 -W1 "$HOST6"
e1 ping -6 -q -c5 -i0.2 -W2 "$HOST6"

log "HTTP to [$HOST6] through the tunnel"
sum=$(web_file v6.bin 20)
[[ $(fetch "$NS_E1" "http://[$HOST6]/v6.bin") == "$sum" ]] || die "checksum mismatch over IPv6"

log "and IPv4 alongside"
e1 ping -q -c3 -i0.2 -W2 "$HOST"
[[ $(fetch "$NS_E1" "http://$HOST/v6.bin") == "$sum" ]] || die "checksum mismatch over IPv4"

log "the internet host saw only the gateway, in each family"
only_gateway_seen -6
only_gateway_seen

echo PASS
