#!/usr/bin/env bash
# The kill switch: edged with route_all (kill_switch on by default) lets
# nothing out of edge1 but its tunnel to the gateway, in every state: locked
# down before it starts, connecting to a gateway that is not there,
# connected (also when a more specific route points outside the tunnel),
# with the gateway killed, and with edged itself killed. A clean stop
# (SIGTERM, or `edged --down` after a kill) opens the host again: then the
# same probes are seen, the positive control. With the kill switch off and
# no address6, IPv6 is routed into the TUN, where nothing takes it: it does
# not leave either.
#
# What leaves edge1 is counted by the router it hangs off (ns inet), before
# anything else there sees it: every IPv4 and IPv6 packet from edge1's LAN
# addresses but its tunnel (UDP to 198.51.100.1:51820) and neighbour
# discovery. The probes: ICMP echo, TCP, UDP and DNS (UDP and TCP port 53)
# over both families, to the router on the LAN and to the internet host.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

topology
keys gateway edge1
edge_yaml edge1 >"$EG_DIR/edge1.yaml"
gateway_yaml edge1 >"$EG_DIR/gateway.yaml"

inet nft -f - <<'NFT'
table inet leakwatch {
	counter leaked {}
	counter leaked6 {}
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		ip daddr 198.51.100.1 udp dport 51820 return
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } return
		ip6 saddr 2001:db8:2::2 ip6 daddr 2001:db8:80::/64 counter name leaked6
		ip saddr 192.0.2.2 counter name leaked
		ip6 saddr 2001:db8:2::2 counter name leaked
	}
}
NFT
e1 nft -f - <<'NFT'
table ip foreign {
	counter kept {}
	chain out {
		type filter hook output priority 100; policy accept;
		counter name kept
	}
}
NFT
# Its rules (the counter's numbers live in the counter, not in the chain).
foreign_rules() { e1 nft list chain ip foreign out; }
foreign_before=$(foreign_rules)

leaked() { inet nft list counter inet leakwatch leaked | awk '$1 == "packets" { print $2 }'; }

# probes: each probe once; none of them waits long for an answer.
probes() {
	local a
	for a in 192.0.2.1 "$HOST" 2001:db8:2::1 "$HOST6"; do
		e1 ping -c1 -W1 "$a" >/dev/null 2>&1 || true
		e1 timeout 1 bash -c "echo probe >/dev/tcp/$a/80" 2>/dev/null || true
		e1 timeout 1 bash -c "echo probe >/dev/udp/$a/9" 2>/dev/null || true
		e1 timeout 1 bash -c "echo probe >/dev/udp/$a/53" 2>/dev/null || true
		e1 timeout 1 bash -c "echo probe >/dev/tcp/$a/53" 2>/dev/null || true
	done
}

# closed STATE: the probes leave nothing.
closed() {
	local before after
	before=$(leaked)
	probes
	after=$(leaked)
	echo "$1: $((after - before)) packets left outside the tunnel"
	((after == before)) || die "$1: $((after - before)) packets left outside the tunnel"
	e1 nft list table inet egress-edge >/dev/null || die "$1: no table inet egress-edge"
}

# open STATE: the probes are seen (the positive control).
open() {
	local before after
	before=$(leaked)
	probes
	after=$(leaked)
	echo "$1: $((after - before)) packets of the probes seen"
	((after - before >= 10)) || die "$1: only $((after - before)) probe packets seen"
	! e1 nft list table inet egress-edge >/dev/null 2>&1 || die "$1: table inet egress-edge left"
}

log "no edged yet: the probes leave (the control)"
open "before edged"

log "edged --lockdown: closed before edged runs"
e1 "$EDGED" --lockdown -c "$EG_DIR/edge1.yaml"
[[ -e $EG_DIR/state-edge1/killswitch ]] || die "--lockdown wrote no state"
closed "locked down"

log "a start that fails after a lockdown leaves the host closed"
e1 ip route add default via 192.0.2.1 table 51820
rc=0
e1 "$EDGED" -c "$EG_DIR/edge1.yaml" >"$EG_DIR/failed.log" 2>&1 || rc=$?
e1 ip route del default via 192.0.2.1 table 51820
[[ $rc != 0 ]] || die "edged started with its routing table taken"
grep "stays in place, as it was before this start" "$EG_DIR/failed.log" >/dev/null ||
	die "the failed start does not say the kill switch stays"
closed "after a failed start"

log "edged connecting to a gateway that is not running yet"
start edged-edge1 "$NS_E1" "$EDGED" -c "$EG_DIR/edge1.yaml" -v
wait_for 10 "edged's default route" nonempty e1 ip route show table 51820 default dev "$TUN_IF"
[[ $(seen edged-edge1 "kill switch on") == 1 ]] || die "edged did not say the kill switch is on"
[[ $(seen edged-edge1 "a lockdown ran") == 1 ]] || die "edged did not say it took the lockdown over"
closed "connecting"

