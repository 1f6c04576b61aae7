#!/usr/bin/env bash
# route_all: false: only the prefix of the edge's address goes through the
# tunnel. edged adds no rule and no route of its own; the gateway's tunnel
# address answers through the tunnel, while the internet host is reached (or
# not) by the edge's ordinary routes, never through the gateway.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

topology
keys gateway edge1
gatewayd_start edge1

rules_before=$(e1 ip rule)
# The routes of every interface but edged's own.
own_routes() { e1 ip route show table all | grep -v "$TUN_IF" || true; }
routes_before=$(own_routes)

log "edged with route_all: false and the tunnel subnet as its prefix"
edge_yaml edge1 | sed -e 's|^address: 100.64.0.2/32|address: 100.64.0.2/24|' \
	-e 's|^route_all: true|route_all: false|' >"$EG_DIR/edge1.yaml"
grep -E '^(address|route_all):' "$EG_DIR/edge1.yaml"
start edged-edge1 "$NS_E1" "$EDGED" -c "$EG_DIR/edge1.yaml" -v
wait_for 10 "edge1's TUN $TUN_IF" nonempty e1 ip link show "$TUN_IF" up

log "the gateway's tunnel address answers through the tunnel"
wait_for 10 "the handshake (ping 100.64.0.1)" e1 ping -c1 -W1 100.64.0.1
e1 ip route get 100.64.0.1 | grep "dev $TUN_IF" >/dev/null || die "100.64.0.1 is not routed via $TUN_IF"
e1 ping -q -c3 -i0.2 -W2 100.64.0.1

log "nothing else is routed through it"
e1 ip route get "$HOST" | tee /dev/stderr | grep "dev eth0" >/dev/null || die "$HOST is not routed via eth0"
[[ $(e1 ip rule) == "$rules_before" ]] || die "edged changed ip rule"
routes_after=$(own_routes)
if [[ $routes_after != "$routes_before" ]]; then
	diff <(echo "$routes_before") <(echo "$routes_after") >&2 || true
	die "edged changed routes other than its own interface's"
fi
# The host has no route back to the edges' LAN: without the tunnel, no answer.
if e1 ping -c1 -W1 "$HOST" >/dev/null; then
	die "$HOST answered outside the tunnel: the topology is not what this test assumes"
fi

echo PASS
