#!/usr/bin/env bash
# gatewayd's Prometheus metrics (metrics_listen: 127.0.0.1:9586 in the
# gateway's namespace), scraped with curl there:
#   - every scrape passes `promtool check metrics` with nothing to say;
#   - edge1's rx/tx bytes grow with a download and agree with what SIGUSR1
#     logs; idle edge2's do not move;
#   - a live download is one active flow of edge1's, none of edge2's;
#   - a flow the policy denies is counted by its rule, as a policy drop and
#     as one of edge1's, as `gatewayctl policy stats` counts it; packets edge2 sends with
#     edge1's address are spoofed drops of edge2's;
#   - other paths get 404, other methods 405 (with Allow), a request with a
#     body 413, one with oversized headers 431; scrapers that reset their
#     connection do no harm; 20 scrapes at once all get their answer;
#   - 100 scrapes in a row leave pings through the tunnel unharmed;
#   - a second gatewayd with the same metrics port refuses to start, says
#     why and changes nothing; the port is closed once gatewayd stops.
#
#   edge1, edge2 -- br0 -- router -- gateway (gatewayd, 127.0.0.1:9586) -- router -- host
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries
command -v promtool >/dev/null || die "promtool is missing (scripts/deps.sh installs it)"

LISTEN=127.0.0.1:9586
URL=http://$LISTEN/metrics

