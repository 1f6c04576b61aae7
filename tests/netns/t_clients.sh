#!/usr/bin/env bash
# gatewayctl clients and status:
#   - before any handshake both clients are down, with no endpoint, no
#     handshake and no bytes;
#   - after edge1 uploads with iperf3, edge1 is up with its endpoint, a
#     handshake seconds ago, and rx bytes bounded from both sides by what
#     iperf3 moved (IP bytes: at least what arrived, at most what was sent
#     and 8% more); edge2 is
#     still down, with nothing;
#   - a connection the policy refuses counts in edge1's policy drops only;
#   - many short UDP flows count in edge1's flows, in status's conntrack
#     count, and, above conntrack_warn_percent of the table, in a warning;
#   - status names the uplink, the gateway's public key and the policy in
#     force; the text output says the same as the JSON.
#
#   edge1, edge2 -- br0 -- router -- gateway (gatewayd) -- router -- host
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

SIZE=$((8 * 1024 * 1024))
# field CMD EXPR: EXPR (Python, over d: the reply's data) of gatewayctl CMD --json.
field() {
	ctl "$1" --json | python3 -c 'import json, sys
d = json.load(sys.stdin)["data"]
by = {c["name"]: c for c in d} if isinstance(d, list) else {}
print(eval(sys.argv[1]))' "$2"
}

topology
keys gateway edge1 edge2
cat >"$EG_DIR/policy.yaml" <<EOF
version: 1
default: deny
rules:
  - {name: echo, from: [any], to: [internet], ports: [icmp], action: allow}
  - {name: upload, from: [edge1], to: [$HOST], ports: [tcp/5201], action: allow}
  - {name: udp-any, from: [edge1], to: [$HOST], ports: [udp/1-65535], action: allow}
EOF
# 1%: a table of the machine's size fills that far with a few thousand flows
{
	gateway_yaml edge1 edge2
	echo "conntrack_warn_percent: 1"
} >"$EG_DIR/gateway.yaml"
start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml" -v
wait_for 10 "the control socket" test -S "$EG_DIR/run/gatewayd.sock"
start iperf3 "$NS_HOST" iperf3 -s -B "$HOST"
wait_for 10 "iperf3 on the host" listening "$NS_HOST" tcp "$HOST:5201"

log "before any handshake: both down, nothing known"
ctl clients | tee "$EG_DIR/clients0.txt"
grep -q "^NAME " "$EG_DIR/clients0.txt" || die "clients: no header line"
[[ $(field clients '[(c["name"], c["connected"], c["endpoint"], c["last_handshake"], c["rx_bytes"]) for c in d]') == \
	"[('edge1', False, None, None, 0), ('edge2', False, None, None, 0)]" ]] ||
	die "clients before any handshake: not both down with nothing"

