#!/usr/bin/env bash
# One edge through gatewayd to the internet host: keys made by our own tools
# match wg's, edged routes everything through its TUN the wg-quick way, ping
# and a 100 MB HTTP download arrive intact, and the host sees only the
# gateway's public address.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries
[[ -x $GATEWAYCTL ]] || die "$GATEWAYCTL is missing"

topology
web_start

log "keys from gatewayctl and edged, read back by wg"
(umask 077 && "$GATEWAYCTL" genkey >"$EG_DIR/gateway.key" && "$EDGED" genkey >"$EG_DIR/edge1.key")
for k in gateway edge1; do
	wg pubkey <"$EG_DIR/$k.key" >"$EG_DIR/$k.pub"
done
[[ $("$GATEWAYCTL" pubkey <"$EG_DIR/gateway.key") == "$(pub gateway)" ]] || die "gatewayctl pubkey != wg pubkey"
[[ $("$EDGED" pubkey <"$EG_DIR/edge1.key") == "$(pub edge1)" ]] || die "edged pubkey != wg pubkey"

log "gatewayd and edged"
gatewayd_start edge1
edged_start edge1

log "edge1's rules and routes"
e1 ip rule
e1 ip route show table 51820
rules=$(e1 ip rule)
suppress=$(grep -n 'from all lookup main suppress_prefixlength 0' <<<"$rules" | cut -d: -f1)
marked=$(grep -n 'not from all fwmark 0xca6c lookup 51820' <<<"$rules" | cut -d: -f1)
[[ -n $suppress && -n $marked ]] || die "wg-quick rules missing"
((suppress < marked)) || die "suppress_prefixlength rule must come before the fwmark rule"
[[ $(e1 ip route show table 51820 | awk '{ print $1, $2, $3 }') == "default dev $TUN_IF" ]] ||
	die "table 51820 is not just 'default dev $TUN_IF'"
e1 ip route get "$HOST" | grep "dev $TUN_IF table 51820" >/dev/null || die "$HOST is not routed via $TUN_IF"
e1 ip route get "$GW_PUBLIC" mark 51820 | grep "via 192.0.2.1 dev eth0" >/dev/null ||
	die "the tunnel's own packets do not leave via eth0"

log "ping through the tunnel"
wait_for 10 "the handshake (ping $HOST)" e1 ping -c1 -W1 "$HOST"
e1 ping -q -c5 -i0.2 -W2 "$HOST"

log "100 MB over HTTP through the tunnel"
sum=$(web_file big.bin 100)
start_s=$SECONDS
got=$(fetch "$NS_E1" "http://$HOST/big.bin")
echo "sha256 sent $sum"
echo "sha256 got  $got ($((SECONDS - start_s)) s)"
[[ $got == "$sum" ]] || die "checksum mismatch"

log "the internet host saw only the gateway"
only_gateway_seen

echo PASS
