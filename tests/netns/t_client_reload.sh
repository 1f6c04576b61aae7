#!/usr/bin/env bash
# SIGHUP re-reads gateway.yaml's client list, all or nothing:
#   - a client added to the file can connect after SIGHUP; edge1, unchanged,
#     keeps its session (no new handshake) and its ping loses nothing;
#   - removing a client the policy in force names is refused: nothing
#     changes, the log says why, the client still works;
#   - once the policy no longer names it, removing it cuts it: no more
#     traffic, its conntrack entries and its element of the client map are
#     gone, and edge1 is still undisturbed;
#   - an invalid gateway.yaml changes nothing, and the log names the line;
#   - a setting other than the clients is kept until the next start, and
#     the log says so.
#
#   edge1, edge2 -- br0 -- router -- gateway (gatewayd) -- router -- host
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

# hup: SIGHUP to gatewayd, and the log line that answers it, in $EG_DIR/hup.txt.
hup() {
	local before
	before=$(grep -c 'SIGHUP: ' "$EG_DIR/gatewayd.log" || true)
	kill -HUP "${EG_PIDS[gatewayd]}"
	wait_for 10 "gatewayd's answer to SIGHUP" \
		eval "(( \$(grep -c 'SIGHUP: ' '$EG_DIR/gatewayd.log') > $before ))"
	grep 'SIGHUP: ' "$EG_DIR/gatewayd.log" | tail -n +$((before + 1)) | tee "$EG_DIR/hup.txt"
}
handshakes() { grep -c "peer $1: handshake complete" "$EG_DIR/gatewayd.log" || true; }
map_has() { gw nft list map inet egress client_mark | grep "$1" >/dev/null; }
policy() {
	{
		printf 'version: 1\ndefault: allow\nrules:\n'
		printf '  - {name: echo, from: [any], to: [internet], ports: [icmp], action: allow}\n'
		[[ -n ${1:-} ]] &&
			printf '  - {name: web-%s, from: [%s], to: [%s], ports: [tcp/80], action: allow}\n' \
				"$1" "$1" "$HOST"
		return 0
	} >"$EG_DIR/policy.yaml"
}

topology
keys gateway edge1 edge2
policy
gatewayd_start edge1
wait_for 10 "the control socket" test -S "$EG_DIR/run/gatewayd.sock"
edged_start edge1
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
web_start
web_file big.bin 8 >/dev/null
start ping "$NS_E1" ping -q -i 0.05 -W 1 "$HOST"
hs1=$(handshakes edge1)

log "edge2 added to gateway.yaml: SIGHUP, and it connects"
gateway_yaml edge1 edge2 >"$EG_DIR/gateway.yaml"
hup
grep -q "SIGHUP: clients: 2 configured (1 added, 0 removed" "$EG_DIR/hup.txt" || die "SIGHUP: edge2 not added"
map_has "100.64.0.3" || die "edge2 is not in the client map"
edged_start edge2
wait_for 10 "edge2's handshake" e2 ping -c1 -W1 "$HOST"
e2 curl -sS --max-time 10 -o /dev/null "http://$HOST/" || die "edge2 cannot fetch"

log "removing edge2 while the policy names it: refused, nothing changes"
policy edge2
hup
grep -q "policy .* in force" "$EG_DIR/hup.txt" || die "the policy naming edge2 was not applied"
gateway_yaml edge1 >"$EG_DIR/gateway.yaml"
hup
grep -q "SIGHUP: nothing changed.*edge2" "$EG_DIR/hup.txt" ||
	die "removing a client the policy names was not refused with its name"
map_has "100.64.0.3" || die "edge2 left the client map after a refused change"
e2 ping -c1 -W2 "$HOST" >/dev/null || die "edge2 was cut by a refused change"

log "the policy no longer names edge2: removing it cuts it"
# a download in flight, whose conntrack entry must go with edge2
(e2 curl -sS --limit-rate 100k --max-time 30 -o "$EG_DIR/big.out" "http://$HOST/big.bin" \
	2>/dev/null || true) &
wait_for 10 "edge2's download" test -s "$EG_DIR/big.out"
gateway_yaml edge1 edge2 >"$EG_DIR/gateway.yaml"
policy
hup
grep -q "SIGHUP: clients: 2 configured (0 added, 0 removed" "$EG_DIR/hup.txt" ||
	die "SIGHUP: edge2 gone before it was removed from the file"
gateway_yaml edge1 >"$EG_DIR/gateway.yaml"
hup
grep -q "SIGHUP: clients: 1 configured (0 added, 1 removed" "$EG_DIR/hup.txt" || die "SIGHUP: edge2 not removed"
grep -q "SIGHUP: ended [1-9][0-9]* flows of clients removed" "$EG_DIR/gatewayd.log" ||
	die "edge2's flows were not ended"
! map_has "100.64.0.3" || die "edge2 is still in the client map"
! e2 ping -c2 -W1 "$HOST" >/dev/null 2>&1 || die "edge2 still reaches the host"
[[ $(gw conntrack -L -s 100.64.0.3 2>/dev/null | grep -c . || true) == 0 ]] ||
	die "edge2's conntrack entries are still there"

log "an invalid gateway.yaml changes nothing"
{
	gateway_yaml edge1 edge2
	echo "clients: [oops"
} >"$EG_DIR/gateway.yaml"
hup
grep -q "SIGHUP: nothing changed.*gateway.yaml:[0-9]*:[0-9]*: " "$EG_DIR/hup.txt" ||
	die "an invalid gateway.yaml: no refusal naming its line"
! map_has "100.64.0.3" || die "an invalid file changed the client map"

log "another mtu: kept until the next start, and said"
gateway_yaml edge1 | sed 's/^mtu: 1420/mtu: 1400/' >"$EG_DIR/gateway.yaml"
hup
grep -q "mtu (and any other setting but the clients) changes at the next start" \
	"$EG_DIR/hup.txt" || die "a changed mtu was not said to need a restart"
[[ $(gw cat "/sys/class/net/$TUN_IF/mtu") == 1420 ]] || die "the TUN's mtu changed"

log "edge1 was undisturbed throughout"
running ping || die "edge1's ping ended early"
stop ping INT || true
tail -n 2 "$EG_DIR/ping.log"
grep -Eq "^([0-9]+) packets transmitted, \1 received, 0% packet loss" "$EG_DIR/ping.log" ||
	die "edge1's ping lost packets across the reloads"
[[ $(handshakes edge1) == "$hs1" ]] || die "edge1 handshook again: its session was disturbed"

stop gatewayd
echo PASS
