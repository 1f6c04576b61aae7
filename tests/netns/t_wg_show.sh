#!/usr/bin/env bash
# `wg show` on both daemons, with Debian's wg(8):
#   - gatewayd with two clients, edge1 on edged (with a preshared key) and
#     edge2 on wireguard-go: after pings and a download, `wg show IF dump` in
#     the gateway's namespace has the gateway's keys and port and both peers
#     with their public and preshared keys, the endpoints and byte counts that
#     SIGUSR1 logs, their allowed IPs and a recent handshake; and the
#     endpoints, handshake times and byte counts of `gatewayctl clients`;
#   - `wg show` on edged has its keys, port (the one the gateway sees), fwmark,
#     the gateway with its endpoint, allowed IPs and keepalive, and bytes that
#     match the gateway's the other way round; wireguard-go, which counts
#     bytes on the wire, counts more than gatewayd's inner packets;
#   - `edged status` has the endpoint, handshake and bytes of `wg show`;
#   - `wg set` is refused ("Operation not permitted"), logged, and changes
#     nothing; a second daemon with the interface name of a running one
#     refuses to start and leaves the first one serving;
#   - SIGTERM removes the socket; SIGKILL leaves it, and the next gatewayd
#     replaces it.
#
#   edge1 (edged, eg<pid>e) --------+
#                                    +-- br0 -- router -- gateway (gatewayd, eg<pid>g) -- host
#   edge2 (wireguard-go, wg<pid>2) --+
#
# The sockets are in /var/run/wireguard, the host's, which every namespace
# sees: the interface names carry the run's pid, and cleanup removes the
# sockets a killed daemon would leave.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

WG_SOCKET_DIR=/var/run/wireguard
GW_IF=eg$$g
E1_IF=eg$$e
E2_IF=$(wggo_if edge2)
for i in "$GW_IF" "$E1_IF" "$E2_IF"; do
	[[ ! -e $WG_SOCKET_DIR/$i.sock ]] || die "$WG_SOCKET_DIR/$i.sock exists before the test"
	EG_FILES+=("$WG_SOCKET_DIR/$i.sock")
done

# dump_peer NS IF PUB: PUB's line of `wg show IF dump` in NS.
dump_peer() { n "$1" wg show "$2" dump | awk -v k="$3" 'NR > 1 && $1 == k'; }
# field N LINE: the Nth tab-separated field.
field() { cut -f"$1" <<<"$2"; }
# usr1 NAME: "ENDPOINT RX TX" from gatewayd's last SIGUSR1 line of client NAME.
usr1() {
	grep "peer $1:" "$EG_DIR/gatewayd.log" | tail -n 1 |
		sed -E 's/.*endpoint ([^,]*),.* rx [0-9]+ packets ([0-9]+) bytes, tx [0-9]+ packets ([0-9]+) bytes.*/\1 \2 \3/'
}
# close_to WHAT A B: A and B agree within 1% and 500 bytes.
close_to() {
	local d=$(($2 - $3))
	((d < 0)) && d=$((-d))
	((d <= $2 / 100 + 500)) || die "$1: $2 and $3 differ by $d"
	echo "$1: $2 ~ $3"
}
# recent WHAT UNIX: a handshake at UNIX (seconds) within the last 3 minutes.
recent() {
	local age=$(($(date +%s) - $2))
	(($2 > 0 && age >= 0 && age < 180)) || die "$1: latest handshake $2 is not recent (age $age s)"
}

topology
web_start
keys gateway edge1 edge2
psk edge1
sum=$(web_file one.bin 1)

log "gatewayd ($GW_IF), edged on edge1 ($E1_IF), wireguard-go on edge2 ($E2_IF)"
TUN_IF=$GW_IF gatewayd_start edge1 edge2
[[ $(stat -c '%a %U %F' "$WG_SOCKET_DIR/$GW_IF.sock") == "600 root socket" ]] ||
	die "the socket is not a 0600 socket of root's: $(stat -c '%a %U %F' "$WG_SOCKET_DIR/$GW_IF.sock")"
TUN_IF=$E1_IF edged_start edge1
wggo_edge edge2
ping_and_fetch "$NS_E1" one.bin "$sum"
ping_and_fetch "$NS_E2" one.bin "$sum"

