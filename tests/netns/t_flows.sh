#!/usr/bin/env bash
# gatewayctl flows, from conntrack:
#   - gatewayd turns on conntrack accounting, timestamps and events in its
#     namespace, says so, and puts them back when it stops;
#   - a live download (curl) and a finished upload (iperf3 -n) are listed with
#     the right client, original source and destination, NAT'd source,
#     state and rule (the one stamped on the flow, which outlives a rename
#     by an apply); the upload's bytes are IP bytes, at least what iperf3
#     moved and at most 8% more (headers), and its packets fit that;
#   - every filter (--client, --proto, --dst, --port, --state) selects what
#     it says, and --json carries every documented field;
#   - `flows kill` ends live TCP connections: an upload's client is reset by
#     the gateway at its next packet, a download is reset on both sides (the
#     host's next packet meets the gateway's own stack), the others stay.
#
#   edge1, edge2 -- br0 -- router -- gateway (gatewayd) -- router -- host
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

SIZE=$((20 * 1024 * 1024))
# flows_json ARGS...: gatewayctl flows --json ARGS, the array of flows.
flows_json() {
	ctl flows --json "$@" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["data"]))'
}
# count ARGS...: how many flows gatewayctl flows ARGS lists.
count() { flows_json "$@" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
knob() { gw cat "/proc/sys/net/netfilter/$1"; }

topology
keys gateway edge1 edge2
before="$(knob nf_conntrack_acct) $(knob nf_conntrack_timestamp) $(knob nf_conntrack_events)"
gatewayd_start edge1 edge2
wait_for 10 "the control socket" test -S "$EG_DIR/run/gatewayd.sock"

log "conntrack accounting, timestamps and events are on, and gatewayd said so"
[[ "$(knob nf_conntrack_acct) $(knob nf_conntrack_timestamp) $(knob nf_conntrack_events)" == "1 1 1" ]] ||
	die "the conntrack knobs are not all 1"
grep -q "nf_conntrack_acct to 1" "$EG_DIR/gatewayd.log" || die "gatewayd did not log nf_conntrack_acct"

web_start
# far more than the socket buffers on the way take at once, so that the host
# is still sending when the flow is listed and killed
web_file big.bin 16 >/dev/null
start iperf3 "$NS_HOST" iperf3 -s -B "$HOST"
wait_for 10 "iperf3 on the host" listening "$NS_HOST" tcp "$HOST:5201"
edged_start edge1
# Small receive buffers on edge1: what a reset flow still holds unread
# drains in well under a second at curl's rate, so its end shows at once.
e1 sysctl -qw net.ipv4.tcp_rmem="4096 65536 131072"
edged_start edge2
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
wait_for 10 "edge2's handshake" e2 ping -c1 -W1 "$HOST"
# only what the test makes from here on
gw conntrack -F 2>/dev/null

log "a finished upload from edge2 and a live download to edge1"
e2 timeout 40 iperf3 -c "$HOST" --connect-timeout 3000 -n "$SIZE" -J >"$EG_DIR/iperf3.json"
# what the sender wrote, and what the receiver got (-n ends at the sender's
# count and closes: what was still in flight then is never received)
read -r sent received < <(python3 -c 'import json, sys
e = json.load(sys.stdin)["end"]; print(e["sum_sent"]["bytes"], e["sum_received"]["bytes"])' \
	<"$EG_DIR/iperf3.json")
(
	rc=0
	e1 curl -gsS --limit-rate 200k --max-time 60 -o "$EG_DIR/big.out" "http://$HOST/big.bin" || rc=$?
	echo "$rc" >"$EG_DIR/curl.rc"
) &
wait_for 10 "the download" test -s "$EG_DIR/big.out"
ctl flows | tee "$EG_DIR/flows.txt"
grep -q "^CLIENT " "$EG_DIR/flows.txt" || die "flows: no header line"

log "what the listing says of each"
flows_json >"$EG_DIR/flows.json"
python3 - "$EG_DIR/flows.json" "$GW_PUBLIC" "$HOST" "$sent" "$received" <<-'EOF' ||
	import json, sys
	flows, gw, host = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
	sent, received = int(sys.argv[4]), int(sys.argv[5])
	fields = {"client", "family", "proto", "src", "sport", "dst", "dport", "nat_src",
	          "nat_sport", "state", "packets_out", "bytes_out", "packets_in", "bytes_in",
	          "age_s", "rule"}
	for f in flows:
	    assert set(f) == fields, sorted(set(f) ^ fields)
	web = [f for f in flows if f["dport"] == 80]
	assert len(web) == 1, web
	w = web[0]
	assert w["client"] == "edge1" and w["src"] == "100.64.0.2" and w["dst"] == host, w
	assert w["nat_src"] == gw and w["state"] == "ESTABLISHED" and w["rule"] == "internet", w
	assert w["proto"] == "tcp" and w["family"] == "ipv4" and w["bytes_in"] > 0 and w["age_s"] >= 0, w
	# iperf3: a control connection and the data one, both edge2's
	perf = [f for f in flows if f["dport"] == 5201]
	assert {f["client"] for f in perf} == {"edge2"} and len(perf) == 2, perf
	data = max(perf, key=lambda f: f["bytes_out"])
	# IP bytes: at least what arrived (plus a header per packet), at most
	# what was sent with its headers (8%: 52 of every 1420 bytes, and more)
	assert received + 40 * data["packets_out"] <= data["bytes_out"] <= sent * 1.08, (sent, received, data)
	# packets of at most 64 KB: conntrack counts what the kernel forwards,
	# and gatewayd writes coalesced superpackets of up to 64 KB into its TUN
	# (the uplink segments them again)
	assert data["bytes_out"] / 65535 <= data["packets_out"] <= data["bytes_out"] / 500, data
	print("upload: iperf3 sent %d bytes, %d arrived; the flow counts %d IP bytes in %d packets"
	      % (sent, received, data["bytes_out"], data["packets_out"]))
EOF
	die "the flows are not what ran"

log "rule: the one stamped on the flow, not what the policy in force would say"
cat >"$EG_DIR/policy.yaml" <<-EOF
	version: 1
	default: deny
	rules:
	  - {name: renamed, from: [any], to: [internet], action: allow}
EOF
ctl policy apply "$EG_DIR/policy.yaml" >/dev/null
rule_of() { flows_json --client "$1" --port "$2" | python3 -c 'import json, sys; print(" ".join(f["rule"] for f in json.load(sys.stdin)))'; }
[[ $(rule_of edge1 80) == internet ]] ||
	die "the download under a renamed rule: rule '$(rule_of edge1 80)', want its stamp 'internet'"
e2 python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('$HOST', 5354))"
[[ $(rule_of edge2 5354) == renamed ]] || die "a flow after the apply: rule '$(rule_of edge2 5354)', want 'renamed'"
gw conntrack -D -p udp --dport 5354 >/dev/null 2>&1 # the filters below count the rest

log "every filter"
[[ $(count --client edge1) == 1 ]] || die "--client edge1: not 1 flow"
[[ $(count --client edge2) == 2 ]] || die "--client edge2: not 2 flows"
[[ $(count --port 5201) == 2 ]] || die "--port 5201: not 2 flows"
[[ $(count --dst "$HOST") == 3 ]] || die "--dst $HOST: not 3 flows"
[[ $(count --dst 192.0.2.0/24) == 0 ]] || die "--dst 192.0.2.0/24: flows"
[[ $(count --proto tcp) == 3 ]] || die "--proto tcp: not 3 flows"
e2 python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('$HOST', 5353))"
[[ $(count --proto udp) == 1 ]] || die "--proto udp: not the one datagram's flow"
[[ $(count --proto udp --state UNREPLIED) == 1 ]] || die "--state UNREPLIED: not the datagram"
[[ $(count --state ESTABLISHED --client edge1) == 1 ]] ||
	die "--state ESTABLISHED: not the download: $(ctl flows --client edge1)"
