#!/usr/bin/env bash
# Handshake flood: an attacker on the edges' LAN sends initiations with a
# valid mac1 (it knows the gateway's public key) and random contents from 64
# source addresses, 2000 a second for 15 s, in bursts of 1000 sent back to
# back. They queue up faster than the gateway's Diffie-Hellman can take them,
# so it goes "under load" and answers them with cookie replies instead.
# Meanwhile edge1 starts: an initiation of its gets a cookie, its retry
# (REKEY_TIMEOUT = 5 s later) carries mac2 and completes within 12 s of
# edged's start, and edge1 pings through the tunnel. gatewayd is still running
# afterwards.
#
#   edge1 192.0.2.2 -------------+-- br0 -- router -- gateway 198.51.100.1:51820
#   attacker 192.0.2.100-163 ----+
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

topology
attacker_up 192.0.2.{100..163}
printf '192.0.2.%d\n' {100..163} >"$EG_DIR/sources.txt"

keys gateway edge1
gatewayd_start edge1

log "the attacker floods: 30000 initiations, 2000/s in bursts of 1000, from 64 addresses"
start flood "$NS_ATK" python3 "$WGCRAFT" flood --gateway-pub "$(pub gateway)" \
	--to "$GW_ENDPOINT" --sources-from "$EG_DIR/sources.txt" --count 30000 --rate 2000 \
	--burst 1000
wait_for 5 "the gateway to be under load" grep -q "under load" "$EG_DIR/gatewayd.log"
grep "under load" "$EG_DIR/gatewayd.log"

log "edge1 starts during the flood"
t0=$EPOCHREALTIME
edged_start edge1
wait_for 12 "edge1's handshake" grep -q "handshake complete (initiator)" "$EG_DIR/edged-edge1.log"
took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
echo "edge1's handshake completed $took s after edged started"
grep "peer gateway" "$EG_DIR/edged-edge1.log"
running flood || die "the flood ended before edge1's handshake: it proves nothing"
# What the protocol promises, however many initiations load made it take: a
# cookie reply came, then an initiation (carrying mac2 from that cookie), then
# the handshake completed.
awk '/got a cookie/ && !c { c = NR } /sent an initiation/ && c && !i { i = NR }
	/handshake complete/ && i { ok = 1 } END { exit !ok }' "$EG_DIR/edged-edge1.log" ||
	die "no cookie, then an initiation, then a completed handshake in edged's log"

log "edge1 pings through the tunnel while the flood goes on"
e1 ping -q -c5 -i0.2 -W2 "$HOST"
running flood || die "the flood ended before the ping"

log "the flood ends; the gateway answered it with cookies and still runs"
wait_for 20 "the flood to end" exited flood
stop flood || die "the flood failed: $(cat "$EG_DIR/flood.log")"
cat "$EG_DIR/flood.log"
cookies=$(awk '$1 == "sent" { for (i = 1; i < NF; i++) if ($i == "cookies") print $(i + 1) }' \
	"$EG_DIR/flood.log")
((cookies > 0)) || die "the attacker got no cookie replies"
grep -q " other 0 " "$EG_DIR/flood.log" || die "the attacker got replies other than cookies"
running gatewayd || die "gatewayd is gone"
e1 ping -q -c2 -i0.2 -W2 "$HOST"

echo PASS
