#!/usr/bin/env bash
# A running egress on one machine, to look at and play with:
#
#   egdemo-edge1 (192.0.2.2) --+                                    +-- egdemo-gw: gatewayd
#                              +-- egdemo-inet (the "internet") ----+   198.51.100.1
#   egdemo-edge2 (192.0.2.3) --+     a router, nothing else         +-- egdemo-host: web server
#      edged in each                                                    203.0.113.80
#
# (the full diagram is at the top of tests/netns/lib.sh). It installs what is
# missing, builds, starts gatewayd and two edged, shows what happens, and
# leaves it all running. Everything lives in network namespaces named egdemo-*
# and in /run/egress-demo; nothing outside them changes.
#
#   scripts/demo.sh        set up (removing a demo that is still up first)
#   scripts/demo.sh down   remove it all
set -euo pipefail
cd "$(dirname "$0")/.."

# The comment at the top of this file is its help.
usage() { sed -n '2,/^set -/{/^#/s/^# \{0,1\}//p}' "$0"; }
case ${1:-up} in
up | down) ;;
-h | --help) usage; exit 0 ;;
*) echo "demo.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
esac

RUN_DIR=/run/egress-demo
PREFIX=egdemo

if [[ $(id -u) != 0 ]]; then
	echo "demo.sh: needs root (it makes network namespaces); try: sudo $0 $*" >&2
	exit 1
fi

