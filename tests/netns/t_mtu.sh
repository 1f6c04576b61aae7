#!/usr/bin/env bash
# Large packets at MTU 1420: a 1420-byte ping (1392 bytes of data) with DF
# crosses the tunnel and comes back; a 20 MB HTTP download arrives intact;
# the gateway clamps TCP's MSS both ways: a SYN from the tunnel reaches the
# host with an MSS of at most 1380 even when the edge offers 1460, and the
# host's SYN-ACK (MSS 1460) reaches edge1 with at most 1380.
#
# And what the gateway does with an inner packet larger than its MTU, which
# no edged sends (its own TUN has the same MTU) but any peer can: wgcraft
# completes a handshake as the client edge2 and sends echo requests of 1400
# and 1420 bytes, which pass and are answered, and of 1421, 1500 and 4000
# bytes, which the gateway must drop: not written to its TUN, not forwarded,
# not counted as received, and gatewayd goes on.
#
#   edge1 egress0 mtu 1420 --tunnel--> gatewayd (egress0 mtu 1420) --wan0 1500--> host
#   edge2: wgcraft data ---tunnel--^
#
# tcpdump -v in the host (SYNs to port 80, echo requests), in edge1 on its
# TUN (SYNs and SYN-ACKs) and in the gateway on its TUN (edge2's echo
# requests) shows what was sent and what arrived.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

seen() { grep -c "$2" "$EG_DIR/$1.log" || true; } # seen LOG PATTERN: matching lines
atleast() { (($("$2") >= $1)); }                  # atleast N COUNTER: for wait_for
# mss_of LOG S|S.: the MSS options of the SYNs (S) or SYN-ACKs (S.) in a tcpdump -v log
mss_of() { grep -F "Flags [$2]," "$EG_DIR/$1.log" | grep -o 'mss [0-9]*' | cut -d' ' -f2 | xargs; }
syns() { seen tcpdump-host "Flags \[S\]"; }
synacks() { seen tcpdump-edge "Flags \[S\.\]"; }
# echo_lengths LOG: the IP lengths of the ICMP packets in a tcpdump -v log, in order
echo_lengths() { grep -o 'proto ICMP (1), length [0-9]*' "$EG_DIR/$1.log" | awk '{ print $NF }' | xargs; }

topology
web_start
keys gateway edge1 edge2
gatewayd_start edge1 edge2 # edge2 is wgcraft's, below
edged_start edge1
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
[[ $(e1 cat "/sys/class/net/$TUN_IF/mtu") == 1420 ]] || die "edge1's TUN MTU is not 1420"
[[ $(gw cat "/sys/class/net/$TUN_IF/mtu") == 1420 ]] || die "the gateway's TUN MTU is not 1420"

log "tcpdump: SYNs and large echo requests at the host, SYNs and SYN-ACKs on edge1's TUN"
start tcpdump-host "$NS_HOST" tcpdump -i eth0 -n -v -l --immediate-mode -Q in \
	"(tcp dst port 80 and tcp[tcpflags] & tcp-syn != 0) or (icmp[icmptype] == icmp-echo and ip[2:2] >= 1400)"
start tcpdump-edge "$NS_E1" tcpdump -i "$TUN_IF" -n -v -l --immediate-mode \
	"tcp port 80 and tcp[tcpflags] & tcp-syn != 0"
wait_for 10 "tcpdump in the host" grep -q "listening on" "$EG_DIR/tcpdump-host.log"
wait_for 10 "tcpdump in edge1" grep -q "listening on" "$EG_DIR/tcpdump-edge.log"

log "ping -M do: 1392 bytes of data (1420 of IP) pass"
e1 ping -q -M "do" -s 1392 -c3 -i0.2 -W2 "$HOST"
sleep 0.5
echo "at the host, echo requests of: $(echo_lengths tcpdump-host)"
[[ $(echo_lengths tcpdump-host) == "1420 1420 1420" ]] || die "the host did not see three 1420-byte echo requests"

log "20 MB over HTTP"
sum=$(web_file 20mb.bin 20)
got=$(fetch "$NS_E1" "http://$HOST/20mb.bin")
echo "sha256 sent $sum"
echo "sha256 got  $got"
[[ $got == "$sum" ]] || die "checksum mismatch"

log "edge1 offers MSS 1460 (advmss on its route to the host); the gateway clamps it"
e1 ip route replace "$HOST/32" dev "$TUN_IF" table 51820 advmss 1460
e1 ip route show table 51820
e1 curl -gsSf --max-time 10 -o /dev/null "http://$HOST/index.html"
wait_for 5 "two SYNs at the host" atleast 2 syns
wait_for 5 "two SYN-ACKs at edge1" atleast 2 synacks
echo "MSS of the SYNs edge1 sent:     $(mss_of tcpdump-edge S)"
echo "MSS of the SYNs at the host:    $(mss_of tcpdump-host S)"
echo "MSS of the SYN-ACKs at edge1:   $(mss_of tcpdump-edge S.)"
[[ $(syns) == 2 && $(synacks) == 2 ]] || die "expected two SYNs and two SYN-ACKs"
[[ $(mss_of tcpdump-edge S) == "1380 1460" ]] || die "edge1 did not send MSS 1380, then 1460"
[[ $(mss_of tcpdump-host S) == "1380 1380" ]] || die "the SYNs reached the host with MSS other than 1380"
for m in $(mss_of tcpdump-edge S.); do
	((m <= 1380)) || die "a SYN-ACK with MSS $m reached edge1"
done

log "edge2, crafted: echo requests of 1400 and 1420 bytes pass; 1421, 1500, 4000 are dropped"
start tcpdump-gw "$NS_GW" tcpdump -i "$TUN_IF" -n -v -l --immediate-mode -Q in \
	"icmp[icmptype] == icmp-echo and src host $(tun_addr edge2)"
wait_for 10 "tcpdump in the gateway" grep -q "listening on" "$EG_DIR/tcpdump-gw.log"
e2 python3 "$WGCRAFT" data --gateway-pub "$(pub gateway)" --key "$EG_DIR/edge2.key" \
	--to "$GW_ENDPOINT" --src "$(tun_addr edge2)" --dst "$HOST" --sizes 1400,1420,1421,1500,4000 |
	tee "$EG_DIR/crafted.txt"
sleep 0.5
echo "written to the gateway's TUN: $(echo_lengths tcpdump-gw)"
echo "at the host: $(echo_lengths tcpdump-host)"
[[ $(echo_lengths tcpdump-gw) == "1400 1420" ]] ||
	die "the gateway's TUN got other than edge2's 1400 and 1420 bytes (over its MTU?)"
[[ $(echo_lengths tcpdump-host) == "1420 1420 1420 1400 1420" ]] ||
	die "the host saw other than edge2's 1400 and 1420 bytes (over the MTU?)"
[[ $(cat "$EG_DIR/crafted.txt") == "handshake 1 sent 5 replied 1400,1420" ]] ||
	die "edge2 did not get replies to its 1400 and 1420 bytes, and to those only"
running gatewayd || die "gatewayd is gone"
kill -USR1 "${EG_PIDS[gatewayd]}"
wait_for 5 "the counters in the log" grep -q "peer edge2: endpoint" "$EG_DIR/gatewayd.log"
grep -E "device:|peer edge2: endpoint" "$EG_DIR/gatewayd.log"
grep -q "peer edge2: endpoint .*, rx 2 packets 2820 bytes," "$EG_DIR/gatewayd.log" ||
	die "gatewayd did not count exactly edge2's 1400 and 1420 bytes as received"
e1 ping -q -c2 -i0.2 -W2 "$HOST"

echo PASS
