#!/usr/bin/env bash
# A transfer across rekeys: with the protocol's timers divided by 20 on both
# ends (rekey after 6 s, reject after 9 s, keepalive 0.5 s, rekey timeout
# 0.25 s), edge1 downloads 3 MB at 100 KB/s (about 32 s) from the internet
# host. curl fails on any 3 s stretch below 1000 B/s, so a rekey that stalls
# the session fails the test; the file arrives intact and the session was
# renewed at least three times while it flowed.
#
#   edge1 --tunnel, new keys every 6 s--> gatewayd --> host (web server,
#                                                     eth0 shaped to 800 kbit/s)
#
# The rate is set by a tbf qdisc on the host's side, not by curl's
# --limit-rate: with curl 7.88 the same 3 MB took anywhere from 3 s to 30 s,
# and once tripped --speed-limit, so the test measured curl, not the tunnel.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

export EGRESS_TIME_DIVISOR=20 # read by both daemons; for tests only

topology
web_start
tunnel_up edge1
grep EGRESS_TIME_DIVISOR "$EG_DIR/gatewayd.log" "$EG_DIR/edged-edge1.log"

log "3 MB at 100 KB/s through the tunnel"
host tc qdisc add dev eth0 root tbf rate 800kbit burst 16kb latency 400ms
sum=$(web_file slow.bin 3)
before=$(seen edged-edge1 "handshake complete")
start_s=$SECONDS
got=$(e1 curl -gsSf --max-time 60 --speed-limit 1000 --speed-time 3 \
	-o - "http://$HOST/slow.bin" | sha256sum | cut -d' ' -f1)
took=$((SECONDS - start_s))
after=$(seen edged-edge1 "handshake complete")
echo "sha256 sent $sum"
echo "sha256 got  $got ($took s)"
[[ $got == "$sum" ]] || die "checksum mismatch"

log "handshakes during the transfer"
grep "handshake complete" "$EG_DIR/edged-edge1.log" "$EG_DIR/gatewayd.log"
echo "edge1: $before handshake(s) before the transfer, $after after it"
((after - before >= 3)) || die "fewer than three rekeys in $took s"
(($(seen gatewayd "handshake complete") >= after)) || die "the gateway logged fewer handshakes"
((took >= 25)) || die "the transfer took only $took s: the shaping did not hold"

echo PASS
