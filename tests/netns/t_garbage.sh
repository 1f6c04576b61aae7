#!/usr/bin/env bash
# Garbage on the listen port: the router sends 10,000 random datagrams of
# random lengths (0..1500; a third of them shaped like WireGuard messages:
# type 1..4, three zero bytes, the exact lengths 148/92/64 or one off, data
# of 32 bytes and more) to gatewayd, which answers none of them, keeps
# running, keeps edge1's session and still completes a new handshake.
#
#   edge1, edge2 -- br0 -- router 198.51.100.254 (sends the garbage) -- gateway :51820
#
# Counters in a table of the test's own in the gateway's namespace count
# the datagrams both ways. SEED=N repeats a run's datagrams (it is printed).
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

SEED=${SEED:-$RANDOM}
ROUTER=198.51.100.254
garbage_in() { gw_counter garbage rx; }

topology
keys gateway edge1 edge2
gatewayd_start edge1 edge2
edged_start edge1
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"

log "counters in the gateway's namespace: UDP between the router and port 51820"
gw nft -f - <<-EOF
	table inet garbage {
		counter rx {}
		counter tx {}
		chain input {
			type filter hook input priority filter;
			ip saddr $ROUTER udp dport 51820 counter name "rx"
		}
		chain output {
			type filter hook output priority filter;
			ip daddr $ROUTER udp sport 51820 counter name "tx"
		}
	}
EOF

log "10,000 random datagrams from the router (seed $SEED)"
inet python3 "$WGCRAFT" garbage --to "$GW_ENDPOINT" --count 10000 --seed "$SEED" \
	--source "$ROUTER" | tee "$EG_DIR/garbage.txt"
wait_for 5 "the gateway to receive 10000 datagrams" atleast 10000 garbage_in
echo "at the gateway: $(garbage_in) datagrams in, $(gw_counter garbage tx) from port 51820 back"
[[ $(awk '{ print $3, $4, $5, $6, $7, $8 }' "$EG_DIR/garbage.txt") == "sent 10000 errors 0 replies 0" ]] ||
	die "garbage: $(cat "$EG_DIR/garbage.txt")"
[[ $(garbage_in) == 10000 ]] || die "the gateway received $(garbage_in) datagrams, not 10000"
[[ $(gw_counter garbage tx) == 0 ]] || die "gatewayd answered garbage"

log "gatewayd still runs, edge1's session still works, a new edge still connects"
running gatewayd || die "gatewayd is gone"
e1 ping -q -c3 -i0.2 -W2 "$HOST"
edged_start edge2
wait_for 10 "edge2's handshake" e2 ping -c1 -W1 "$HOST"
e2 ping -q -c3 -i0.2 -W2 "$HOST"
[[ $(seen gatewayd "handshake complete (responder)") == 2 ]] || die "not exactly two handshakes"
running gatewayd || die "gatewayd is gone"

echo PASS