log "wg show on the gateway, beside SIGUSR1's counters"
before=$(seen gatewayd "peer edge2:")
kill -USR1 "${EG_PIDS[gatewayd]}"
wait_for 5 "gatewayd's counters" atleast $((before + 1)) seen gatewayd "peer edge2:"
gw wg show "$GW_IF" dump >"$EG_DIR/gw.dump"
gw wg show "$GW_IF"
grep "peer edge" "$EG_DIR/gatewayd.log" | tail -n 2
iface=$(head -n 1 "$EG_DIR/gw.dump")
[[ $iface == "$(cat "$EG_DIR/gateway.key")	$(pub gateway)	51820	off" ]] ||
	die "the gateway's line: $iface"
[[ $(wc -l <"$EG_DIR/gw.dump") == 3 ]] || die "not two peers in the dump"
for c in edge1 edge2; do
	line=$(dump_peer "$NS_GW" "$GW_IF" "$(pub "$c")")
	[[ -n $line ]] || die "$c is not in the dump"
	read -r ep rx tx <<<"$(usr1 "$c")"
	want_psk="(none)"
	[[ $c == edge1 ]] && want_psk=$(cat "$EG_DIR/$c.psk")
	[[ $(field 2 "$line") == "$want_psk" ]] || die "$c: preshared key $(field 2 "$line")"
	[[ $(field 3 "$line") == "$ep" && $ep == 192.0.2.* ]] ||
		die "$c: endpoint $(field 3 "$line"), SIGUSR1 says $ep"
	[[ $(field 4 "$line") == "$(tun_addr "$c")/32" ]] || die "$c: allowed ips $(field 4 "$line")"
	recent "$c" "$(field 5 "$line")"
	close_to "$c received" "$(field 6 "$line")" "$rx"
	close_to "$c sent" "$(field 7 "$line")" "$tx"
	(($(field 7 "$line") > 1048576)) || die "$c: less than the download sent"
	[[ $(field 8 "$line") == off ]] || die "$c: keepalive $(field 8 "$line")"
done
gw_e1=$(dump_peer "$NS_GW" "$GW_IF" "$(pub edge1)")
gw_e2=$(dump_peer "$NS_GW" "$GW_IF" "$(pub edge2)")

log "wg show beside gatewayctl clients"
ctl clients --json >"$EG_DIR/clients.json"
for c in edge1 edge2; do
	line=$(dump_peer "$NS_GW" "$GW_IF" "$(pub "$c")")
	read -r ep hs rx tx < <(python3 -c 'import json, sys
c = [c for c in json.load(open(sys.argv[1]))["data"] if c["name"] == sys.argv[2]][0]
print(c["endpoint"], c["last_handshake_unix"], c["rx_bytes"], c["tx_bytes"])' "$EG_DIR/clients.json" "$c")
	[[ $(field 3 "$line") == "$ep" ]] || die "$c: wg show's endpoint $(field 3 "$line"), clients' $ep"
	d=$(($(field 5 "$line") - hs))
	((d >= 0 && d <= 2)) || die "$c: wg show's handshake $(field 5 "$line"), clients' $hs"
	close_to "$c received, wg show and clients" "$(field 6 "$line")" "$rx"
	close_to "$c sent, wg show and clients" "$(field 7 "$line")" "$tx"
done

log "wg show on edged"
e1 wg show "$E1_IF"
e1 wg show "$E1_IF" dump >"$EG_DIR/e1.dump"
iface=$(head -n 1 "$EG_DIR/e1.dump")
ep_port=$(field 3 "$gw_e1" | sed 's/.*://')
[[ $iface == "$(cat "$EG_DIR/edge1.key")	$(pub edge1)	$ep_port	0xca6c" ]] ||
	die "edge1's line: $iface (the gateway sees port $ep_port)"
line=$(dump_peer "$NS_E1" "$E1_IF" "$(pub gateway)")
[[ $(field 2 "$line") == "$(cat "$EG_DIR/edge1.psk")" ]] || die "edge1's preshared key"
[[ $(field 3 "$line") == "$GW_ENDPOINT" ]] || die "edge1's gateway endpoint $(field 3 "$line")"
[[ $(field 4 "$line") == 0.0.0.0/0 ]] || die "edge1's allowed ips $(field 4 "$line")"
recent "edge1's gateway" "$(field 5 "$line")"
close_to "edge1 received, as the gateway sent" "$(field 6 "$line")" "$(field 7 "$gw_e1")"
close_to "edge1 sent, as the gateway received" "$(field 7 "$line")" "$(field 6 "$gw_e1")"
[[ $(field 8 "$line") == 25 ]] || die "edge1's keepalive $(field 8 "$line")"

log "edged status says what wg show says"
status=$(e1 "$EDGED" status --json -c "$EG_DIR/edge1.yaml")
st() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])["data"][sys.argv[2]])' "$status" "$1"; }
e1 "$EDGED" status -c "$EG_DIR/edge1.yaml"
[[ $(st state) == connected ]] || die "edged status: $(st state)"
[[ $(st interface) == "$E1_IF" ]] || die "edged status: interface $(st interface)"
[[ $(st gateway) == "$(field 3 "$line")" ]] || die "edged status: gateway $(st gateway)"
[[ $(st last_handshake_unix) == "$(field 5 "$line")" ]] ||
	die "edged status: last handshake $(st last_handshake_unix), wg show $(field 5 "$line")"
