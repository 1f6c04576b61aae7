#!/usr/bin/env bash
# Two edges at once (edge2 with a preshared key): both reach the host at the
# same time, the host sees only the gateway, and every conntrack entry of
# each edge carries that edge's mark (tag 0x4567 in the high bits, the host
# part of its tunnel address in the low bits).
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

topology
web_start
keys gateway edge1 edge2
psk edge2

log "gatewayd with two clients, two edged"
gatewayd_start edge1 edge2
edged_start edge1
edged_start edge2

log "ping from both edges"
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
wait_for 10 "edge2's handshake" e2 ping -c1 -W1 "$HOST"
e1 ping -q -c5 -i0.2 -W2 "$HOST"
e2 ping -q -c5 -i0.2 -W2 "$HOST"

log "two downloads at the same time"
sum=$(web_file 30mb.bin 30)
fetch "$NS_E1" "http://$HOST/30mb.bin" >"$EG_DIR/edge1.sum" &
p1=$!
fetch "$NS_E2" "http://$HOST/30mb.bin" >"$EG_DIR/edge2.sum" &
p2=$!
wait "$p1"
wait "$p2"
[[ $(cat "$EG_DIR/edge1.sum") == "$sum" ]] || die "edge1: checksum mismatch"
[[ $(cat "$EG_DIR/edge2.sum") == "$sum" ]] || die "edge2: checksum mismatch"

log "the internet host saw only the gateway"
only_gateway_seen

log "conntrack: each edge's flows carry its own mark"
e1 ping -q -c1 -W1 "$HOST"
e2 ping -q -c1 -W1 "$HOST"
gw conntrack -L -m 0x45670000/0xffff0000 2>/dev/null | tee "$EG_DIR/ct.txt"
mark_of() { # the marks of the entries from a tunnel address, de-duplicated
	awk -v src="src=$1" '$0 ~ src " " { for (i = 1; i <= NF; i++) if ($i ~ /^mark=/) print $i }' \
		"$EG_DIR/ct.txt" | sort -u
}
[[ $(mark_of 100.64.0.2) == "mark=$((0x45670002))" ]] || die "edge1's flows are not marked 0x45670002"
[[ $(mark_of 100.64.0.3) == "mark=$((0x45670003))" ]] || die "edge2's flows are not marked 0x45670003"

echo PASS
