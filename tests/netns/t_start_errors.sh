#!/usr/bin/env bash
# Start-up failures change nothing: a bad configuration, a missing key file,
# or a listen port already taken make gatewayd exit with status 1 and a clear
# message, and leave no table, no TUN and ip_forward as it was; a bad
# edge.yaml or an unreachable setup leaves the edge's rules and routes alone.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

topology
keys gateway edge1

log "gatewayd: a missing key file"
gateway_yaml edge1 >"$EG_DIR/gateway.yaml"
mv "$EG_DIR/gateway.key" "$EG_DIR/gateway.key.away"
refused missing-key "$NS_GW" 'private_key_file: cannot read "gateway.key": No such file or directory' \
	"$GATEWAYD" -c "$EG_DIR/gateway.yaml"
mv "$EG_DIR/gateway.key.away" "$EG_DIR/gateway.key"

log "gatewayd: a value out of range names file, line and column"
sed 's/^listen_port: 51820/listen_port: 70000/' "$EG_DIR/gateway.yaml" >"$EG_DIR/bad.yaml"
refused bad-port "$NS_GW" 'bad.yaml:2:14: listen_port: "70000"' "$GATEWAYD" -c "$EG_DIR/bad.yaml"

log "gatewayd: an unknown key"
printf 'colour: blue\n' >>"$EG_DIR/bad.yaml"
refused unknown-key "$NS_GW" 'colour' "$GATEWAYD" -c "$EG_DIR/bad.yaml"

log "gatewayd: an unknown option"
refused bad-option "$NS_GW" 'usage: gatewayd' "$GATEWAYD" -x

log "gatewayd: the listen port is taken; what it set up is undone"
start squatter "$NS_GW" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 51820))
time.sleep(60)'
wait_for 5 "the squatter on UDP 51820" listening "$NS_GW" udp ":51820"
refused port-taken "$NS_GW" 'cannot listen on UDP port 51820' "$GATEWAYD" -c "$EG_DIR/gateway.yaml"
stop squatter || true

log "gatewayd -n checks without changing anything"
before=$(ns_state "$NS_GW")
[[ $(gw "$GATEWAYD" -n -c "$EG_DIR/gateway.yaml") == "configuration OK" ]] || die "-n did not say OK"
same_state "-n" "$NS_GW" "$before"

log "edged: a bad endpoint"
edge_yaml edge1 | sed 's/endpoint: .*/endpoint: "198.51.100.1:none"/' >"$EG_DIR/edge-bad.yaml"
refused bad-endpoint "$NS_E1" 'endpoint' "$EDGED" -c "$EG_DIR/edge-bad.yaml"

log "edged: its routing table is taken by a route it did not add"
edge_yaml edge1 >"$EG_DIR/edge1.yaml"
e1 ip route add default via 192.0.2.1 table 51820
refused table-taken "$NS_E1" 'cannot add the default route to table 51820' \
	"$EDGED" -c "$EG_DIR/edge1.yaml"
e1 ip route del default via 192.0.2.1 table 51820

echo PASS
