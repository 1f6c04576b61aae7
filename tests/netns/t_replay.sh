#!/usr/bin/env bash
# Replayed transport packets: the router captures edge1's data messages on
# their way to the gateway, and an attacker on the edges' LAN sends them
# again, three times, from its own address. The gateway receives them all,
# delivers none to the internet host and does not move edge1's endpoint to
# the attacker; edge1 keeps working.
#
#   edge1 192.0.2.2 --+-- br0 (capture on the port to edge1) -- ... -- gateway
#   attacker 192.0.2.66 (replays) --+
#
# The host counts echo requests of one unusual size (555 bytes of data,
# 583 of IP) with tcpdump; the gateway counts the replayed datagrams.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

SIZE=555
ATTACKER=192.0.2.66

topology
attacker_up "$ATTACKER"

tunnel_up edge1

log "tcpdump: echo requests of $SIZE bytes at the host, the attacker's datagrams at the gateway"
start tcpdump-host "$NS_HOST" tcpdump -i eth0 -n -l --immediate-mode -Q in \
	"icmp[icmptype] == icmp-echo and ip[2:2] == $((SIZE + 28))"
start tcpdump-gw "$NS_GW" tcpdump -i wan0 -n -l --immediate-mode -Q in \
	"udp and src host $ATTACKER and dst port 51820"
wait_for 10 "tcpdump in the host" grep -q "listening on" "$EG_DIR/tcpdump-host.log"
wait_for 10 "tcpdump in the gateway" grep -q "listening on" "$EG_DIR/tcpdump-gw.log"
at_host() { seen tcpdump-host " > $HOST: ICMP echo request"; }
at_gw() { seen tcpdump-gw "IP $ATTACKER\.[0-9]* > $GW_PUBLIC\.51820: UDP"; }
moved() { seen gatewayd "endpoint moved"; }

log "capture 10 of edge1's data messages on the router while it pings"
start capture "$NS_INET" python3 "$WGCRAFT" capture --iface edge1 --port 51820 --count 10 \
	--timeout 20 --out "$EG_DIR/captured.hex"
wait_for 10 "the capture to start" grep -q "capturing on" "$EG_DIR/capture.log"
e1 ping -q -c10 -i0.2 -W2 -s "$SIZE" "$HOST"
wait_for 10 "the capture to end" exited capture
stop capture || die "the capture failed: $(cat "$EG_DIR/capture.log")"
cat "$EG_DIR/capture.log"
[[ $(wc -l <"$EG_DIR/captured.hex") == 10 ]] || die "did not capture 10 data messages"
wait_for 5 "the host to count 10 echo requests" atleast 10 at_host
[[ $(at_host) == 10 ]] || die "the host counted $(at_host) echo requests, not 10"

log "the attacker replays them three times from $ATTACKER"
atk python3 "$WGCRAFT" replay --in "$EG_DIR/captured.hex" --to "$GW_ENDPOINT" --times 3
wait_for 5 "the gateway to receive 30 datagrams" atleast 30 at_gw
sleep 1
echo "at the gateway: $(at_gw) datagrams; at the host: $(at_host) echo requests;" \
	"endpoint moved: $(moved)"
[[ $(at_gw) == 30 ]] || die "the gateway received $(at_gw) replayed datagrams, not 30"
[[ $(at_host) == 10 ]] || die "replayed packets reached the host"
[[ $(moved) == 0 ]] || die "a replay moved edge1's endpoint"

log "edge1 still works, from its own address"
e1 ping -q -c3 -i0.2 -W2 -s "$SIZE" "$HOST"
wait_for 5 "the host to count 13 echo requests" atleast 13 at_host
[[ $(at_host) == 13 ]] || die "the host counted $(at_host) echo requests, not 13"
[[ $(moved) == 0 ]] || die "edge1's endpoint moved"

echo PASS
