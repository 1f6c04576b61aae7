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
ping_and_fetch "$NS_E1" ten.bin "$sum"
e1 wg show "$(wggo_if edge1)" latest-handshakes
stop wggo-edge1
stop gatewayd || die "gatewayd did not exit cleanly on SIGTERM"

log "2. edged -> wireguard-go gateway"
wggo_gateway edge2
edged_start edge2
ping_and_fetch "$NS_E2" ten.bin "$sum"
gw wg show "$WG_GW_IF" latest-handshakes

log "the internet host saw only the gateway"
only_gateway_seen

echo PASS
