#!/usr/bin/env bash
# gatewayctl client add and client remove on a running gatewayd, with no
# restart: a new client gets the next free address and connects with what
# it was given, as edged (--out DIR: edge.yaml and its key) and as a stock
# WireGuard client (wireguard-go from the printed wg-quick configuration,
# with a preshared key); edge1, connected all along, loses no ping; remove
# cuts the client at once and is refused while the policy in force names it.
# The flow log names the added client's flows, and the removed one's ends.
#
#   edge1 (edged, 100.64.0.2) --+
#                               +-- inet -- gw (gatewayd, endpoint: 198.51.100.1:51820) -- host
#   edge2 (carol: edged,        |
#          then dave: wireguard-go)
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

topology
web_start
keys gateway edge1

log "gatewayd with edge1 and endpoint: $GW_ENDPOINT; edged on edge1"
{
	gateway_yaml edge1
	echo "# where clients dial us"
	echo "endpoint: \"$GW_ENDPOINT\""
	echo "flow_log: flows.log"
	echo "flow_log_new: true"
} >"$EG_DIR/gateway.yaml"
start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml" -v
wait_for 10 "gatewayd's table inet egress" gw nft list table inet egress
wait_for 10 "gatewayd's UDP port 51820" listening "$NS_GW" udp ":51820"
edged_start edge1
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"

# Through edge1 for the whole test: it must lose nothing.
start ping1 "$NS_E1" ping -i 0.1 "$HOST"

log "client add carol --out: nothing changes when a file of --out exists"
mkdir -p "$EG_DIR/carol"
touch "$EG_DIR/carol/edge.key"
cp "$EG_DIR/gateway.yaml" "$EG_DIR/gateway.yaml.before"
rc=0
ctl client add carol --out "$EG_DIR/carol" >"$EG_DIR/carol.out" 2>&1 || rc=$?
cat "$EG_DIR/carol.out"
[[ $rc == 1 ]] || die "client add into a directory with edge.key: exit status $rc, want 1"
cmp "$EG_DIR/gateway.yaml" "$EG_DIR/gateway.yaml.before" || die "gateway.yaml changed"
rm "$EG_DIR/carol/edge.key"

log "client add carol --out: the next free address, gateway.yaml edited, no restart"
ctl client add carol --out "$EG_DIR/carol" >"$EG_DIR/carol.conf"
grep -qx "Address = 100.64.0.3/32" "$EG_DIR/carol.conf" || die "carol is not 100.64.0.3"
grep -qx "Endpoint = $GW_ENDPOINT" "$EG_DIR/carol.conf" || die "carol's endpoint"
cmp "$EG_DIR/carol.conf" "$EG_DIR/carol/carol.conf" || die "carol.conf differs from what was printed"
[[ $(stat -c %a "$EG_DIR/carol/edge.key") == 600 ]] || die "edge.key is not 0600"
grep -q "name: carol" "$EG_DIR/gateway.yaml" || die "carol is not in gateway.yaml"
grep -q "^# where clients dial us$" "$EG_DIR/gateway.yaml" || die "gateway.yaml lost a comment"
running gatewayd || die "gatewayd is gone"
ctl status | grep "2 configured" >/dev/null || die "gatewayd does not count carol"

log "carol connects from edge2 with edged and the edge.yaml she was given"
# Two lines added: a state_dir and a control socket of the test's own, not
# the host's /run/egress.
printf 'state_dir: state-carol\ncontrol_socket: run-carol/edged.sock\n' >>"$EG_DIR/carol/edge.yaml"
start edged-carol "$NS_E2" "$EDGED" -c "$EG_DIR/carol/edge.yaml" -v
wait_for 10 "carol's handshake" e2 ping -c1 -W1 "$HOST"
e2 ping -q -c5 -i0.2 -W2 "$HOST"
stop edged-carol
# The flow log knows a client added while gatewayd runs.
flow_logged() { grep -q "\"event\":\"$1\",[^}]*\"client\":\"$2\"" "$EG_DIR/flows.log"; }
wait_for 5 "carol's ping in the flow log" flow_logged new carol