close_to "edged status received, as wg show" "$(st rx_bytes)" "$(field 6 "$line")"
close_to "edged status sent, as wg show" "$(st tx_bytes)" "$(field 7 "$line")"

log "wireguard-go counts bytes on the wire, gatewayd the packets inside"
line=$(dump_peer "$NS_E2" "$E2_IF" "$(pub gateway)")
echo "edge2 sent $(field 7 "$line") bytes on the wire; gatewayd received $(field 6 "$gw_e2") in packets"
(($(field 7 "$line") > $(field 6 "$gw_e2"))) || die "wireguard-go counted fewer bytes than gatewayd"

log "wg set is refused and changes nothing"
before=$(gw wg show "$GW_IF" dump | cut -f1-4)
if gw wg set "$GW_IF" peer "$(pub edge1)" remove 2>"$EG_DIR/set.err"; then
	die "wg set succeeded"
fi
cat "$EG_DIR/set.err"
grep -q "Operation not permitted" "$EG_DIR/set.err" || die "wg set: not EPERM"
gw wg showconf "$GW_IF" | sed '/^\[Peer\]/,$d' >"$EG_DIR/gw.conf" # no peers: setconf would drop them
if gw wg setconf "$GW_IF" "$EG_DIR/gw.conf" 2>/dev/null; then die "wg setconf succeeded"; fi
[[ $(gw wg show "$GW_IF" dump | cut -f1-4) == "$before" ]] || die "wg set changed the peers"
wait_for 5 "gatewayd's line on the set" atleast 1 seen gatewayd "refused a set (wg set)"
if e1 wg set "$E1_IF" listen-port 4242 2>/dev/null; then die "wg set on edged succeeded"; fi
[[ $(e1 wg show "$E1_IF" listen-port) == "$ep_port" ]] || die "edged's port changed"
e1 ping -c1 -W2 "$HOST" >/dev/null || die "edge1 lost its tunnel"

log "a second daemon with the same interface name refuses to start"
edge_yaml edge2 | sed -e "s/^interface: .*/interface: $GW_IF/" -e "s/^route_all: true/route_all: false/" \
	>"$EG_DIR/second.yaml"
refused second "$NS_E2" "$WG_SOCKET_DIR/$GW_IF.sock: another server answers on it" \
	"$EDGED" -c "$EG_DIR/second.yaml"
[[ $(gw wg show "$GW_IF" public-key) == "$(pub gateway)" ]] || die "gatewayd's socket is gone"

log "SIGTERM removes the sockets"
stop edged-edge1 || die "edged did not exit cleanly"
[[ ! -e $WG_SOCKET_DIR/$E1_IF.sock ]] || die "edged left its socket"
stop gatewayd || die "gatewayd did not exit cleanly"
[[ ! -e $WG_SOCKET_DIR/$GW_IF.sock ]] || die "gatewayd left its socket"

log "SIGKILL leaves a stale socket, which the next gatewayd replaces"
TUN_IF=$GW_IF gatewayd_start edge1 edge2
stop gatewayd KILL || true
[[ -S $WG_SOCKET_DIR/$GW_IF.sock ]] || die "no stale socket after SIGKILL"
wait_for 5 "the table to go" eval '! gw nft list table inet egress'
wait_for 5 "the TUN to go" eval "! gw ip link show $GW_IF"
TUN_IF=$GW_IF gatewayd_start edge1 edge2
grep "stale socket" "$EG_DIR/gatewayd.log"
[[ $(seen gatewayd "replaced the stale socket $WG_SOCKET_DIR/$GW_IF.sock") == 1 ]] ||
	die "the stale socket was not replaced"
[[ $(gw wg show "$GW_IF" peers | sort) == "$(printf '%s\n' "$(pub edge1)" "$(pub edge2)" | sort)" ]] ||
	die "wg show after the restart"
stop gatewayd || die "gatewayd did not exit cleanly"
[[ ! -e $WG_SOCKET_DIR/$GW_IF.sock ]] || die "gatewayd left its socket"

echo PASS
