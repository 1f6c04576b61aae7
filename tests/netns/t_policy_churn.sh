#!/usr/bin/env bash
# policy apply while traffic flows: 100 applies, alternating between two
# different policies that both allow the host, during a download and a
# stream of pings through the tunnel. The download finishes intact, not one
# ping is lost, and the counter of the rule both policies share is not reset
# (an apply replaces rules, not the counters they name).
#
#   edge1 -- br0 -- router -- gateway (gatewayd) -- router -- host (web)
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

SOCK=$EG_DIR/run/gatewayd.sock
# counter RULE: the packets `policy stats` gives for RULE.
counter() { ctl policy stats | awk -v r="$1" '$1 == r { print $2 }'; }

topology
keys gateway edge1
gatewayd_start edge1
wait_for 10 "the control socket" test -S "$SOCK"
web_start
SUM=$(web_file big.bin 16)
edged_start edge1
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"

# Two policies that differ (a rule each of their own, another default, a
# limit) and both allow the host.
cat >"$EG_DIR/one.yaml" <<-EOF
	version: 1
	default: deny
	rules:
	  - {name: no-lan, from: [any], to: [192.0.2.0/24], action: deny}
	  - {name: web, from: [edge1], to: [internet], ports: [tcp/80, icmp], action: allow}
EOF
cat >"$EG_DIR/two.yaml" <<-EOF
	version: 1
	default: allow
	rules:
	  - {name: web, from: [edge1], to: [internet], ports: [tcp/80, icmp], action: allow}
	  - {name: no-smtp, from: [any], to: [any], ports: [tcp/25], action: deny}
	limits:
	  - {for: [edge1], max_flows: 1000}
EOF
ctl policy apply "$EG_DIR/one.yaml"

log "100 applies during a download and 400 pings"
start pings "$NS_E1" ping -q -c 400 -i 0.02 -W 2 "$HOST"
(
	rc=0
	e1 curl -gsS --limit-rate 2M --max-time 60 -o "$EG_DIR/big.out" "http://$HOST/big.bin" ||
		rc=$?
	echo "$rc" >"$EG_DIR/curl.rc"
) &
wait_for 10 "the download" test -s "$EG_DIR/big.out"
before=$(counter web)
for i in $(seq 1 100); do
	if ((i % 2)); then f=two.yaml; else f=one.yaml; fi
	ctl policy apply "$EG_DIR/$f" >/dev/null || die "apply $i ($f) failed"
done
echo "100 applies done, download at $(stat -c %s "$EG_DIR/big.out") bytes"
[[ ! -e $EG_DIR/curl.rc ]] || die "the download ended before the applies did: too short to tell"
wait_for 60 "the download to finish" test -e "$EG_DIR/curl.rc"
[[ $(cat "$EG_DIR/curl.rc") == 0 ]] || die "the download failed: curl $(cat "$EG_DIR/curl.rc")"
[[ $(sha256sum <"$EG_DIR/big.out" | cut -d' ' -f1) == "$SUM" ]] || die "the download arrived changed"
wait_for 30 "the pings" exited pings
cat "$EG_DIR/pings.log"
grep -q " 400 received, 0% packet loss" "$EG_DIR/pings.log" || die "pings were lost"
# The rules count the first packet of each flow (the rest are established):
# one new connection adds one.
e1 curl -gsSf --max-time 10 -o /dev/null "http://$HOST/index.html"
after=$(counter web)
echo "rule web: $before packets before the applies, $after after one more connection"
((after == before + 1)) || die "the shared rule's counter was reset or miscounted"
echo "ok"
