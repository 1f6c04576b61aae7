#!/usr/bin/env bash
# The topology itself, with wireguard-go on both ends and no egress code:
# routing, NAT, the web server and the checks the other tests rely on. When
# this fails, the fault is in the test harness or the machine, not in egress.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"

topology
web_start
keys gateway edge1 edge2
psk edge2

log "wireguard-go gateway, two wireguard-go edges (edge2 with a preshared key)"
wggo_gateway -6 edge1 edge2
wggo_edge -6 edge1
wggo_edge -6 edge2

log "ping through the tunnel"
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
wait_for 10 "edge2's handshake" e2 ping -c1 -W1 "$HOST"
e1 ping -c3 -i0.2 -W2 "$HOST"
e2 ping -6 -c3 -i0.2 -W2 "$HOST6"

log "HTTP through the tunnel"
sum=$(web_file ten.bin 10)
[[ $(fetch "$NS_E1" "http://$HOST/ten.bin") == "$sum" ]] || die "edge1: checksum mismatch"
[[ $(fetch "$NS_E2" "http://[$HOST6]/ten.bin") == "$sum" ]] || die "edge2: checksum mismatch (IPv6)"

log "the internet host saw only the gateway"
only_gateway_seen
only_gateway_seen -6

log "without the tunnel, the edge gets no answer from the host"
e1 ip rule del not fwmark 51820 table 51820
! e1 ping -c1 -W1 "$HOST" || die "the host answered an edge directly"

echo "PASS"
