#!/usr/bin/env bash
# Cryptokey routing: edge2 puts edge1's tunnel address on its own TUN and
# sends with that source through its own (authentic) session. The gateway
# drops every such packet ("not its own"): none leaves its uplink and the
# internet host receives none; afterwards both edges' own traffic still
# flows, and the uplink counts edge1's packets of the same kinds.
#
#   edge2 (100.64.0.3, and now 100.64.0.2 too) --tunnel--> gatewayd --X--> host
#
# The packets are echo requests of one unusual size (777 bytes of data, 805
# bytes of IP) and UDP to port 9. A table of the test's own in the gateway
# counts those from 100.64.0.2 that leave wan0, before the masquerade hides
# their source; the host counts what arrives with tcpdump. (A spoofed ping's
# reply, if any, would go to edge1, the address's owner: edge2's ping says
# nothing.)
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

SIZE=777
SPOOF=$(tun_addr edge1)

topology

log "gatewayd with two clients, two edged"
tunnel_up edge1 edge2

log "the host counts echo requests of $SIZE bytes and UDP to port 9"
start tcpdump-host "$NS_HOST" tcpdump -i eth0 -n -l --immediate-mode -Q in \
	"(icmp[icmptype] == icmp-echo and ip[2:2] == $((SIZE + 28))) or (udp dst port 9)"
wait_for 10 "tcpdump in the host" grep -q "listening on" "$EG_DIR/tcpdump-host.log"
arrived() { seen tcpdump-host " > $HOST"; }
dropped() { seen gatewayd "peer edge2: dropped a packet with a source that is not its own"; }

log "the gateway's uplink counts echo requests of $SIZE bytes and UDP to port 9 from $SPOOF"
# priority 90: before the masquerade (srcnat, 100) rewrites the source
gw nft -f - <<-EOF
	table inet spoof {
		counter out {}
		chain postrouting {
			type filter hook postrouting priority 90;
			oifname "wan0" ip saddr $SPOOF icmp type echo-request ip length $((SIZE + 28)) counter name "out"
			oifname "wan0" ip saddr $SPOOF udp dport 9 counter name "out"
		}
	}
EOF
uplink() { gw_counter spoof out; }

log "edge2 sends 5 pings and 3 UDP datagrams from edge1's address $SPOOF"
e2 ip addr add "$SPOOF/32" dev "$TUN_IF"
e2 ping -q -I "$SPOOF" -c5 -i0.2 -W1 -s "$SIZE" "$HOST" || true # no reply can come here
e2 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
for _ in range(3):
    s.sendto(b"spoofed", (sys.argv[2], 9))
' "$SPOOF" "$HOST"
wait_for 5 "the gateway to log 8 drops" atleast 8 dropped
sleep 1
echo "gateway dropped: $(dropped); left its uplink: $(uplink); the host received: $(arrived)"
[[ $(uplink) == 0 ]] || die "$(uplink) spoofed packets left the gateway's uplink"
[[ $(dropped) == 8 ]] || die "the gateway logged $(dropped) drops, not 8"
[[ $(arrived) == 0 ]] || die "spoofed packets reached the internet host"
e2 ip addr del "$SPOOF/32" dev "$TUN_IF"

log "both edges' own traffic still flows, and the host counts it"
e1 ping -q -c3 -i0.2 -W2 -s "$SIZE" "$HOST"
e2 ping -q -c3 -i0.2 -W2 -s "$SIZE" "$HOST"
e1 bash -c "echo own >/dev/udp/$HOST/9"
wait_for 5 "the host to count 7 packets" atleast 7 arrived
sleep 0.5
cat "$EG_DIR/tcpdump-host.log"
[[ $(arrived) == 7 ]] || die "the host received $(arrived) packets, not 7"
# the counter that counted nothing above does see what it looks for
[[ $(uplink) == 4 ]] || die "the uplink counted $(uplink) of edge1's own packets, not 4"
[[ $(dropped) == 8 ]] || die "the gateway dropped legitimate packets"
running gatewayd || die "gatewayd is gone"

log "gatewayd's counters (SIGUSR1) say the same"
kill -USR1 "${EG_PIDS[gatewayd]}"
wait_for 5 "the counters in the log" grep -q "peer edge2: endpoint" "$EG_DIR/gatewayd.log"
grep -E "device:|peer edge[12]: endpoint" "$EG_DIR/gatewayd.log"
grep -q "peer edge2: endpoint .*, spoofed 8$" "$EG_DIR/gatewayd.log" || die "edge2's spoofed counter is not 8"
grep -q "peer edge1: endpoint .*, spoofed 0$" "$EG_DIR/gatewayd.log" || die "edge1's spoofed counter is not 0"

echo PASS
