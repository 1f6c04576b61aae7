#!/usr/bin/env bash
# gatewayd takes nothing over and leaves nothing behind, however it ends:
#   - an existing interface with its TUN's name, or a table inet egress it did
#     not make (by hand, or a second gatewayd's), stops it with a clear
#     message and is left exactly as it was;
#   - the running gatewayd's table cannot be changed or deleted from outside;
#   - killed with SIGKILL, its table and TUN still vanish (the table belongs
#     to its netlink socket), and a new gatewayd starts cleanly;
#   - SIGTERM at any moment of its start: it exits, and the namespace is as
#     it was before (table, TUN, ip_forward).
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

topology
keys gateway edge1
gateway_yaml edge1 >"$EG_DIR/gateway.yaml"

log "an interface named $TUN_IF exists already (a persistent TUN)"
gw ip tuntap add dev "$TUN_IF" mode tun
gw ip link set "$TUN_IF" mtu 1300
refused tun-exists "$NS_GW" \
	"cannot create TUN device $TUN_IF: an interface of that name already exists" \
	"$GATEWAYD" -c "$EG_DIR/gateway.yaml"
gw ip tuntap del dev "$TUN_IF" mode tun

log "a table inet egress made by hand"
gw nft add table inet egress
gw nft add chain inet egress mine
refused hand-table "$NS_GW" "a table of that name exists and is not ours" \
	"$GATEWAYD" -c "$EG_DIR/gateway.yaml"
gw nft delete table inet egress

log "a second gatewayd in the same namespace"
gatewayd_start edge1
sed -e "s/^interface: .*/interface: egress9/" -e "s/^listen_port: .*/listen_port: 51821/" \
	"$EG_DIR/gateway.yaml" >"$EG_DIR/second.yaml"
table_before=$(gw nft list table inet egress)
refused second "$NS_GW" "a table of that name exists and is not ours (another gatewayd" \
	"$GATEWAYD" -c "$EG_DIR/second.yaml"
[[ $(gw nft list table inet egress) == "$table_before" ]] || die "the first gatewayd's table changed"

log "nobody else can delete or change the running gatewayd's table"
if gw nft delete table inet egress; then die "nft deleted gatewayd's table"; fi
if gw nft add chain inet egress intruder; then die "nft changed gatewayd's table"; fi
[[ $(gw nft list table inet egress) == "$table_before" ]] || die "the table changed"
running gatewayd || die "gatewayd is gone"

log "SIGKILL: the kernel removes the table with gatewayd's socket, the TUN with its fd"
stop gatewayd KILL || true
wait_for 5 "the table to go" eval '! gw nft list table inet egress'
wait_for 5 "the TUN to go" eval "! gw ip link show $TUN_IF"
gw nft list tables
log "a new gatewayd starts cleanly after that, and stops cleanly"
gatewayd_start edge1
stop gatewayd
gw sysctl -qw net.ipv4.ip_forward=0 # SIGKILL left it on: nothing can undo that

log "SIGTERM at any moment of the start leaves the namespace as it was"
stopped_while_starting gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml"

echo PASS
