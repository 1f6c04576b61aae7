#!/usr/bin/env bash
# The flow log (flow_log: in gateway.yaml) and gatewayctl flows --watch:
#   - a finished iperf3 upload is logged as it ends, with its client, tuple,
#     NAT'd source, IP bytes between what arrived and what was sent plus
#     headers, a duration within the test's own clock, reason "closed"; its
#     start is logged too (flow_log_new), under the same ct_id; a refused
#     connection ends "reset", a datagram "timeout";
#   - SIGHUP after the file was moved away writes to a new file;
#   - flows --watch shows a new flow and its end and only what its filters
#     take; --json lines parse; SIGINT ends it with status 0, and gatewayd
#     counts the watcher gone;
#   - with a tiny event socket (EGRESS_TEST_FLOWLOG_RCVBUF), a burst of 400
#     flows overruns it: the overrun is counted and logged, a resync
#     follows, and every one of the 400 flows has exactly one end line.
#
# The test shortens conntrack's timeouts in the gateway's namespace, and
# dumps the table while it waits for ends: the kernel removes expired
# entries (and sends their DESTROY) at its garbage collector's pace, up to
# a minute in an idle namespace, or at once when a dump meets them.
#
#   edge1, edge2 -- br0 -- router -- gateway (gatewayd) -- router -- host
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

SIZE=$((8 * 1024 * 1024))
LOG=$EG_DIR/flows.log

# gatewayd_with_log [ENV...]: gateway.yaml with the flow log, gatewayd
# started (with ENV in its environment).
gatewayd_with_log() {
	{
		gateway_yaml edge1 edge2
		echo "flow_log: flows.log"
		echo "flow_log_new: true"
	} >"$EG_DIR/gateway.yaml"
	start gatewayd "$NS_GW" env "$@" "$GATEWAYD" -c "$EG_DIR/gateway.yaml" -v
	wait_for 10 "the control socket" test -S "$EG_DIR/run/gatewayd.sock"
	wait_for 10 "the flow log's listener" grep -q "flow log: listening" "$EG_DIR/gatewayd.log"
}
# lines FILE PYTHON-EXPR: how many of FILE's JSON lines l make EXPR true.
lines() {
	python3 - "$1" "$2" <<-'EOF'
		import json, sys
		n = 0
		for line in open(sys.argv[1]):
		    l = json.loads(line)
		    n += bool(eval(sys.argv[2]))
		print(n)
	EOF
}
# logged N EXPR: at least N lines of the flow log make EXPR true; dumps the
# table first, so expired entries go (and are logged) now.
logged() {
	gw conntrack -L >/dev/null 2>&1 || true
	[[ -e $LOG ]] && (($(lines "$LOG" "$2") >= $1))
}

topology
keys gateway edge1 edge2
gatewayd_with_log
# after gatewayd's table has loaded conntrack, whose knobs exist from then on
gw sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=1
gw sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_close=1
gw sysctl -qw net.netfilter.nf_conntrack_udp_timeout=2
gw sysctl -qw net.netfilter.nf_conntrack_icmp_timeout=1
web_start
start iperf3 "$NS_HOST" iperf3 -s -B "$HOST"
wait_for 10 "iperf3 on the host" listening "$NS_HOST" tcp "$HOST:5201"
edged_start edge1
edged_start edge2
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
wait_for 10 "edge2's handshake" e2 ping -c1 -W1 "$HOST"

