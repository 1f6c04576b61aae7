#!/usr/bin/env bash
# The egress policy in a running gateway, as an operator drives it:
#   - without a policy file the built-in policy is in force: the internet
#     host answers, the gateway's ICMP echo too, but a service listening on
#     the gateway host and a host on its uplink subnet do not; `policy show`
#     says it is the built-in one, `policy test` which rule decides;
#   - `policy check` passes a good file (and offline with --config), refuses
#     a bad one by file:line:col and one whose tests fail; `policy diff`
#     says what an apply would change;
#   - `policy apply`: edge1 may fetch, edge2 is refused at once (under a
#     second, a TCP reset) and the host sees no packet of it; `policy test`
#     explains both, `policy stats` counts them; the file becomes
#     policy_file and the one before it policy_file.prev;
#   - an invalid file or one with failing tests leaves `nft -s list table
#     inet egress` exactly as it was;
#   - SIGHUP re-reads policy_file; an invalid one keeps the policy in force;
#   - a table of someone else's in the gateway's namespace is never touched;
#   - gatewayd refuses to start on an invalid policy file, naming the line.
#
#   edge1, edge2 -- br0 -- router -- gateway (gatewayd) -- wan0 -- router -- host
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

SOCK=$EG_DIR/run/gatewayd.sock
POLICY=$EG_DIR/policy.yaml
# rc CMD...: CMD's exit status; its stdout and stderr in $EG_DIR/out.
rc() {
	local r=0
	"$@" >"$EG_DIR/out" 2>&1 || r=$?
	echo "$r"
}
table() { gw nft -s list table inet egress; }
# host_packets: what the host's counter saw from the gateway on port 80.
host_packets() {
	host nft list counter inet hostcount web | awk '$1 == "packets" { print $2 }'
}

topology
keys gateway edge1 edge2

log "a foreign table in the gateway's namespace, and a counter at the host"
gw nft -f - <<-'EOF'
	table inet foreign {
		counter seen { }
		chain input { type filter hook input priority 5; policy accept; counter name "seen"; }
	}
EOF
table_foreign() { gw nft list table inet foreign | grep -v 'packets\|counter seen' || true; }
FOREIGN=$(table_foreign)
host nft -f - <<-EOF
	table inet hostcount {
		counter web { }
		chain input { type filter hook input priority 0; policy accept;
			ip saddr $GW_PUBLIC tcp dport 80 counter name "web"; }
	}
EOF

log "gatewayd refuses to start on an invalid policy file"
gateway_yaml edge1 edge2 >"$EG_DIR/gateway.yaml"
printf 'version: 1\ndefault: maybe\n' >"$POLICY"
r=$(rc gw "$GATEWAYD" -c "$EG_DIR/gateway.yaml")
cat "$EG_DIR/out"
[[ $r == 1 ]] || die "gatewayd with an invalid policy: exit $r, want 1"
grep -q "policy.yaml:2:10: " "$EG_DIR/out" || die "the refusal does not name policy.yaml:2:10"
if gw nft list table inet egress >/dev/null 2>&1; then die "a table was left behind"; fi
r=$(rc gw "$GATEWAYD" -n -c "$EG_DIR/gateway.yaml")
[[ $r == 1 ]] || die "gatewayd -n with an invalid policy: exit $r, want 1"
rm "$POLICY"

log "the built-in policy: the internet, the gateway's echo, nothing else of the gateway's"
gatewayd_start edge1 edge2
wait_for 10 "the control socket" test -S "$SOCK"
web_start
edged_start edge1
edged_start edge2
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
wait_for 10 "edge2's handshake" e2 ping -c1 -W1 "$HOST"
e1 ping -c1 -W1 100.64.0.1 >/dev/null || die "the gateway's tunnel address does not answer pings"
ctl policy show | tee "$EG_DIR/show.txt"
grep -q "^# built-in policy" "$EG_DIR/show.txt" || die "policy show does not say built-in"
# a service on the gateway host, on its tunnel and uplink addresses; a host
# on the uplink subnet (the router's wan0)
start gwweb "$NS_GW" python3 -m http.server --bind 0.0.0.0 --directory "$EG_DIR/www" 8080
start lanweb "$NS_INET" python3 -m http.server --bind 198.51.100.254 --directory "$EG_DIR/www" 8080
wait_for 10 "the gateway's web server" listening "$NS_GW" tcp ":8080"
wait_for 10 "the uplink subnet's web server" listening "$NS_INET" tcp "198.51.100.254:8080"
gw curl -gsSf --max-time 5 -o /dev/null http://198.51.100.1:8080/ || die "the gateway's own server is down"
[[ $(fetch "$NS_E1" "http://$HOST/index.html") == $(sha256sum <"$EG_DIR/www/index.html" | cut -d' ' -f1) ]] ||
	die "the internet host is not reachable under the built-in policy"
