#!/usr/bin/env bash
# Sticky reply source: the gateway has two addresses of each family on its
# uplink, and its replies leave from the one each client sent to, not from
# the one its route prefers. edge1 reaches the gateway at its second IPv4
# address, edge2 at the IPv6 address the route does not prefer (the kernel
# prefers the newer one). The router counts every datagram from the
# gateway's port by source address and message type (nft counters in a table
# of the test's own): responses and data come from the edges' endpoints,
# none from the preferred addresses. Then 198.51.100.2 is removed while the
# host streams UDP to edge1: the gateway's sends from there fail, it falls
# back to any address (the route's, .1), edge1 follows it there (roaming),
# and the stream goes on.
#
#   edge1 192.0.2.2 -----> 198.51.100.2:51820 --+   gateway wan0: 198.51.100.1/24 (route's)
#                                               +-                198.51.100.2/24
#   edge2 2001:db8:2::3 -> [the other]:51820 ---+                 2001:db8:51::1/64
#                                                                 2001:db8:51::2/64 (route's)
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

# counter NAME: packets of the router's counter NAME in table inet sticky.
counter() {
	inet nft list counter inet sticky "$1" | awk '$1 == "packets" { print $2 }'
}
counters() {
	local c
	for c in "$@"; do
		printf '%s=%s ' "$c" "$(counter "$c")"
	done
	echo
}

topology

log "the gateway's second uplink addresses"
addr "$NS_GW" wan0 198.51.100.2/24 2001:db8:51::2/64
gw ip -br addr show dev wan0
# Without sticky sources, replies leave from the address the route prefers
# (IPv4: the first added; IPv6: here the last). The edges are sent to the
# other one, so a reply from the preferred one is the bug.
gw ip route get 192.0.2.2
gw ip -6 route get 2001:db8:2::3
PREF=$(gw ip route get 192.0.2.2 | grep -o 'src [^ ]*' | cut -d' ' -f2)
PREF6=$(gw ip -6 route get 2001:db8:2::3 | grep -o 'src [^ ]*' | cut -d' ' -f2)
# (Removing a primary IPv4 address takes its secondaries with it, so the
# second one, the one removed below, must not be the primary.)
[[ $PREF == 198.51.100.1 ]] || die "the route prefers '$PREF', not the primary 198.51.100.1"
STICKY=198.51.100.2
case $PREF6 in
2001:db8:51::1) STICKY6=2001:db8:51::2 ;;
2001:db8:51::2) STICKY6=2001:db8:51::1 ;;
*) die "the IPv6 route prefers '$PREF6', not an uplink address" ;;
esac
echo "preferred by the routes: $PREF $PREF6; the edges' endpoints: $STICKY [$STICKY6]"

log "the router counts the gateway's datagrams by source (2: response, 4: data)"
inet nft -f - <<-EOF
	table inet sticky {
		counter v4_pref {}
		counter v4_sticky {}
		counter v4_resp {}
		counter v4_data {}
		counter v6_pref {}
		counter v6_sticky {}
		counter v6_resp {}
		counter v6_data {}
		chain forward {
			type filter hook forward priority 0; policy accept;
			iifname "wan0" udp sport 51820 jump from_gateway
		}
		chain from_gateway {
			ip saddr $PREF counter name v4_pref
			ip saddr $STICKY counter name v4_sticky
			ip saddr $STICKY @ih,0,8 2 counter name v4_resp
			ip saddr $STICKY @ih,0,8 4 counter name v4_data
			ip6 saddr $PREF6 counter name v6_pref
			ip6 saddr $STICKY6 counter name v6_sticky
			ip6 saddr $STICKY6 @ih,0,8 2 counter name v6_resp
			ip6 saddr $STICKY6 @ih,0,8 4 counter name v6_data
		}
	}
EOF

log "gatewayd; edge1 at $STICKY:51820, edge2 at [$STICKY6]:51820"
keys gateway edge1 edge2
gatewayd_start edge1 edge2
# edge1 follows the gateway to an address it was not configured with: its
# kill switch would (rightly) drop that, so it is off here.
EDGE_KILL_SWITCH=false GW_ENDPOINT=$STICKY:51820 edged_start edge1
GW_ENDPOINT=[$STICKY6]:51820 edged_start edge2
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
wait_for 10 "edge2's handshake" e2 ping -c1 -W1 "$HOST"
e1 ping -q -c5 -i0.2 -W2 "$HOST"
e2 ping -q -c5 -i0.2 -W2 "$HOST"

log "every reply left from the address the edge sent to"
counters v4_pref v4_sticky v4_resp v4_data v6_pref v6_sticky v6_resp v6_data
(($(counter v4_resp) >= 1)) || die "no handshake response from $STICKY"
(($(counter v4_data) >= 6)) || die "fewer than 6 data messages from $STICKY"
(($(counter v6_resp) >= 1)) || die "no handshake response from $STICKY6"
(($(counter v6_data) >= 6)) || die "fewer than 6 data messages from $STICKY6"
[[ $(counter v4_pref) == 0 ]] || die "the gateway sent $(counter v4_pref) datagrams from $PREF"
[[ $(counter v6_pref) == 0 ]] || die "the gateway sent $(counter v6_pref) datagrams from $PREF6"
[[ $(seen edged-edge1 "endpoint moved") == 0 ]] || die "edge1 saw the gateway move"
[[ $(seen edged-edge2 "endpoint moved") == 0 ]] || die "edge2 saw the gateway move"

log "the host streams UDP to edge1 (10 datagrams a second)"
start stream "$NS_HOST" python3 -u -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 9000))
_, peer = s.recvfrom(64)
for i in range(400):
    s.sendto(b"%d" % i, peer)
    time.sleep(0.1)
' "$HOST"
wait_for 10 "the host's stream socket" listening "$NS_HOST" udp "$HOST:9000"
start receive "$NS_E1" python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
while True:
    s.sendto(b"go", (sys.argv[1], 9000))
    try:
        print(s.recv(64).decode())
        break
    except socket.timeout:
        pass
s.settimeout(None)
while True:
    print(s.recv(64).decode())
' "$HOST"
received() { wc -l <"$EG_DIR/receive.log"; }
wait_for 10 "20 datagrams of the stream at edge1" atleast 20 received

log "$STICKY goes away: the gateway falls back to $PREF, edge1 follows"
pref=$(counter v4_pref)
gw ip addr del "$STICKY/24" dev wan0
before=$(received)
wait_for 10 "30 more datagrams of the stream" atleast $((before + 30)) received
counters v4_pref v4_sticky
(($(counter v4_pref) > pref)) || die "nothing came from $PREF"
grep "sending from any address" "$EG_DIR/gatewayd.log" || die "gatewayd did not fall back"
# The datagram whose source was refused went again from the other address:
# the stream has no gap.
awk 'NR > 1 && $1 != last + 1 { print "gap after " last ": " $1; bad = 1 } { last = $1 }
	END { exit bad }' "$EG_DIR/receive.log" || die "datagrams of the stream were lost"
moved() { seen edged-edge1 "peer gateway: endpoint moved"; }
wait_for 5 "edge1 to follow the gateway" atleast 1 moved
grep "endpoint moved" "$EG_DIR/edged-edge1.log"
e1 ping -q -c3 -i0.2 -W2 "$HOST"
e2 ping -q -c3 -i0.2 -W2 "$HOST"
running gatewayd || die "gatewayd is gone"

echo PASS