log "a finished upload: its end, with its bytes and duration, and its start"
t0=$EPOCHREALTIME
e1 timeout 40 iperf3 -c "$HOST" --connect-timeout 3000 -n "$SIZE" -J >"$EG_DIR/iperf3.json"
t1=$EPOCHREALTIME
read -r sent received < <(python3 -c 'import json, sys
e = json.load(sys.stdin)["end"]; print(e["sum_sent"]["bytes"], e["sum_received"]["bytes"])' \
	<"$EG_DIR/iperf3.json")
wait_for 30 "the upload's two connections to end" \
	logged 2 'l["event"] == "end" and l["dport"] == 5201'
python3 - "$LOG" "$GW_PUBLIC" "$HOST" "$sent" "$received" "$t0" "$t1" <<-'EOF' ||
	import json, sys
	from datetime import datetime
	lines = [json.loads(l) for l in open(sys.argv[1])]
	gw, host = sys.argv[2], sys.argv[3]
	sent, received, t0, t1 = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
	keys = ["time", "event", "ct_id", "client", "family", "proto", "src", "sport", "dst",
	        "dport", "nat_src", "nat_sport", "state", "packets_out", "bytes_out",
	        "packets_in", "bytes_in", "start", "end", "duration_ms", "rule", "reason"]
	for l in lines:
	    assert list(l) == keys, list(l)
	ts = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
	ends = [l for l in lines if l["event"] == "end" and l["dport"] == 5201]
	data = max(ends, key=lambda l: l["bytes_out"])
	assert data["client"] == "edge1" and data["src"] == "100.64.0.2" and data["dst"] == host, data
	assert data["nat_src"] == gw and data["proto"] == "tcp" and data["family"] == "ipv4", data
	assert data["nat_sport"] > 0 and data["sport"] > 0, data
	# the rule that let it through, stamped on its entry (the built-in's)
	assert data["rule"] == "internet", data
	# the end says how: the control connection closes with FINs; the data
	# one is reset when the receiver closes with the last bytes unread
	assert (data["reason"], data["state"]) in {("closed", "TIME_WAIT"), ("reset", "CLOSE")}, data
	control = min(ends, key=lambda l: l["bytes_out"])
	assert (control["reason"], control["state"]) == ("closed", "TIME_WAIT"), control
	# IP bytes: at least what arrived plus a header per packet, at most what
	# was sent with its headers
	assert received + 40 * data["packets_out"] <= data["bytes_out"] <= sent * 1.08, (sent, received, data)
	assert data["bytes_in"] > 0 and data["packets_in"] > 0, data
	# the duration is the entry's life: from the SYN, within what the test
	# measured, to the end of TIME_WAIT (1 s here) and the kernel's reaping
	d = data["duration_ms"] / 1000
	assert abs(ts(data["end"]) - ts(data["start"]) - d) < 0.002, data
	assert t0 - 0.1 <= ts(data["start"]) <= t1 and d >= 0.001 and ts(data["end"]) >= t1 - 0.1, (t0, t1, data)
	assert ts(data["end"]) <= ts(data["time"]) + 0.001, data
	new = [l for l in lines if l["event"] == "new" and l["ct_id"] == data["ct_id"]]
	assert len(new) == 1 and new[0]["sport"] == data["sport"] and new[0]["end"] is None, new
	assert new[0]["reason"] is None and new[0]["duration_ms"] is None, new
	print("upload: iperf3 sent %d bytes, %d arrived; logged %d IP bytes out in %d packets, %d in, %.3f s, %s"
	      % (sent, received, data["bytes_out"], data["packets_out"], data["bytes_in"], d, data["reason"]))
EOF
	die "the upload's lines are not what ran"

log "a refused connection ends \"reset\", a datagram \"timeout\""
e2 curl -gsS --max-time 5 -o /dev/null "http://$HOST:81/" 2>/dev/null && die "port 81 answered"
e2 python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('$HOST', 5353))"
wait_for 30 "the reset" logged 1 \
	'l["event"] == "end" and l["dport"] == 81 and l["reason"] == "reset" and l["client"] == "edge2"'
wait_for 30 "the datagram's timeout" logged 1 \
	'l["event"] == "end" and l["dport"] == 5353 and l["proto"] == "udp" and l["reason"] == "timeout"'

log "SIGHUP after the log was moved away: a new file"
mv "$LOG" "$LOG.1"
kill -HUP "${EG_PIDS[gatewayd]}"
wait_for 10 "the reopen" grep -q "flow log: reopened" "$EG_DIR/gatewayd.log"
old=$(wc -l <"$LOG.1")
e1 ping -c1 -W1 "$HOST" >/dev/null
wait_for 30 "the ping's end in the new file" logged 1 'l["event"] == "end" and l["proto"] == "icmp"'
[[ $(wc -l <"$LOG.1") == "$old" ]] || die "the old file got more lines after the reopen"

log "flows --watch: a new flow and its end, as the filters take them"
start watch "$NS_GW" "$GATEWAYCTL" --socket "$EG_DIR/run/gatewayd.sock" flows --watch \
	--client edge1 --proto tcp
start watchj "$NS_GW" "$GATEWAYCTL" --socket "$EG_DIR/run/gatewayd.sock" flows --watch --json \
	--port 80
