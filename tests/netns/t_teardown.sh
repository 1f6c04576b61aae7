#!/usr/bin/env bash
# Leaving no trace: edged's exit (SIGTERM and SIGINT on two runs, a SIGHUP
# first that must not stop it,
# and SIGTERM at moments of its start) restores `ip rule`, `ip -6 rule`,
# every routing table and src_valid_mark exactly; gatewayd's SIGTERM removes
# table inet egress and its TUN while a foreign table in the same namespace
# is left exactly as it was.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

topology
keys gateway edge1

log "a foreign table in the gateway's namespace"
gw nft -f - <<'NFT'
table ip foreign {
	set blocked {
		type ipv4_addr
		elements = { 192.0.2.99, 203.0.113.99 }
	}
	chain forward {
		type filter hook forward priority 10; policy accept;
		ip daddr @blocked drop
	}
}
NFT
foreign_before=$(gw nft list table ip foreign)
echo "$foreign_before"

# The edge's state, in full: rules, routes, src_valid_mark, links.
ns_state "$NS_E1" >"$EG_DIR/state.before"

gatewayd_start -6 edge1
for sig in TERM INT; do
	log "edged up, then SIG$sig"
	edged_start -6 edge1
	wait_for 10 "the handshake (ping $HOST)" e1 ping -c1 -W1 "$HOST"
	ns_state "$NS_E1" >"$EG_DIR/state.during"
	! cmp -s "$EG_DIR/state.before" "$EG_DIR/state.during" || die "edged changed nothing at all"
	if [[ $sig == TERM ]]; then
		# systemd's ExecReload: the tunnel carries on.
		kill -HUP "${EG_PIDS[edged-edge1]}"
		wait_for 5 "edged to log the SIGHUP" atleast 1 seen edged-edge1 "SIGHUP"
		e1 ping -c1 -W1 "$HOST" >/dev/null || die "edged stopped routing after SIGHUP"
		same_state "SIGHUP" "$NS_E1" "$(cat "$EG_DIR/state.during")"
		echo "SIGHUP: still up, nothing changed"
	fi
	stop edged-edge1 "$sig" || die "edged exited with status $? on SIG$sig"
	ns_state "$NS_E1" >"$EG_DIR/state.after"
	diff -u "$EG_DIR/state.before" "$EG_DIR/state.after" ||
		die "edged left routing or its TUN behind (SIG$sig)"
	echo "rules, routes, sysctls and links restored exactly, TUN gone"
done

log "edged: SIGTERM at any moment of its start restores everything"
edge_yaml -6 edge1 >"$EG_DIR/edge1.yaml"
stopped_while_starting edged-edge1 "$NS_E1" "$EDGED" -c "$EG_DIR/edge1.yaml"

log "gatewayd: SIGTERM"
gw nft list tables
stop gatewayd TERM || die "gatewayd exited with status $? on SIGTERM"
gw nft list tables
! gw nft list table inet egress >/dev/null 2>&1 || die "table inet egress is still there"
! nonempty gw ip link show "$TUN_IF" || die "gatewayd left its TUN behind"
[[ $(gw nft list table ip foreign) == "$foreign_before" ]] || die "the foreign table changed"
echo "table inet egress and $TUN_IF gone, table ip foreign untouched"

echo PASS
