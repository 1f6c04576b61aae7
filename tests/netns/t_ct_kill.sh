#!/usr/bin/env bash
# ct_kill (gateway/ct.h) through tests/netns/ctkill.c, in a router that
# marks the flows it forwards the way gatewayd does:
#
#   ns cli                 ns rtr: forwards, conntrack, table inet ctkill      ns srv
#  +------------------+   +-------------------------------------------+   +--------------------+
#  | eth0 192.0.2.2   |---| a0 192.0.2.1/24          b0 198.51.100.1  |---| eth0 198.51.100.2  |
#  |    2001:db8:1::2 |   |    2001:db8:1::1/64         2001:db8:2::1 |   |      198.51.100.3  |
#  +------------------+   | new flows from a0: ct mark 0x45670002,    |   |      2001:db8:2::2 |
#                         | to port 5003: 0x12340002 (another tag)    |   +--------------------+
#                         +-------------------------------------------+
#
# Flows from cli, each to its own server port in srv:
#   kill   TCP to 198.51.100.2:5001      killed
#   udp    UDP to 198.51.100.2:5002      killed first, alone (--proto udp)
#   kill6  TCP to [2001:db8:2::2]:5001   killed (IPv6)
#   keep   TCP to 198.51.100.3:5001      the same tag, another destination: kept
#   other  TCP to 198.51.100.2:5003      the killed destination, another tag: kept
# Checks: the counts ctkill prints, what `conntrack -L -m` lists afterwards,
# and that the killed TCP flows stop while the kept ones go on transferring.
# They stop because rtr's table drops the non-SYN packets that would open a
# new entry: with nf_conntrack_tcp_loose (on by default) conntrack otherwise
# picks a flow up again mid-stream, as "new". The last part shows that.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"

CTKILL=$EGRESS_BIN/tests/ctkill
FLOW=$EG_REPO/tests/netns/flow.py
[[ -x $CTKILL ]] || die "$CTKILL is missing: build with -DEGRESS_NETNS_TESTS=ON"

NS_CLI=$EG_PREFIX-cli
NS_RTR=$EG_PREFIX-rtr
NS_SRV=$EG_PREFIX-srv
cli() { n "$NS_CLI" "$@"; }
rtr() { n "$NS_RTR" "$@"; }
srv() { n "$NS_SRV" "$@"; }

TAG=0x45670000
MASK=0xffff0000
MARK=0x45670002
OTHER=0x12340002
DST=198.51.100.2
KEEP=198.51.100.3
DST6=2001:db8:2::2

log "topology"
for ns in "$NS_CLI" "$NS_RTR" "$NS_SRV"; do
	ns_add "$ns"
done
veth "$NS_CLI" eth0 "$NS_RTR" a0
veth "$NS_SRV" eth0 "$NS_RTR" b0
addr "$NS_RTR" a0 192.0.2.1/24 2001:db8:1::1/64
addr "$NS_RTR" b0 198.51.100.1/24 2001:db8:2::1/64
addr "$NS_CLI" eth0 192.0.2.2/24 2001:db8:1::2/64
addr "$NS_SRV" eth0 "$DST/24" "$KEEP/24" "$DST6/64"
cli ip route add default via 192.0.2.1
cli ip -6 route add default via 2001:db8:1::1
srv ip route add default via 198.51.100.1
srv ip -6 route add default via 2001:db8:2::1
forwarding "$NS_RTR"

# ruleset SYN_CHECK: rtr's table; with SYN_CHECK=0 without the rule that
# drops a TCP packet opening a new entry unless it is a SYN.
ruleset() {
	local syn="tcp flags & (fin | syn | rst | ack) != syn ct state new counter name midstream drop"
	(($1)) || syn="# no SYN check"
	cat <<-EOF
		table inet ctkill {
			counter midstream { }
			chain forward {
				type filter hook forward priority filter; policy accept;
				ct state invalid drop
				$syn
				iifname "a0" ct state new ct mark set $MARK
				iifname "a0" ct state new tcp dport 5003 ct mark set $OTHER
			}
		}
	EOF
}
ruleset 1 | rtr nft -f -
wait_for 5 "cli to reach srv" cli ping -c1 -W1 "$DST"
for ns in "$NS_CLI" "$NS_RTR" "$NS_SRV"; do
	wait_for 10 "IPv6 duplicate address detection in $ns" settled "$ns"
done
wait_for 5 "cli to reach srv (IPv6)" cli ping -6 -c1 -W1 "$DST6"
# The pings are tagged flows too: start from an empty table (rtr's own).
rtr conntrack -F 2>/dev/null