log "edged --down while edged runs: refused, nothing changes"
rc=0
e1 "$EDGED" --down -c "$EG_DIR/edge1.yaml" 2>"$EG_DIR/down.err" || rc=$?
cat "$EG_DIR/down.err"
[[ $rc == 1 ]] || die "edged --down beside a running edged: exit status $rc, want 1"
grep "is running with state_dir" "$EG_DIR/down.err" >/dev/null || die "the refusal does not say why"
closed "after the refused --down"

log "connected: the host is reached through the tunnel, nothing else leaves"
start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml" -v
wait_for 10 "the handshake (ping $HOST through the tunnel)" e1 ping -c1 -W1 "$HOST"
closed "connected"

log "connected, with a more specific route to the host outside the tunnel (TunnelVision)"
e1 ip route add 203.0.113.0/24 via 192.0.2.1 dev eth0
closed "connected, with 203.0.113.0/24 via eth0"
e1 ip route del 203.0.113.0/24 via 192.0.2.1 dev eth0
wait_for 10 "the host through the tunnel again" e1 ping -c1 -W1 "$HOST"

log "the gateway killed"
stop gatewayd KILL || true
closed "gateway killed"

log "edged killed with SIGKILL: the host stays closed"
stop edged-edge1 KILL || true
! e1 ip link show "$TUN_IF" >/dev/null 2>&1 || die "the TUN outlived edged"
closed "edged killed"

log "edged again: it takes the dead one's kill switch and rules over; SIGTERM opens the host"
start edged-edge1 "$NS_E1" "$EDGED" -c "$EG_DIR/edge1.yaml" -v
wait_for 10 "edged's default route" nonempty e1 ip route show table 51820 default dev "$TUN_IF"
[[ $(seen edged-edge1 "did not stop cleanly, or a lockdown ran") == 1 ]] ||
	die "edged did not find the dead one's state"
[[ $(seen edged-edge1 "removed 2 routing rules") == 1 ]] || die "edged did not remove the dead one's rules"
[[ $(e1 ip rule | grep -c "not from all fwmark") == 1 ]] || {
	e1 ip rule
	die "the dead edged's rule is still there beside the new one's"
}
closed "edged restarted"
stop edged-edge1 TERM
[[ ! -e $EG_DIR/state-edge1/killswitch ]] || die "a clean stop left the state file"
open "after SIGTERM"

log "edged killed, then edged --down: the table, the rules and the state go"
start edged-edge1 "$NS_E1" "$EDGED" -c "$EG_DIR/edge1.yaml" -v
wait_for 10 "edged's default route" nonempty e1 ip route show table 51820 default dev "$TUN_IF"
stop edged-edge1 KILL || true
closed "edged killed again"
e1 "$EDGED" --down -c "$EG_DIR/edge1.yaml"
[[ ! -e $EG_DIR/state-edge1/killswitch ]] || die "--down left the state file"
! e1 ip rule | grep "fwmark" >/dev/null || {
	e1 ip rule
	die "--down left the dead edged's rules"
}
open "after --down"
e1 "$EDGED" --down -c "$EG_DIR/edge1.yaml" 2>&1 | grep "no kill switch was in place" >/dev/null ||
	die "a second --down does not say there was nothing to remove"

log "kill_switch: false, no address6: IPv6 to the host still does not leave (into the TUN, no further)"
leaked6() { inet nft list counter inet leakwatch leaked6 | awk '$1 == "packets" { print $2 }'; }
probes6() {
	e1 ping -6 -c1 -W1 "$HOST6" >/dev/null 2>&1 || true
	e1 timeout 1 bash -c "echo probe >/dev/tcp/$HOST6/80" 2>/dev/null || true
	e1 timeout 1 bash -c "echo probe >/dev/udp/$HOST6/9" 2>/dev/null || true
}
before=$(leaked6)
probes6
(($(leaked6) > before)) || die "without edged the IPv6 probes were not seen (the control)"
EDGE_KILL_SWITCH=false edge_yaml edge1 >"$EG_DIR/edge1-open.yaml"
start edged-edge1 "$NS_E1" "$EDGED" -c "$EG_DIR/edge1-open.yaml" -v
wait_for 10 "edged's IPv6 default route" nonempty e1 ip -6 route show table 51820 default dev "$TUN_IF"
before=$(leaked6)
probes6
after=$(leaked6)
echo "kill switch off: $((after - before)) IPv6 packets to the host left outside the tunnel"
((after == before)) || die "kill switch off: IPv6 without address6 left edge1"
stop edged-edge1 TERM

log "the foreign table was never touched"
[[ $(foreign_rules) == "$foreign_before" ]] || die "table ip foreign changed"
[[ $(e1 nft list counter ip foreign kept | awk '$1 == "packets" { print $2 }') -gt 0 ]] ||
	die "table ip foreign's output chain counted nothing: was it hooked?"
echo PASS