log "edge1 uploads $SIZE bytes"
edged_start edge1
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
e1 timeout 40 iperf3 -c "$HOST" --connect-timeout 3000 -n "$SIZE" -J >"$EG_DIR/iperf3.json"
# what the sender wrote, and what the receiver got (-n ends at the sender's
# count and closes: what was still in flight then is never received)
read -r sent received < <(python3 -c 'import json, sys
e = json.load(sys.stdin)["end"]; print(e["sum_sent"]["bytes"], e["sum_received"]["bytes"])' \
	<"$EG_DIR/iperf3.json")
ctl clients | tee "$EG_DIR/clients1.txt"
grep -Eq "^edge1 +100\.64\.0\.2 +up +192\.0\.2\.2:[0-9]+ +[0-9]+s ago " "$EG_DIR/clients1.txt" ||
	die "clients: edge1 is not up from 192.0.2.2 with a handshake seconds ago"
grep -Eq "^edge2 +100\.64\.0\.3 +down +- +never +0 +0 +0 +0$" "$EG_DIR/clients1.txt" ||
	die "clients: edge2 is not down with nothing"
ctl clients --json >"$EG_DIR/clients1.json"
python3 - "$EG_DIR/clients1.json" "$sent" "$received" <<-'EOF' || die "clients --json: not what edge1 did"
	import json, sys, time
	r = json.load(open(sys.argv[1]))
	sent, received = int(sys.argv[2]), int(sys.argv[3])
	assert r["ok"] is True, r
	fields = {"name", "address", "address6", "endpoint", "last_handshake",
	          "last_handshake_unix", "connected", "rx_bytes", "tx_bytes", "flows",
	          "policy_drops"}
	by = {c["name"]: c for c in r["data"]}
	for c in by.values():
	    assert set(c) == fields, (set(c) ^ fields, c)
	e = by["edge1"]
	assert e["connected"] is True and e["endpoint"].startswith("192.0.2.2:"), e
	assert 0 <= time.time() - e["last_handshake_unix"] < 60, e
	assert e["last_handshake"].endswith("Z"), e
	# IP bytes of the upload: at least what arrived, at most what was
	# written and 8% of headers (and the pings)
	assert received <= e["rx_bytes"] <= sent * 1.08 + 10000, (received, sent, e["rx_bytes"])
	assert 0 < e["tx_bytes"] < e["rx_bytes"], e
	assert e["address6"] is None and e["policy_drops"] == 0, e
	print(f"edge1: rx {e['rx_bytes']} for {received}-{sent}, tx {e['tx_bytes']}")
EOF

log "a connection the policy refuses counts in edge1's drops"
rc=0
e1 curl -sS --max-time 5 -o /dev/null "http://$HOST:81/" 2>"$EG_DIR/curl.err" || rc=$?
cat "$EG_DIR/curl.err"
((rc == 7)) || die "curl to port 81: exit $rc, not refused (7)"
drops=$(field clients 'by["edge1"]["policy_drops"]')
((drops >= 1)) || die "edge1's policy drops: $drops after a refused connection"
[[ $(field clients 'by["edge2"]["policy_drops"]') == 0 ]] || die "edge2 has policy drops"

log "many short UDP flows: edge1's flows, conntrack's count, and the warning"
max=$(gw cat /proc/sys/net/netfilter/nf_conntrack_max)
want=$((max / 100 + 200))
# paced: a burst of thousands overflows the queues on the way
e1 python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in range(int(sys.argv[2])):
    s.sendto(b"x", (sys.argv[1], 10000 + p % 50000))
    if p % 50 == 49:
        time.sleep(0.005)' "$HOST" "$want"
flows=$(field clients 'by["edge1"]["flows"]')
echo "edge1: $flows flows for $want datagrams to as many ports (table of $max)"
((flows >= want - 50)) || die "edge1's flows: $flows, not the $want just sent"
ctl status | tee "$EG_DIR/status.txt"
grep -q "^conntrack:   [0-9]* of $max entries (.*WARNING: above 1%" "$EG_DIR/status.txt" ||
	die "status: no conntrack warning above 1%"
python3 - "$EG_DIR/status.txt" <(ctl status --json) "$(pub gateway)" "$EG_DIR/policy.yaml" "$want" <<-'EOF' ||
	import json, sys
	text = open(sys.argv[1]).read()
	d = json.load(open(sys.argv[2]))["data"]
	pub, policy, want = sys.argv[3], sys.argv[4], int(sys.argv[5])
	assert d["uplink"] == "wan0" and d["public_key"] == pub, d
	assert d["clients"] == {"configured": 2, "connected": 1}, d
	ct = d["conntrack"]
	assert ct["count"] >= want - 50 and ct["warning"] is True and ct["warn_percent"] == 1, ct
	p = d["policy"]
	assert p["source"] == policy and p["rules"] == 3 and not p["builtin"], p
	assert p["applied"].endswith("Z") and p["applied_unix"] > 0, p
	assert f"uplink:      wan0\n" in text and f"public key:  {pub}\n" in text, text
	assert f"policy:      {policy}, 3 rules, in force since {p['applied']}\n" in text, text
	assert "clients:     2 configured, 1 connected\n" in text, text
EOF
	die "status: not what runs"

log "with the table emptied, no warning"
gw conntrack -F 2>/dev/null
ctl status --json | python3 -c 'import json, sys
ct = json.load(sys.stdin)["data"]["conntrack"]; assert ct["warning"] is False, ct' ||
	die "status: a warning with an empty table"

stop gatewayd
echo PASS