refused_fast "$NS_E1" http://100.64.0.1:8080/
refused_fast "$NS_E1" http://198.51.100.1:8080/
refused_fast "$NS_E1" http://198.51.100.254:8080/
ctl policy test edge1 "$HOST" tcp/80 | tee "$EG_DIR/out"
[[ $(head -1 "$EG_DIR/out") == "edge1 to $HOST tcp/80: allow by rule \"internet\"" ]] ||
	die "policy test: not allowed by rule internet"
ctl policy test edge1 198.51.100.254 tcp/8080 | tee "$EG_DIR/out"
grep -q ": deny by default$" "$EG_DIR/out" || die "policy test: the uplink subnet is not denied by default"
ctl policy test edge1 100.64.0.1 tcp/8080 | tee "$EG_DIR/out"
grep -q ": deny by gateway" "$EG_DIR/out" || die "policy test: the gateway's port 8080 is not denied"

log "policy check: a good file, offline too; a bad one by line and column; failing tests"
cat >"$EG_DIR/a.yaml" <<-EOF
	version: 1
	default: deny
	rules:
	  - name: web-for-edge1
	    from: [edge1]
	    to: [$HOST/32]
	    ports: [tcp/80]
	    action: allow
	  - name: echo
	    from: [any]
	    to: [internet]
	    ports: [icmp]
	    action: allow
	tests:
	  - {client: edge1, to: $HOST, port: tcp/80, expect: allow}
	  - {client: edge2, to: $HOST, port: tcp/80, expect: deny}
EOF
ctl policy check "$EG_DIR/a.yaml" | tee "$EG_DIR/out"
grep -qx "$EG_DIR/a.yaml: policy OK (2 rules, 2 tests passed)" "$EG_DIR/out" || die "check a.yaml: not OK"
r=$(rc "$GATEWAYCTL" policy check "$EG_DIR/a.yaml" --config "$EG_DIR/gateway.yaml")
cat "$EG_DIR/out"
[[ $r == 0 ]] || die "offline check: exit $r"
grep -q "^offline: " "$EG_DIR/out" || die "offline check: no word that it was offline"
sed 's/tcp\/80\]/tcp\/80000]/' "$EG_DIR/a.yaml" >"$EG_DIR/bad.yaml"
r=$(rc ctl policy check "$EG_DIR/bad.yaml")
cat "$EG_DIR/out"
[[ $r == 1 ]] || die "check bad.yaml: exit $r, want 1"
grep -q "bad.yaml:7:13: .*tcp/80000" "$EG_DIR/out" || die "check bad.yaml: no line:col quoting the value"
sed 's/expect: deny}/expect: allow}/' "$EG_DIR/a.yaml" >"$EG_DIR/failing.yaml"
r=$(rc ctl policy check "$EG_DIR/failing.yaml")
cat "$EG_DIR/out"
[[ $r == 1 ]] || die "check failing.yaml: exit $r, want 1"
grep -q "failing.yaml:16:5: test failed" "$EG_DIR/out" || die "check failing.yaml: no failed test by line"

log "policy diff, then apply: edge1 fetches, edge2 is refused at once and reaches nothing"
ctl policy diff "$EG_DIR/a.yaml" | tee "$EG_DIR/out"
grep -qx '+ rule "web-for-edge1" (allow, position 1)' "$EG_DIR/out" || die "diff: no new rule web-for-edge1"
grep -qx -- '- rule "internet"' "$EG_DIR/out" || die "diff: rule internet not gone"
ctl policy apply "$EG_DIR/a.yaml" | tee "$EG_DIR/out"
grep -qx "applied $EG_DIR/a.yaml (2 rules)" "$EG_DIR/out" || die "apply: not applied"
cmp "$EG_DIR/a.yaml" "$POLICY" || die "policy_file is not the applied file"
[[ ! -e $POLICY.prev ]] || die "a .prev without a file before"
[[ $(ctl policy diff "$EG_DIR/a.yaml") == "no changes" ]] || die "diff against itself: changes"
[[ $(fetch "$NS_E1" "http://$HOST/index.html") == $(sha256sum <"$EG_DIR/www/index.html" | cut -d' ' -f1) ]] ||
	die "edge1 cannot fetch what the policy allows it"