wait_for 10 "the watch's header" grep -q "^TIME " "$EG_DIR/watch.log"
wait_for 10 "the JSON watch" grep -q '"watching"' "$EG_DIR/watchj.log"
e2 ping -c1 -W1 "$HOST" >/dev/null
e2 curl -gsSf -o /dev/null "http://$HOST/"
e1 curl -gsSf -o /dev/null "http://$HOST/"
watched_end() {
	gw conntrack -L >/dev/null 2>&1 || true
	grep -Eq "^[0-9:.]+ +end +edge1 +tcp .*$HOST:80 .* closed" "$EG_DIR/watch.log"
}
wait_for 30 "the watch to show the download's end" watched_end
cat "$EG_DIR/watch.log"
grep -Eq "^[0-9:.]+ +new +edge1 +tcp .*$HOST:80 " "$EG_DIR/watch.log" || die "no new line in the watch"
! grep -q "edge2\|icmp" "$EG_DIR/watch.log" || die "the watch showed what its filters exclude"
wait_for 10 "the JSON watch's two ends" atleast 2 seen watchj '"event":"end"'
logged 2 'l["event"] == "end" and l["dport"] == 80' || true
echo "edge1's download in the flow log:"
grep '"event":"end"' "$LOG" | grep '"client":"edge1"' | grep '"dport":80,' | tail -n 1
python3 - "$EG_DIR/watchj.log" <<-'EOF' || die "the JSON watch is not what ran"
	import json, sys
	lines = [json.loads(l) for l in open(sys.argv[1])]
	assert lines[0] == {"event": "watching"}, lines[0]
	assert all(l["dport"] == 80 and l["proto"] == "tcp" for l in lines[1:]), lines
	assert {(l["client"], l["event"]) for l in lines[1:]} == {(c, e) for c in ("edge1", "edge2") for e in ("new", "end")}, lines
	print("%d JSON lines, each parses" % len(lines))
EOF
rc=0
stop watch INT || rc=$?
[[ $rc == 0 ]] || die "flows --watch: exit $rc on SIGINT, want 0"
stop watchj INT || rc=$?
[[ $rc == 0 ]] || die "flows --watch --json: exit $rc on SIGINT, want 0"
kill -USR1 "${EG_PIDS[gatewayd]}"
wait_for 10 "gatewayd to count no watcher" grep -q "flow log: .* 0 watchers" "$EG_DIR/gatewayd.log"

log "an overrun of a tiny event socket: counted, logged, resynced, nothing missing"
stop gatewayd
rm -f "$LOG"
gatewayd_with_log EGRESS_TEST_FLOWLOG_RCVBUF=2048
wait_for 20 "edge1's handshake again" e1 ping -c1 -W1 "$HOST"
# 400 flows at once: a datagram each to its own port
e1 python3 -c "import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in range(20000, 20400): s.sendto(b'x', ('$HOST', p))"
wait_for 20 "the overrun in the log" grep -q "overran the socket" "$EG_DIR/gatewayd.log"
wait_for 20 "a resync" grep -q "flow log: resynced" "$EG_DIR/gatewayd.log"
wait_for 60 "the 400 flows' ends" logged 400 \
	'l["event"] == "end" and 20000 <= l["dport"] < 20400'
grep -m 4 "overran\|resynced" "$EG_DIR/gatewayd.log"
python3 - "$LOG" <<-'EOF' || die "the ends after the overrun are not one per flow"
	import collections, json, sys
	ends = [l for l in map(json.loads, open(sys.argv[1]))
	        if l["event"] == "end" and 20000 <= l["dport"] < 20400]
	per = collections.Counter(l["dport"] for l in ends)
	assert set(per) == set(range(20000, 20400)) and max(per.values()) == 1, per.most_common(3)
	assert all(l["client"] == "edge1" and l["proto"] == "udp" for l in ends), ends[:3]
	print("400 flows, 400 ends; reasons:", dict(collections.Counter(l["reason"] for l in ends)))
EOF
kill -USR1 "${EG_PIDS[gatewayd]}"
wait_for 10 "the report" grep -q "flow log: .* overruns" "$EG_DIR/gatewayd.log"
report=$(grep "flow log: .* overruns" "$EG_DIR/gatewayd.log" | tail -1)
echo "$report"
[[ $report =~ \ ([0-9]+)\ overruns ]] || die "no overrun count in the report"
((BASH_REMATCH[1] >= 1)) || die "no overrun counted"
grep -c "ended after all" "$EG_DIR/gatewayd.log" || true
echo "ok"