log "client add dave --psk: wireguard-go from the printed wg-quick configuration"
ctl client add dave --psk >"$EG_DIR/dave.conf"
cat "$EG_DIR/dave.conf"
grep -q "^PresharedKey = " "$EG_DIR/dave.conf" || die "dave's configuration has no PresharedKey"
[[ $(stat -c %a "$EG_DIR/dave.psk") == 600 ]] || die "dave.psk beside gateway.yaml is not 0600"
grep -q "preshared_key_file: .*dave.psk" "$EG_DIR/gateway.yaml" || die "dave's psk not in gateway.yaml"
dev=$(wggo_if edge2)
wggo_start wggo-dave "$NS_E2" "$dev"
wg-quick strip "$EG_DIR/dave.conf" >"$EG_DIR/dave.stripped"
e2 wg setconf "$dev" "$EG_DIR/dave.stripped"
e2 wg set "$dev" fwmark 51820
dave_addr=$(awk -F' = ' '$1 == "Address" { print $2 }' "$EG_DIR/dave.conf")
[[ $dave_addr == 100.64.0.4/32 ]] || die "dave is $dave_addr, not 100.64.0.4/32"
addr "$NS_E2" "$dev" "$dave_addr"
e2 ip link set "$dev" mtu "$(awk -F' = ' '$1 == "MTU" { print $2 }' "$EG_DIR/dave.conf")" up
e2 ip route add default dev "$dev" table 51820
e2 ip rule add not fwmark 51820 table 51820
e2 ip rule add table main suppress_prefixlength 0
wait_for 10 "dave's handshake" e2 ping -c1 -W1 "$HOST"
e2 ping -q -c5 -i0.2 -W2 "$HOST"

log "client remove dave: cut at once, gone from gateway.yaml"
ctl client remove dave
if e2 ping -c3 -W1 "$HOST"; then
	die "dave still reaches the host after client remove"
fi
! grep -q "name: dave" "$EG_DIR/gateway.yaml" || die "dave is still in gateway.yaml"
wait_for 5 "the end of dave's flows in the flow log, under his name" flow_logged end dave

log "client remove carol: refused while the policy names her"
cat >"$EG_DIR/policy-carol.yaml" <<-EOF
	version: 1
	default: deny
	rules:
	  - {name: carol-web, from: [carol], to: [internet], ports: [tcp/80], action: allow}
	  - {name: internet, from: [any], to: [internet], action: allow}
EOF
ctl policy apply "$EG_DIR/policy-carol.yaml"
rc=0
ctl client remove carol >"$EG_DIR/remove.out" 2>&1 || rc=$?
cat "$EG_DIR/remove.out"
[[ $rc == 1 ]] || die "client remove carol under a policy naming her: exit status $rc, want 1"
grep -q "carol-web" "$EG_DIR/remove.out" || die "the refusal does not name rule carol-web"
grep -q "name: carol" "$EG_DIR/gateway.yaml" || die "carol left gateway.yaml"
sed '/carol-web/d' "$EG_DIR/policy-carol.yaml" >"$EG_DIR/policy.yaml.new"
ctl policy apply "$EG_DIR/policy.yaml.new"
ctl client remove carol
ctl status | grep "1 configured" >/dev/null || die "gatewayd still counts removed clients"

log "the edits took gateway.yaml's index; after a hand edit the next one parses the file"
# index_edits NAME: how many of NAME's adds and removes took the index.
index_edits() { grep -c "client $1: .* edited by its index" "$EG_DIR/gatewayd.log" || true; }
[[ $(index_edits carol) == 2 && $(index_edits dave) == 2 ]] ||
	die "carol's and dave's adds and removes did not all take the index" \
		"($(index_edits carol) and $(index_edits dave) of 2 each)"
echo "# edited by hand" >>"$EG_DIR/gateway.yaml"
ctl client add erin >/dev/null
[[ $(index_edits erin) == 0 ]] || die "erin's add took the index of a text since changed"
grep -qx "# edited by hand" "$EG_DIR/gateway.yaml" || die "erin's add lost the hand edit"
grep -q "name: erin" "$EG_DIR/gateway.yaml" || die "erin is not in gateway.yaml"
# shellcheck disable=SC2016 # the index is made anew from the file now
wait_for 10 "gateway.yaml indexed again" \
	bash -c '(( $(grep -c "indexed (" "$1") >= 2 ))' _ "$EG_DIR/gatewayd.log"
ctl client remove erin >/dev/null
[[ $(index_edits erin) == 1 ]] || die "erin's remove did not take the new index"
! grep -q "name: erin" "$EG_DIR/gateway.yaml" || die "erin is still in gateway.yaml"
ctl status | grep "1 configured" >/dev/null || die "gatewayd does not count 1 client after erin"

log "edge1 lost nothing meanwhile"
stop ping1 INT || true
tail -n 3 "$EG_DIR/ping1.log"
read -r sent got < <(awk '/packets transmitted/ { print $1, $4 }' "$EG_DIR/ping1.log")
((sent > 0 && sent == got)) || die "edge1's ping: $got of $sent answered"
echo PASS