log "the flows"
# rx NAME: the bytes the sink of flow NAME has received so far.
rx() { cat "$EG_DIR/$1.rx" 2>/dev/null || echo 0; }
# flow NAME ADDR PORT: a sink in srv, a source in cli, and a first 10 KiB.
flow() {
	start "sink-$1" "$NS_SRV" python3 -u "$FLOW" sink "$2" "$3" "$EG_DIR/$1.rx"
	local at="$2:$3"
	[[ $2 == *:* ]] && at="[$2]:$3"
	wait_for 5 "the sink of $1" listening "$NS_SRV" tcp "$at"
	start "source-$1" "$NS_CLI" python3 -u "$FLOW" source "$2" "$3"
	wait_for 5 "$1 to transfer" atleast 10240 rx "$1"
}
flow kill "$DST" 5001
flow kill6 "$DST6" 5001
flow keep "$KEEP" 5001
flow other "$DST" 5003
start udp-echo "$NS_SRV" python3 -u "$FLOW" udp-echo "$DST" 5002
wait_for 5 "the UDP echo" listening "$NS_SRV" udp "$DST:5002"
cli python3 "$FLOW" udp-once "$DST" 5002 || die "no UDP answer"

# entries FAMILY MARK[/MASK]: rtr's conntrack entries of that family whose
# mark & MASK == MARK, as "PROTO DST:DPORT" (the original direction), sorted,
# one a line.
entries() {
	rtr conntrack -L -f "$1" -m "$2" 2>/dev/null |
		awk '{ d = ""; p = ""
			for (i = 1; i <= NF; i++) {
				if (d == "" && $i ~ /^dst=/) d = substr($i, 5)
				if (p == "" && $i ~ /^dport=/) p = substr($i, 7)
			}
			print $1, d ":" p }' | sort
}
# expect WHAT GOT WANT: GOT and WANT are the same text.
expect() {
	[[ $2 == "$3" ]] || die "$1: got '${2//$'\n'/, }', want '${3//$'\n'/, }'"
	echo "$1: ok"
}

expect "the tagged IPv4 entries" "$(entries ipv4 $TAG/$MASK)" \
	"$(printf '%s\n' "tcp $DST:5001" "tcp $KEEP:5001" "udp $DST:5002" | sort)"
expect "the tagged IPv6 entries" "$(entries ipv6 $TAG/$MASK)" "tcp $DST6:5001"
expect "the other tag's entries" "$(entries ipv4 $OTHER)" "tcp $DST:5003"

log "ctkill: the UDP flow alone, then the rest to $DST, then IPv6"
expect "ctkill --proto udp" "$(rtr "$CTKILL" $TAG $MASK --dst "$DST/32" --proto udp)" 1
expect "entries after --proto udp" "$(entries ipv4 $TAG/$MASK)" \
	"$(printf '%s\n' "tcp $DST:5001" "tcp $KEEP:5001")"
expect "ctkill --dst $DST/32" "$(rtr "$CTKILL" $TAG $MASK --dst "$DST/32")" 1
expect "ctkill --dst 2001:db8:2::/64" "$(rtr "$CTKILL" $TAG $MASK --dst 2001:db8:2::/64)" 1
expect "the tagged IPv4 entries left" "$(entries ipv4 $TAG/$MASK)" "tcp $KEEP:5001"
expect "the tagged IPv6 entries left" "$(entries ipv6 $TAG/$MASK)" ""
expect "the other tag's entries left" "$(entries ipv4 $OTHER)" "tcp $DST:5003"
expect "ctkill again" "$(rtr "$CTKILL" $TAG $MASK --dst "$DST/32")" 0

log "the killed TCP flows stop, the others go on"
# What was in flight at the kill has arrived after a second.
sleep 1
declare -A before
for f in kill kill6 keep other; do
	before[$f]=$(rx "$f")
done
sleep 3
for f in kill kill6; do
	[[ $(rx "$f") == "${before[$f]}" ]] ||
		die "$f: still transferring after its entry was deleted (${before[$f]} -> $(rx "$f") bytes)"
	echo "$f: stopped at ${before[$f]} bytes"
done
for f in keep other; do
	(($(rx "$f") > before[$f] + 10240)) ||
		die "$f: stalled (${before[$f]} -> $(rx "$f") bytes)"
	echo "$f: ${before[$f]} -> $(rx "$f") bytes"
done
dropped=$(rtr nft list counter inet ctkill midstream | awk '$1 == "packets" { print $2 }')
((dropped > 0)) || die "no mid-stream packet was dropped"
echo "mid-stream packets dropped: $dropped"
expect "the tagged IPv4 entries, still" "$(entries ipv4 $TAG/$MASK)" "tcp $KEEP:5001"

log "without the SYN check, conntrack picks the killed flow up again mid-stream"
# one transaction: the chain is never empty in between
{
	echo "flush chain inet ctkill forward"
	ruleset 0
} | rtr nft -f -
wait_for 20 "kill to transfer again" atleast $((before[kill] + 10240)) rx kill
expect "the tagged IPv4 entries, picked up" "$(entries ipv4 $TAG/$MASK)" \
	"$(printf '%s\n' "tcp $DST:5001" "tcp $KEEP:5001")"
echo "ok"
