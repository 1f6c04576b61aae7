#!/usr/bin/env bash
# Failover between gateways (gateways: in edge.yaml, failback: preempt, the
# defaults otherwise). A second gateway, ns gw2 at 198.51.100.2 on the
# router's uplink side, has edge1 as a client too. With traffic flowing
# through gateway 1, gatewayd 1 is killed: new connections must go through
# gateway 2 within 20 s (the internet host's web log says which gateway a
# connection came from), and edged status says "failed over". Gateway 1
# comes back: traffic returns to it once it has answered for the 30 s
# hold-down. Then, with failback: sticky (by SIGHUP), the same again leaves
# edged on gateway 2 for good. Throughout, the router sees nothing leave edge1 but its
# tunnel's packets to the two gateways (the kill switch allows both).
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

NS_GW2=$EG_PREFIX-gw2
GW2_PUBLIC=198.51.100.2

topology
ns_add "$NS_GW2"
veth "$NS_GW2" wan0 "$NS_INET" wan2
addr "$NS_GW2" wan0 "$GW2_PUBLIC/32"
n "$NS_GW2" ip route add 198.51.100.254 dev wan0
n "$NS_GW2" ip route add default via 198.51.100.254 dev wan0
inet ip route add "$GW2_PUBLIC/32" dev wan2
wait_for 5 "edge1 to reach gateway 2" e1 ping -c1 -W1 "$GW2_PUBLIC"
wait_for 5 "gateway 2 to reach the host" n "$NS_GW2" ping -c1 -W1 "$HOST"

keys gateway gateway2 edge1
gateway_yaml edge1 >"$EG_DIR/gateway.yaml"
sed -e 's/^private_key_file: gateway.key/private_key_file: gateway2.key/' \
	-e 's#^control_socket: run/#control_socket: run2/#' \
	-e 's#^wg_socket_dir: wg-gateway#wg_socket_dir: wg-gateway2#' \
	"$EG_DIR/gateway.yaml" >"$EG_DIR/gateway2.yaml"
gw2_pub=$(pub gateway2)
edge_yaml edge1 | sed -e 's/^gateway:$/gateways:/' \
	-e 's/^  endpoint: \(.*\)/  - endpoint: \1/' \
	-e "s|^  public_key: \\(.*\\)|    public_key: \\1\\n  - endpoint: \"$GW2_PUBLIC:51820\"\\n    public_key: \"$gw2_pub\"|" \
	>"$EG_DIR/edge1.yaml"
cat "$EG_DIR/edge1.yaml"

inet nft -f - <<'NFT'
table inet leakwatch {
	counter leaked {}
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		ip daddr { 198.51.100.1, 198.51.100.2 } udp dport 51820 return
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } return
		ip saddr 192.0.2.2 counter name leaked
		ip6 saddr 2001:db8:2::2 counter name leaked
	}
}
NFT
leaked() { inet nft list counter inet leakwatch leaked | awk '$1 == "packets" { print $2 }'; }

web_start
gatewayd_start edge1
start gatewayd2 "$NS_GW2" "$GATEWAYD" -c "$EG_DIR/gateway2.yaml" -v
wait_for 10 "gatewayd 2's UDP port 51820" listening "$NS_GW2" udp ":51820"
start edged-edge1 "$NS_E1" "$EDGED" -c "$EG_DIR/edge1.yaml" -v
wait_for 10 "the handshake (ping $HOST)" e1 ping -c1 -W1 "$HOST"

# via: a new connection to the host; the gateway address it came from.
via() {
	e1 curl -gsSf --max-time 2 -o /dev/null "http://$HOST/" 2>/dev/null || return 0
	tail -1 "$EG_DIR/web.log" | awk '{ print $1 }'
}
through() { [[ $(via) == "$1" ]]; }
status_is() { # STATE INDEX
	local j
	j=$(e1 "$EDGED" status --json -c "$EG_DIR/edge1.yaml")
	python3 -c 'import json, sys
d = json.loads(sys.argv[1])["data"]
sys.exit(0 if (d["state"], d["gateway_index"], d["gateways"]) == (sys.argv[2], int(sys.argv[3]), 2) else 1)' \
		"$j" "$1" "$2"
}

log "connected through gateway 1"
through "$GW_PUBLIC" || die "a connection did not come through gateway 1"
status_is connected 1 || die "edged status does not say connected to gateway 1"
e1 "$EDGED" status -c "$EG_DIR/edge1.yaml"
e1 nft list chain inet egress-edge output | grep "ip daddr $GW2_PUBLIC udp dport 51820 accept" >/dev/null ||
	die "the kill switch does not let the tunnel reach gateway 2"
leaked_before=$(leaked)

log "gateway 1 killed while traffic flows: new connections through gateway 2 within 20 s"
start pinger "$NS_E1" ping -i 0.2 "$HOST"
t0=$SECONDS
stop gatewayd KILL || true
wait_for 30 "a new connection through gateway 2" through "$GW2_PUBLIC"
took=$((SECONDS - t0))
echo "failed over in ${took} s"
((took <= 20)) || die "new connections went through gateway 2 only after ${took} s, want 20 s at most"
[[ $(seen edged-edge1 "stopped answering: failing over to gateway 2") == 1 ]] ||
	die "edged did not say it failed over"
status_is "failed over" 2 || die "edged status does not say failed over to gateway 2"
e1 "$EDGED" status -c "$EG_DIR/edge1.yaml"

log "gateway 1 back: traffic returns to it after the 30 s hold-down"
start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml" -v
wait_for 10 "gatewayd's UDP port 51820" listening "$NS_GW" udp ":51820"
t0=$SECONDS
wait_for 70 "a new connection through gateway 1 again" through "$GW_PUBLIC"
took=$((SECONDS - t0))
echo "back on gateway 1 after ${took} s"
((took >= 30)) || die "back on gateway 1 after ${took} s, before the 30 s hold-down"
((took <= 60)) || die "back on gateway 1 only after ${took} s"
[[ $(seen edged-edge1 "back to it from gateway 2 (failback: preempt)") == 1 ]] ||
	die "edged did not say it went back"
status_is connected 1 || die "edged status does not say connected to gateway 1"

log "failback: sticky (SIGHUP): gateway 1 killed again, back: edged stays on gateway 2"
echo "failback: sticky" >>"$EG_DIR/edge1.yaml"
edged_hup edge1 "failback: sticky" | grep "applied: 2 gateways" || die "edged did not apply failback: sticky"
status_is connected 1 || die "the SIGHUP moved edged off gateway 1"
stop gatewayd KILL || true
wait_for 30 "a new connection through gateway 2" through "$GW2_PUBLIC"
start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml" -v
wait_for 10 "gatewayd's UDP port 51820" listening "$NS_GW" udp ":51820"
probes=$(seen edged-edge1 "failback: asking gateway 1")
sleep 50
through "$GW2_PUBLIC" || die "with failback: sticky, a new connection did not go through gateway 2"
status_is "failed over" 2 || die "with failback: sticky, edged left gateway 2"
[[ $(seen edged-edge1 "failback: asking gateway 1") == "$probes" ]] || die "sticky edged probed gateway 1"
echo "50 s after gateway 1 came back, still on gateway 2"

stop pinger TERM || true
(($(leaked) == leaked_before)) || die "$(($(leaked) - leaked_before)) packets left edge1 outside the tunnel"
echo "nothing left edge1 outside the tunnel to the two gateways"
stop edged-edge1 TERM
echo PASS