[[ $(count --state TIME_WAIT --client edge2) -ge 1 ]] || die "--state TIME_WAIT: not iperf3's"
r=0
ctl flows --client nobody >"$EG_DIR/out" 2>&1 || r=$?
[[ $r == 1 ]] || die "an unknown client: exit $r, want 1"
grep -q 'no client "nobody"' "$EG_DIR/out" || die "an unknown client: not named"
r=0
ctl flows --port 99999 >"$EG_DIR/out" 2>&1 || r=$?
[[ $r == 2 ]] || die "--port 99999: exit $r, want 2"

log "flows kill ends a download and an upload in both directions, and nothing else"
start sink "$NS_HOST" python3 "$EG_REPO/tests/netns/flow.py" sink "$HOST" 9000 "$EG_DIR/sink.bytes"
wait_for 10 "the sink" listening "$NS_HOST" tcp "$HOST:9000"
start source "$NS_E1" python3 "$EG_REPO/tests/netns/flow.py" source "$HOST" 9000
uploaded() { [[ $(cat "$EG_DIR/sink.bytes" 2>/dev/null) -gt 0 ]]; }
wait_for 10 "the upload" uploaded
ctl flows kill --client edge1 --proto tcp | tee "$EG_DIR/out"
grep -qx "ended 2 flows" "$EG_DIR/out" || die "flows kill: not 2 flows ended"
# Each end is reset when it next sends: the client's next packet is no SYN,
# so the gateway resets it; the host's finds no NAT mapping, so the
# gateway's own stack resets it. The upload's client sends at once; its
# receiving host only ACKs what arrives, so it is left until it sends.
wait_for 5 "edge1's upload to stop" exited source
t0=$EPOCHREALTIME
wait_for 20 "edge1's download to stop" test -e "$EG_DIR/curl.rc"
echo "the download stopped after $(python3 -c "print(round($EPOCHREALTIME - $t0, 2))") s"
[[ $(cat "$EG_DIR/curl.rc") != 0 ]] || die "the download finished although its flow was ended"
echo "curl: exit $(cat "$EG_DIR/curl.rc")"
# the host's side: the connection is gone there too (reset by the gateway)
wait_for 5 "the host's side of the connection to close" \
	bash -c "! ip netns exec $NS_HOST ss -Htn state established '( sport = :80 )' | grep -q ."
[[ $(count --client edge1 --port 80 --state ESTABLISHED) == 0 ]] || die "the download's flow came back"
[[ $(count --client edge2) -ge 2 ]] || die "edge2's flows went too"

log "gatewayd stops: the knobs are as they were"
stop gatewayd
after="$(knob nf_conntrack_acct) $(knob nf_conntrack_timestamp) $(knob nf_conntrack_events)"
[[ $after == "$before" ]] || die "conntrack knobs: $after after, $before before"
echo "ok"
