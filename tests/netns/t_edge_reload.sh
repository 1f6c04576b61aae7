#!/usr/bin/env bash
# SIGHUP on edged (systemd's ExecReload): edge.yaml is read again and
# gateways, allow, allow_lan and dns applied all or nothing, the tunnel untouched (no new
# handshake, the same TUN) and the kill switch replaced in one transaction.
#   - An allow entry added opens that address, removed closes it again.
#   - A file that does not parse, or that changes a key only a restart
#     applies (interface, mtu), changes nothing at all, and says why.
#   - A second gateway listed: the one in use is kept, the kill switch lets
#     the tunnel reach the new one too.
# (t_edge_dns.sh changes dns by SIGHUP; t_teardown.sh checks that a SIGHUP
# with the file unchanged leaves the namespace exactly as it was.)
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

topology
keys gateway edge1 gateway9
gatewayd_start edge1
edged_start edge1
wait_for 10 "the handshake (ping $HOST)" e1 ping -c1 -W1 "$HOST"
cp "$EG_DIR/edge1.yaml" "$EG_DIR/edge1.orig.yaml"
tun=$(e1 cat "/sys/class/net/$TUN_IF/ifindex")

lan_ping() { e1 ping -c1 -W1 192.0.2.1 >/dev/null 2>&1; }
still_up() {
	running edged-edge1 || die "$1: edged exited"
	e1 ping -c1 -W1 "$HOST" >/dev/null || die "$1: the tunnel stopped carrying"
	[[ $(e1 cat "/sys/class/net/$TUN_IF/ifindex") == "$tun" ]] || die "$1: a new TUN"
	[[ $(seen edged-edge1 "handshake complete") == 1 ]] || die "$1: a new handshake"
}

log "the LAN's router is closed by the kill switch"
! lan_ping || die "ping to 192.0.2.1 left with the kill switch on"

log "allow: [192.0.2.1] added, SIGHUP: the router answers"
echo "allow: [192.0.2.1]" >>"$EG_DIR/edge1.yaml"
edged_hup edge1 "allow added" | grep "1 allow entries" || die "edged did not apply the allow entry"
lan_ping || die "ping to 192.0.2.1 is still dropped after the SIGHUP"
e1 nft list chain inet egress-edge output | grep "ip daddr 192.0.2.1 accept" >/dev/null ||
	die "the allow entry is not in the kill switch"
still_up "allow added"

log "a file that does not parse: nothing changes"
state=$(ns_state "$NS_E1")
cp "$EG_DIR/edge1.yaml" "$EG_DIR/edge1.good.yaml"
sed -i 's#^allow: .*#allow: [192.0.2.1/33]#' "$EG_DIR/edge1.yaml"
edged_hup edge1 "a bad file" | grep "nothing changed" || die "the bad file was not refused"
same_state "a bad file" "$NS_E1" "$state"
lan_ping || die "the allow entry went with a refused SIGHUP"
still_up "a bad file"

log "a key only a restart applies: nothing changes, the key is named"
sed -e 's/^interface: .*/interface: egress9/' -e '/^allow:/d' "$EG_DIR/edge1.good.yaml" >"$EG_DIR/edge1.yaml"
edged_hup edge1 "interface changed" | grep "interface changed in .*, which takes a restart: nothing changed" ||
	die "the changed interface was not refused"
same_state "interface changed" "$NS_E1" "$state"
sed -e 's/^mtu: .*/mtu: 1400/' -e '/^allow:/d' "$EG_DIR/edge1.good.yaml" >"$EG_DIR/edge1.yaml"
edged_hup edge1 "mtu changed" | grep "mtu changed" || die "the changed mtu was not refused"
same_state "mtu changed" "$NS_E1" "$state"
still_up "keys a restart applies"

log "a second gateway listed: the one in use kept, the kill switch lets the tunnel reach both"
# shellcheck disable=SC2016 # sed's $
sed -e 's/^gateway:$/gateways:/' -e 's/^  endpoint: \(.*\)/  - endpoint: \1/' \
	-e 's/^  public_key: /    public_key: /' -e '/^allow:/d' "$EG_DIR/edge1.good.yaml" >"$EG_DIR/edge1.yaml"
printf '  - endpoint: "198.51.100.9:51820"\n    public_key: "%s"\n' "$(pub gateway9)" >"$EG_DIR/second"
sed -i "/^    public_key: /r $EG_DIR/second" "$EG_DIR/edge1.yaml"
cat "$EG_DIR/edge1.yaml"
edged_hup edge1 "two gateways" | grep "applied: 2 gateways" || die "edged did not take the second gateway"
e1 nft list chain inet egress-edge output | grep "ip daddr 198.51.100.9 udp dport 51820 accept" >/dev/null ||
	die "the kill switch does not let the tunnel reach the second gateway"
still_up "two gateways"

log "the allow entry removed, SIGHUP: closed again"
cp "$EG_DIR/edge1.orig.yaml" "$EG_DIR/edge1.yaml"
edged_hup edge1 "allow removed" | grep "0 allow entries" || die "edged did not apply the file"
! lan_ping || die "ping to 192.0.2.1 still leaves after the entry went"
still_up "allow removed"

stop edged-edge1 TERM
! e1 nft list table inet egress-edge >/dev/null 2>&1 || die "the kill switch outlived SIGTERM"
echo PASS