# down: stop the demo's processes (only those inside its namespaces) and
# delete its namespaces and run directory.
down() {
	local f pid ns
	for f in "$RUN_DIR"/*.pid; do
		[[ -e $f ]] || continue
		pid=$(<"$f")
		[[ $(ip netns identify "$pid" 2>/dev/null) == "$PREFIX"-* ]] || continue
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in {1..50}; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	for ns in $(ip netns list | awk -v p="^$PREFIX-" '$1 ~ p { print $1 }'); do
		for pid in $(ip netns pids "$ns"); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns"
	done
	rm -rf "$RUN_DIR"
}

case ${1:-up} in
down)
	down
	echo "demo.sh: the demo is gone"
	exit 0
	;;
up) ;;
esac

bash scripts/deps.sh
echo "demo.sh: building (log in build/demo-build.log)"
mkdir -p build
if ! bash scripts/build.sh >build/demo-build.log 2>&1; then
	tail -n 40 build/demo-build.log
	echo "demo.sh: the build failed" >&2
	exit 1
fi
down

EG_PREFIX=$PREFIX
EG_DIR=$RUN_DIR
# shellcheck source=tests/netns/lib.sh
source tests/netns/lib.sh
need_binaries

heading() { printf '\n\033[1m=== %s\033[0m\n' "$*"; }
# show NS CMD...: print the command the way a person would type it, then run it.
show() {
	local ns=$1
	shift
	printf '\033[2m# ip netns exec %s %s\033[0m\n' "$ns" "$*"
	n "$ns" "$@"
}

heading "Setting up: namespaces, web server, keys, gatewayd, two edged"
topology
web_start
keys gateway edge1 edge2
# gateway_yaml's configuration, with the flow log and the metrics on
{
	gateway_yaml edge1 edge2
	echo "flow_log: flows.log"
	echo "flow_log_new: true"
	echo "metrics_listen: 127.0.0.1:9586"
} >"$EG_DIR/gateway.yaml"
start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml" -v
wait_for 10 "gatewayd's table inet egress" gw nft list table inet egress
wait_for 10 "gatewayd's UDP port 51820" listening "$NS_GW" udp ":51820"
edged_start edge1
edged_start edge2
wait_for 15 "edge1's tunnel" e1 ping -c1 -W1 "$HOST"
wait_for 15 "edge2's tunnel" e2 ping -c1 -W1 "$HOST"
echo "done: gatewayd in $NS_GW, edged in $NS_E1 and $NS_E2"

heading "1. The edges' routing: everything goes into the tunnel"
echo "edged put a default route on $TUN_IF in a table of its own (51820), and two rules:"
echo "packets without edged's fwmark use that table; the tunnel's own UDP (marked) does not."
show "$NS_E1" ip rule
show "$NS_E1" ip route show table 51820
show "$NS_E1" ip route get "$HOST"
show "$NS_E1" ip route get "$GW_PUBLIC" mark 51820
echo "and its kill switch lets nothing else out of eth0: the LAN router does not answer"
echo "(its route is in front of the tunnel's), and the drop is counted:"
show "$NS_E1" ping -c1 -W1 192.0.2.1 || true
show "$NS_E1" nft list counter inet egress-edge blocked_out

heading "2. Pings through the tunnel"
show "$NS_E1" ping -c3 -i0.3 "$HOST"
show "$NS_E2" ping -c3 -i0.3 "$HOST"

heading "3. HTTP fetches through the tunnel"
show "$NS_E1" curl -sS "http://$HOST/"
show "$NS_E2" curl -sS "http://$HOST/"
web_file 20mb.bin 20 >/dev/null
show "$NS_E1" curl -sS -o /dev/null -w '20 MB in %{time_total} s (%{speed_download} bytes/s)\n' \
	"http://$HOST/20mb.bin"

heading "4. The web server's access log: it saw only the gateway ($GW_PUBLIC)"
grep -v '^Serving' "$EG_DIR/web.log"

heading "5. The gateway's conntrack entries, ours only (mark 0x45670000/0xffff0000)"
echo "the mark's low bits are the client's id (the host part of its tunnel address)"
if ! show "$NS_GW" conntrack -L -m 0x45670000/0xffff0000; then
	echo "(this conntrack cannot filter by mark/mask; all entries:)"
	show "$NS_GW" conntrack -L
fi

heading "6. The egress policy in force: the built-in one, until a policy file is applied"
show_ctl() { show "$NS_GW" "$GATEWAYCTL" --socket "$EG_DIR/run/gatewayd.sock" "$@"; }
show_ctl policy show

heading "7. An egress policy: edge1 may browse, edge2 may only ping"
cat >"$EG_DIR/demo-policy.yaml" <<POLICY
version: 1
default: deny
groups:
  browsers: [edge1]
rules:
  - name: web
    from: [group:browsers]
    to: [internet]
    ports: [tcp/80, tcp/443]
    action: allow
  - name: ping
    from: [any]
    to: [internet]
    ports: [icmp]
    action: allow
tests:
  - {client: edge1, to: $HOST, port: tcp/80, expect: allow}
  - {client: edge2, to: $HOST, port: tcp/80, expect: deny}
POLICY
cat "$EG_DIR/demo-policy.yaml"
show_ctl policy check "$EG_DIR/demo-policy.yaml"
show_ctl policy diff "$EG_DIR/demo-policy.yaml"
show_ctl policy apply "$EG_DIR/demo-policy.yaml"
show "$NS_E1" curl -sS -o /dev/null -w 'edge1: HTTP %{http_code} in %{time_total} s\n' "http://$HOST/"
echo "edge2's fetch is refused at once (a TCP reset from the gateway), not after a timeout:"
show "$NS_E2" curl -sS -o /dev/null -w 'edge2: HTTP %{http_code} in %{time_total} s\n' \
	--max-time 5 "http://$HOST/" || true
show "$NS_E2" ping -c1 -W1 "$HOST"
echo "why: every rule before the verdict, and why it did not match"
show_ctl policy test edge2 "$HOST" tcp/80
show_ctl policy test edge1 "$HOST" tcp/80
show_ctl policy stats

heading "8. The clients, and their flows as conntrack has them"
echo "connected: an authenticated packet within 180 s; drops: what the policy refused"
show_ctl clients
show_ctl status
echo "each flow with the rule that lets it through"
show_ctl flows

heading "9. gatewayd's nftables table, with the policy compiled into it"
show "$NS_GW" nft list table inet egress

heading "10. The flow log (a JSON line per flow) and the Prometheus metrics"
show "$NS_GW" tail -n 2 "$EG_DIR/flows.log"
show "$NS_GW" sh -c "curl -sS http://127.0.0.1:9586/metrics | grep -E '^egress_client_(rx|tx)_bytes_total'"

EG_LEAVE_RUNNING=1
heading "The demo is running. Look around:"
cat <<EOF
  ip netns exec $NS_E1 bash    # edge1: try  curl http://$HOST/  or  ip rule
  ip netns exec $NS_E2 bash    # edge2
  ip netns exec $NS_GW bash       # the gateway: conntrack -L, nft list ruleset, ip addr
  ip netns exec $NS_GW $GATEWAYCTL --socket $EG_DIR/run/gatewayd.sock policy stats
  ip netns exec $NS_GW $GATEWAYCTL --socket $EG_DIR/run/gatewayd.sock clients
  ip netns exec $NS_HOST bash     # the internet host ($HOST), web root $EG_DIR/www
  ip netns exec $NS_INET bash     # the router between them

  logs: $EG_DIR/gatewayd.log, $EG_DIR/edged-edge1.log, $EG_DIR/edged-edge2.log,
        $EG_DIR/web.log (the web server's access log), $EG_DIR/flows.log (the flow log)
  ip netns exec $NS_GW curl -s http://127.0.0.1:9586/metrics   # the metrics
  configs and keys: $EG_DIR/

  scripts/demo.sh down            # removes all of it
EOF
