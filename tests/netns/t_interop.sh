#!/usr/bin/env bash
# Interop with the reference implementation, both ways:
#   1. wireguard-go + wg as edge1, against gatewayd;
#   2. wireguard-go as the gateway (nft masquerade, ip_forward), edged as edge2.
# Each direction passes ping and an HTTP download, and the host sees only
# the gateway.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

topology
web_start
keys gateway edge1 edge2
sum=$(web_file ten.bin 10)

log "1. wireguard-go edge -> gatewayd"
gatewayd_start edge1
wggo_edge edge1
wait_for 10 "the handshake (ping $HOST)" e1 ping -c1 -W1 "$HOST"
e1 ping -q -c5 -i0.2 -W2 "$HOST"
[[ $(fetch "$NS_E1" "http://$HOST/ten.bin") == "$sum" ]] || die "checksum mismatch"
e1 wg show "$(wggo_if edge1)" latest-handshakes
stop wggo-edge1
stop gatewayd || die "gatewayd did not exit cleanly on SIGTERM"

log "2. edged -> wireguard-go gateway"
wggo_gateway edge2
edged_start edge2
wait_for 10 "the handshake (ping $HOST)" e2 ping -c1 -W1 "$HOST"
e2 ping -q -c5 -i0.2 -W2 "$HOST"
[[ $(fetch "$NS_E2" "http://$HOST/ten.bin") == "$sum" ]] || die "checksum mismatch"
gw wg show "$WG_GW_IF" latest-handshakes

log "the internet host saw only the gateway"
only_gateway_seen

echo PASS