# scrape: one scrape's text, also kept as $EG_DIR/scrape.txt.
scrape() { gw curl -sSf --max-time 10 "$URL" | tee "$EG_DIR/scrape.txt"; }
# value SERIES: SERIES's value in a new scrape, as the text has it:
#   value 'egress_client_rx_bytes_total{client="edge1"}'
value() {
	scrape | awk -v s="$1" '$1 == s { print $2; found = 1 } END { exit !found }' ||
		die "no series $1 in the scrape"
}
# code ARGS...: the HTTP status curl gets for ARGS.
code() { gw curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
# lint FILE: promtool has nothing to say of FILE.
lint() {
	local out rc=0
	out=$(promtool check metrics <"$1" 2>&1) || rc=$?
	[[ $rc == 0 && -z $out ]] || die "promtool check metrics on $1: exit $rc: $out"
}
# usr1_bytes CLIENT: the rx and tx bytes SIGUSR1 logs for CLIENT now.
usr1_bytes() {
	local before line
	before=$(seen gatewayd "peer $1: endpoint")
	kill -USR1 "${EG_PIDS[gatewayd]}"
	wait_for 5 "SIGUSR1's line of $1" atleast $((before + 1)) seen gatewayd "peer $1: endpoint"
	line=$(grep "peer $1: endpoint" "$EG_DIR/gatewayd.log" | tail -n 1)
	[[ $line =~ rx\ [0-9]+\ packets\ ([0-9]+)\ bytes,\ tx\ [0-9]+\ packets\ ([0-9]+)\ bytes ]] ||
		die "SIGUSR1's line of $1 has no rx and tx bytes: $line"
	echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
}
# close_to A B: A is B or up to 2000 bytes more (a keepalive's worth of
# packets sent between the two readings).
close_to() { (($1 >= $2 && $1 - $2 <= 2000)); }
# stats_packets RULE: what `gatewayctl policy stats` counts for RULE.
stats_packets() { ctl policy stats | awk -v r="$1" '$1 == r { print $2 }'; }

topology
keys gateway edge1 edge2
cat >"$EG_DIR/policy.yaml" <<-EOF
	version: 1
	default: deny
	rules:
	  - {name: no-8080, from: [any], to: [$HOST/32], ports: [tcp/8080], action: deny}
	  - {name: internet, from: [any], to: [internet], action: allow}
EOF
gateway_yaml edge1 edge2 >"$EG_DIR/gateway.yaml"
echo "metrics_listen: $LISTEN" >>"$EG_DIR/gateway.yaml"
start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml" -v
wait_for 10 "gatewayd's table inet egress" gw nft list table inet egress
wait_for 10 "the metrics port" listening "$NS_GW" tcp "$LISTEN"
wait_for 10 "the control socket" test -S "$EG_DIR/run/gatewayd.sock"
grep -q "metrics on $URL" "$EG_DIR/gatewayd.log" || die "gatewayd did not log where the metrics are"
web_start
web_file big.bin 4 >/dev/null
edged_start edge1
edged_start edge2
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
wait_for 10 "edge2's handshake" e2 ping -c1 -W1 "$HOST"

log "a scrape: promtool finds nothing to say"
scrape >"$EG_DIR/first.txt"
lint "$EG_DIR/first.txt"
grep -c '^# TYPE ' "$EG_DIR/first.txt"
gw curl -sS -D - -o /dev/null "$URL" | tee "$EG_DIR/headers.txt"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$EG_DIR/headers.txt" ||
	die "not the text format's content type"
[[ $(value 'egress_client_connected{client="edge1"}') == 1 ]] || die "edge1 not connected"
[[ $(value 'egress_clients') == 2 ]] || die "not 2 clients"
(($(value 'egress_client_handshakes_total{client="edge1"}') >= 1)) || die "edge1: no handshake"
(($(value 'egress_client_last_handshake_timestamp_seconds{client="edge1"}') > $(date +%s) - 60)) ||
	die "edge1's last handshake is not recent"

log "edge1's bytes grow with a 4 MB download and agree with SIGUSR1's"
gw conntrack -F 2>/dev/null # only the test's flows from here on
rx0=$(value 'egress_client_rx_bytes_total{client="edge1"}')
tx0=$(value 'egress_client_tx_bytes_total{client="edge1"}')
idle=$(value 'egress_client_rx_bytes_total{client="edge2"}')
[[ $(fetch "$NS_E1" "http://$HOST/big.bin") == "$(sha256sum <"$EG_DIR/www/big.bin" | cut -d' ' -f1)" ]] ||
	die "the download is not the file"
read -r log_rx log_tx < <(usr1_bytes edge1)
rx1=$(value 'egress_client_rx_bytes_total{client="edge1"}')
tx1=$(value 'egress_client_tx_bytes_total{client="edge1"}')
lint "$EG_DIR/scrape.txt"
echo "edge1: rx $rx0 -> $rx1, tx $tx0 -> $tx1 bytes; SIGUSR1: rx $log_rx, tx $log_tx"
((tx1 - tx0 >= 4 * 1024 * 1024)) || die "tx grew by $((tx1 - tx0)) bytes, less than the download"
((rx1 > rx0)) || die "rx did not grow (the download's ACKs)"
close_to "$rx1" "$log_rx" || die "rx: the scrape's $rx1 is not SIGUSR1's $log_rx"
close_to "$tx1" "$log_tx" || die "tx: the scrape's $tx1 is not SIGUSR1's $log_tx"
[[ $(value 'egress_client_rx_bytes_total{client="edge2"}') == "$idle" ]] ||
	die "idle edge2's rx bytes moved"

log "a live download is an active flow of edge1's, of nobody else's"
[[ $(value 'egress_client_active_flows{client="edge1"}') == 0 ]] ||
	die "edge1 has active flows before the download: $(gw conntrack -L 2>/dev/null)"
start download "$NS_E1" curl -gsS --limit-rate 200k --max-time 60 -o "$EG_DIR/slow.out" \
	"http://$HOST/big.bin"
wait_for 10 "the download to start" test -s "$EG_DIR/slow.out"
flows1=$(value 'egress_client_active_flows{client="edge1"}')
flows2=$(value 'egress_client_active_flows{client="edge2"}')
entries=$(value 'egress_conntrack_entries')
lint "$EG_DIR/scrape.txt"
echo "active flows: edge1 $flows1, edge2 $flows2; conntrack entries $entries of $(value egress_conntrack_entries_limit)"
[[ $flows1 == 1 ]] || die "edge1: $flows1 active flows during its download, want 1"
[[ $flows2 == 0 ]] || die "edge2: $flows2 active flows, want 0"
((entries >= 1)) || die "no conntrack entries during the download"
[[ $(value 'egress_collector_success{collector="flows"}') == 1 ]] || die "flows not collected"
stop download || true

log "a flow the policy denies is counted by its rule and as a policy drop"
deny='egress_policy_rule_hits_total{rule="no-8080",action="deny"}'
hits0=$(value "$deny")
drops0=$(value 'egress_dropped_packets_total{reason="policy"}')
cdrops0=$(value 'egress_client_policy_drops_total{client="edge1"}')
refused_fast "$NS_E1" "http://$HOST:8080/"
hits1=$(value "$deny")
drops1=$(value 'egress_dropped_packets_total{reason="policy"}')
cdrops1=$(value 'egress_client_policy_drops_total{client="edge1"}')
echo "no-8080: $hits0 -> $hits1 hits; policy drops $drops0 -> $drops1; policy stats: $(stats_packets no-8080)"
((hits1 > hits0)) || die "the deny rule's hits did not grow"
((drops1 - drops0 == hits1 - hits0)) || die "the policy drops did not grow with the rule's hits"
((cdrops1 - cdrops0 == hits1 - hits0)) || die "edge1's policy drops did not grow with the rule's hits"
[[ $(stats_packets no-8080) == "$hits1" ]] || die "policy stats counts $(stats_packets no-8080), the scrape $hits1"
(($(value 'egress_policy_rule_hits_total{rule="internet",action="allow"}') >= 2)) ||
	die "the allow rule did not count the downloads"

log "edge2's packets with edge1's address are edge2's spoofed drops"
e2 ip addr add "$(tun_addr edge1)/32" dev "$TUN_IF"
e2 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
for _ in range(3):
    s.sendto(b"spoofed", (sys.argv[2], 9))
' "$(tun_addr edge1)" "$HOST"
e2 ip addr del "$(tun_addr edge1)/32" dev "$TUN_IF"
spoof() { value 'egress_client_spoofed_packets_total{client="edge2"}'; }
wait_for 5 "3 spoofed packets of edge2's" atleast 3 spoof
[[ $(spoof) == 3 ]] || die "edge2: $(spoof) spoofed packets, want 3"
[[ $(value 'egress_client_spoofed_packets_total{client="edge1"}') == 0 ]] || die "edge1 spoofed?"
[[ $(value 'egress_dropped_packets_total{reason="spoofed_source"}') == 3 ]] || die "not 3 spoofed drops"

log "other paths, methods and oversized requests"
[[ $(code "http://$LISTEN/") == 404 ]] || die "/: not 404"
[[ $(code "http://$LISTEN/metricsx") == 404 ]] || die "/metricsx: not 404"
[[ $(code -X POST "$URL") == 405 ]] || die "POST: not 405"
[[ $(code -X DELETE "$URL") == 405 ]] || die "DELETE: not 405"
gw curl -s -D - -o /dev/null -X PUT "$URL" | grep -i '^Allow: GET, HEAD' >/dev/null || die "405 without Allow"
[[ $(code -I "$URL") == 200 ]] || die "HEAD: not 200"
[[ $(code -X GET --data-binary x "$URL") == 413 ]] || die "a GET with a body: not 413"
[[ $(code -H "X-Big: $(printf 'a%.0s' {1..20000})" "$URL") == 431 ]] || die "20 KB of headers: not 431"
[[ $(code "$URL") == 200 ]] || die "a scrape after them: not 200"

log "scrapers that reset their connection mid-request leave gatewayd serving"
gw python3 - <<-'EOF'
	import socket, struct
	for i in range(20):
	    s = socket.create_connection(("127.0.0.1", 9586))
	    # half of them a whole request (its scrape suspended when they go), half a part of one
	    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" if i % 2 else b"GET /metr")
	    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
	    s.close()
EOF
r=$(code "$URL")
[[ $r == 200 ]] || die "no scrape after the resets: $r"
running gatewayd || die "gatewayd is gone"

log "20 scrapes at once all get their answer"
pids=()
for i in {1..20}; do
	gw curl -s --max-time 20 -o "$EG_DIR/par.$i" -w '%{http_code}\n' "$URL" >"$EG_DIR/par.$i.code" &
	pids+=($!)
done
wait "${pids[@]}" # these only: a bare wait would wait for the daemons too
for i in {1..20}; do
	[[ $(cat "$EG_DIR/par.$i.code") == 200 ]] || die "scrape $i of 20: $(cat "$EG_DIR/par.$i.code")"
	lint "$EG_DIR/par.$i"
done

log "100 scrapes in a row while edge1 pings through the tunnel"
e1 ping -q -c 200 -i 0.01 "$HOST" | tail -n 2 | tee "$EG_DIR/ping.idle"
start pings "$NS_E1" ping -q -i 0.01 "$HOST"
exec_done pings ping
t0=$EPOCHREALTIME
for _ in {1..100}; do
	gw curl -sSf --max-time 10 -o /dev/null "$URL"
done
t1=$EPOCHREALTIME
stop pings INT || true # ping's summary on SIGINT
tail -n 2 "$EG_DIR/pings.log"
echo "100 scrapes in $(python3 -c "print(round($t1 - $t0, 2))") s"
# The last echo may still be on its way when ping stops: one short at most.
read -r sent got < <(awk '/packets transmitted/ { print $1, $4 }' "$EG_DIR/pings.log")
((got >= sent - 1 && sent > 50)) || die "pings lost during the scrapes: $got of $sent answered"

log "a second gatewayd with the same metrics port refuses to start"
sed -e "s/^interface: .*/interface: egress1/" -e "s/^listen_port: .*/listen_port: 51821/" \
	-e "s|^control_socket: .*|control_socket: run/second.sock|" \
	"$EG_DIR/gateway.yaml" >"$EG_DIR/second.yaml"
refused second "$NS_GW" "cannot serve metrics on $LISTEN: Address already in use" \
	"$GATEWAYD" -c "$EG_DIR/second.yaml"
[[ $(code "$URL") == 200 ]] || die "the first gatewayd stopped serving"

log "the port closes with gatewayd"
stop gatewayd || die "gatewayd exited with status $?"
! listening "$NS_GW" tcp "$LISTEN" || die "the metrics port is still open"

echo PASS
