#!/usr/bin/env bash
# Roaming: edge1 pings the host five times a second while its underlay
# address changes from 192.0.2.2 to 192.0.2.9 (the default route goes with
# the old address and is put back). Without restarting edged, and without a
# new handshake, pings resume within a few seconds: the gateway follows the
# edge to its new address ("endpoint moved") on its first authenticated
# packet from there.
#
#   edge1 eth0 192.0.2.2 -> 192.0.2.9 --- br0 192.0.2.1 (router) --- gateway
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

replies() { seen ping "bytes from $HOST"; }

topology
tunnel_up edge1
pid=${EG_PIDS[edged-edge1]}

log "edge1 pings continuously (5/s, for at most 40 s)"
start ping "$NS_E1" ping -i0.2 -w40 -W1 "$HOST"
wait_for 5 "five replies" atleast 5 replies

log "edge1's address changes: 192.0.2.2 -> 192.0.2.9"
e1 ip addr del 192.0.2.2/24 dev eth0
sleep 1 # a few pings go unanswered while the edge has no address
before=$(replies)
t0=$EPOCHREALTIME
e1 ip addr add 192.0.2.9/24 dev eth0
e1 ip route add default via 192.0.2.1
e1 ip -br addr show dev eth0
wait_for 5 "pings to resume" atleast $((before + 3)) replies
took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
echo "three more replies $took s after the new address"

log "the gateway followed; edged kept its process and its session"
grep "endpoint moved" "$EG_DIR/gatewayd.log"
[[ $(seen gatewayd "peer edge1: endpoint moved") == 1 ]] || die "the gateway did not log one move"
[[ $(seen edged-edge1 "handshake complete") == 1 ]] || die "edge1 needed a new handshake"
running edged-edge1 || die "edged is gone"
[[ ${EG_PIDS[edged-edge1]} == "$pid" ]] || die "edged is not the same process"
stop ping INT || true
tail -n 3 "$EG_DIR/ping.log"
e1 ping -q -c3 -i0.2 -W2 "$HOST"

echo PASS