before=$(host_packets)
refused_fast "$NS_E2" "http://$HOST/index.html"
[[ $(host_packets) == "$before" ]] || die "the host saw $(($(host_packets) - before)) packets of edge2's refused fetch"
e2 ping -c1 -W1 "$HOST" >/dev/null || die "echo to the internet is allowed by rule echo"
ctl policy test edge2 "$HOST" tcp/80 | tee "$EG_DIR/out"
[[ $(head -1 "$EG_DIR/out") == "edge2 to $HOST tcp/80: deny by default" ]] || die "policy test edge2: not denied by default"
grep -qx '  rule "web-for-edge1": wrong client' "$EG_DIR/out" || die "policy test edge2: no reason for web-for-edge1"
grep -qx '  rule "echo": port not listed' "$EG_DIR/out" || die "policy test edge2: no reason for echo"
ctl policy test --json edge1 "$HOST" tcp/80 >"$EG_DIR/test.json"
python3 - "$EG_DIR/test.json" <<-'EOF' || die "policy test --json: not the decision"
	import json, sys
	d = json.load(open(sys.argv[1]))["data"]
	assert d["allow"] is True and d["by"] == "rule" and d["rule"] == "web-for-edge1", d
	assert d["skipped"] == [] and d["ifaddrs_known"] is True, d
EOF
ctl policy stats | tee "$EG_DIR/stats.txt"
grep -q "^applied: 20" "$EG_DIR/stats.txt" || die "stats: no time of the apply"
awk '$1 == "web-for-edge1" && $2 > 0 { ok = 1 } END { exit !ok }' "$EG_DIR/stats.txt" ||
	die "stats: rule web-for-edge1 counted nothing"
awk '$1 == "default" && $2 > 0 { ok = 1 } END { exit !ok }' "$EG_DIR/stats.txt" ||
	die "stats: the default counted nothing"
ctl policy stats --json | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
names = [c["name"] for c in d["counters"]]
assert names[:3] == ["web-for-edge1", "echo", "default"], names
assert "gateway-echo" in names and isinstance(d["applied_unix"], int), d' || die "stats --json: not the counters"

log "an invalid file, or failing tests: nothing changes"
TABLE=$(table)
for f in bad failing; do
	r=$(rc ctl policy apply "$EG_DIR/$f.yaml")
	cat "$EG_DIR/out"
	[[ $r == 1 ]] || die "apply $f.yaml: exit $r, want 1"
	[[ $(table) == "$TABLE" ]] || die "apply $f.yaml changed the table"
	cmp -s "$EG_DIR/a.yaml" "$POLICY" || die "apply $f.yaml changed policy_file"
done
r=$(rc ctl policy apply "$EG_DIR/nonexistent.yaml")
[[ $r == 1 ]] || die "apply of a missing file: exit $r, want 1"

log "a second apply keeps the first file as .prev"
sed 's/from: \[edge1\]/from: [edge1, edge2]/; s/expect: deny}/expect: allow}/' "$EG_DIR/a.yaml" >"$EG_DIR/b.yaml"
ctl policy apply "$EG_DIR/b.yaml"
cmp "$EG_DIR/a.yaml" "$POLICY.prev" || die "policy_file.prev is not the file before"
cmp "$EG_DIR/b.yaml" "$POLICY" || die "policy_file is not b.yaml"
[[ $(fetch "$NS_E2" "http://$HOST/index.html") == $(sha256sum <"$EG_DIR/www/index.html" | cut -d' ' -f1) ]] ||
	die "edge2 cannot fetch after b.yaml allowed it"

log "SIGHUP re-reads policy_file; an invalid one keeps the policy in force"
cp "$EG_DIR/a.yaml" "$POLICY"
lines=$(wc -l <"$EG_DIR/gatewayd.log")
stop_signal() { kill "-$1" "${EG_PIDS[gatewayd]}"; }
stop_signal HUP
wait_for 10 "the reload" grep -q "SIGHUP: clients: .*, policy $POLICY in force" "$EG_DIR/gatewayd.log"
refused_fast "$NS_E2" "http://$HOST/index.html"
cp "$EG_DIR/bad.yaml" "$POLICY"
TABLE=$(table)
stop_signal HUP
wait_for 10 "the refused reload" grep -q "SIGHUP: nothing changed, the clients and the policy in force stay: $POLICY:" "$EG_DIR/gatewayd.log"
tail -n +"$lines" "$EG_DIR/gatewayd.log" | grep SIGHUP
running gatewayd || die "gatewayd stopped on SIGHUP"
[[ $(table) == "$TABLE" ]] || die "a refused reload changed the table"
e1 ping -c1 -W1 "$HOST" >/dev/null || die "the tunnel stopped after a refused reload"

log "the foreign table is as it was"
[[ $(table_foreign) == "$FOREIGN" ]] || die "table inet foreign changed"
stop gatewayd
if gw nft list table inet egress >/dev/null 2>&1; then die "table inet egress outlived gatewayd"; fi
[[ $(table_foreign) == "$FOREIGN" ]] || die "table inet foreign changed when gatewayd stopped"
echo "ok"
