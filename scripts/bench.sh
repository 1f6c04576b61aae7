#!/usr/bin/env bash
# Throughput and latency from an edge to an internet host, three ways, in one
# run on one machine, so the figures are comparable with each other:
#
#   direct        the gateway's kernel routes the edge's packets and
#                 masquerades them (no tunnel): the baseline
#   wireguard-go  Debian's wireguard-go on both ends, same masquerade
#   egress        edged and gatewayd (skipped, loudly, when not built)
#   egress-plain  the same with every offload off (offload: all false in
#                 both configurations): one packet per TUN read and write,
#                 one datagram per UDP send and receive
#
#   ns edge                  ns gw                                 ns host
#  +-------------------+    +--------------------------------+    +---------------------+
#  | eth0 192.0.2.2/24 |----| lan0 192.0.2.1/24              |    |                     |
#  | default via .1    |    | wan0 198.51.100.1/24           |----| eth0 203.0.113.80   |
#  | tunnel 100.64.0.2 |    | tunnel 100.64.0.1/24, forward, |    | route 198.51.100.0/ |
#  +-------------------+    | masquerade out of wan0         |    | 24 dev eth0; iperf3 |
#                           +--------------------------------+    +---------------------+
#
# For each: iperf3 TCP, one stream and four (-P 4), $BENCH_SECONDS each
# (default 10), and the median of 200 ping round trips at 5 ms intervals;
# for egress, the CPU its two daemons and the whole machine spent during the
# single stream (/proc/PID/stat and /proc/stat).
#
# Then the policy (egress only), over IPv6 through the tunnel, with 100
# clients in gateway.yaml (edge1 and 99 that never connect):
#   - the time `gatewayctl policy apply` takes for a policy of 10,000 CIDRs
#     in 100 rules that every client's chain holds (goal: under 1 s), and
#     for the same policy again (what each later apply costs);
#   - new TCP connections per second from edge1 with that policy in force,
#     as a ratio of the same with the built-in policy (goal: at least 0.9):
#     each connection is a new flow, so it passes all 100 rules' sets, while
#     bulk throughput would not (established flows are accepted first).
#
# Then the flows (egress only): 100,000 conntrack entries of 100 clients
# loaded into the gateway's namespace (tests/netns/ctload.c):
#   - the time `gatewayctl flows --client NAME` takes for one client's 1,000,
#     against `conntrack -L` of the whole table (goal: no longer);
#   - the 99th percentile of 500 ping round trips through the tunnel while
#     `gatewayctl flows` lists all 100,000 over and over, against the same
#     without a listing (goal: at most twice, plus 1 ms).
#
# Then many clients (egress only): gatewayd with 1,000, 10,000 and 60,000
# clients in gateway.yaml (a /16, IPv4 and IPv6 addresses, real keys; edge1
# one of them), each time:
#   - its start, from exec until `gatewayctl status` answers (goal at 60,000:
#     under 3 s), and edge1's first ping through the tunnel after that;
#   - its resident memory then (VmRSS), and the peak (VmHWM, which holds
#     the configuration's parse);
#   - `gatewayctl client add` and `client remove` of one client at runtime,
#     end to end (gateway.yaml read and edited through its index, the
#     policy compiled against the new client list, the kernel's
#     transaction, the device's peer: goal at 60,000 under 100 ms), twice:
#     the first pair may wait for the index, made on gatewayd's worker after
#     its start; the second is what every later one costs;
#   - one client added to and removed from a device holding that many
#     (wg_peer_add, wg_peer_remove: goal under 100 ms), an address looked up
#     and an idle tick, from build/tests/bench_peers, the median of 101.
# BENCH_CLIENTS="1000 10000" picks other counts (up to 65,000).
#
# Usage: scripts/bench.sh [--no-build] [--throughput | --policy | --flows | --clients]  (as root)
#   --throughput  only the throughput, RTT and memory part
#   --policy   only the policy part
#   --flows    only the flows part
#   --clients  only the many-clients part
set -euo pipefail
cd "$(dirname "$0")/.."

# The comment at the top of this file is its help.
usage() { sed -n '2,/^set -/{/^#/s/^# \{0,1\}//p}' "$0"; }
build=1 only_policy=0 only_flows=0 only_clients=0 only_throughput=0
for arg in "$@"; do
	case $arg in
	--no-build) build=0 ;;
	--policy) only_policy=1 ;;
	--clients) only_clients=1 ;;
	--flows) only_flows=1 ;;
	--throughput) only_throughput=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "bench.sh: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
	esac
done

if [[ $(id -u) != 0 ]]; then
	echo "bench.sh: needs root (it makes network namespaces); try: sudo $0" >&2
	exit 1
fi
BENCH_SECONDS=${BENCH_SECONDS:-10}

if ((build)); then
	bash scripts/deps.sh
	bash scripts/build.sh >/dev/null || echo "bench.sh: the build failed; egress will be skipped" >&2
fi

# shellcheck source=tests/netns/lib.sh
source tests/netns/lib.sh

topology_line() {
	ns_add "$NS_E1"
	ns_add "$NS_GW"
	ns_add "$NS_HOST"
	veth "$NS_E1" eth0 "$NS_GW" lan0
	veth "$NS_GW" wan0 "$NS_HOST" eth0
	addr "$NS_E1" eth0 192.0.2.2/24
	e1 ip route add default via 192.0.2.1
	addr "$NS_GW" lan0 192.0.2.1/24
	addr "$NS_GW" wan0 "$GW_PUBLIC/24"
	gw ip route add 203.0.113.0/24 dev wan0
	forwarding "$NS_GW"
	addr "$NS_HOST" eth0 "$HOST/24"
	host ip route add 198.51.100.0/24 dev eth0
	wait_for 5 "the gateway to reach the host" gw ping -c1 -W1 "$HOST"
	wait_for 5 "the edge to reach the gateway" e1 ping -c1 -W1 "$GW_PUBLIC"
}

# iperf3_mbps ARGS...: receiver-side throughput of an iperf3 run from the edge.
iperf3_mbps() {
	e1 iperf3 -c "$HOST" -t "$BENCH_SECONDS" -J "$@" >"$EG_DIR/iperf3.json" ||
		die "iperf3 failed: $(tail -5 "$EG_DIR/iperf3.json")"
	python3 -c 'import json, sys
print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))' \
		<"$EG_DIR/iperf3.json"
}

# median_rtt: of 200 pings at 5 ms intervals, in ms.
median_rtt() {
	e1 ping -n -i 0.005 -c 200 -W 1 "$HOST" | sed -n 's/.* time=\([0-9.]*\) ms$/\1/p' |
		sort -g | awk '{ t[NR] = $1 }
		END {
			if (NR < 100) exit 1 # more than half lost: no figure
			printf "%.3f\n", NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
		}'
}

declare -A TCP1 TCP4 RTT MEM CPU
# peak_rss NAME: the peak resident memory (VmHWM) of a process from start(), in KiB.
peak_rss() { awk '/^VmHWM:/ { print $2 }' "/proc/${EG_PIDS[$1]}/status"; }
# cpu_ticks NAME: the user and system clock ticks of a process from start();
# busy_ticks and all_ticks: of the whole machine (/proc/stat's cpu line).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/${EG_PIDS[$1]}/stat"; }
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
all_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
percent() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }'; }

measure() {
	local mode=$1 g0 e0 b0 a0 t0 hz cpu=0
	log "$mode"
	wait_for 10 "$mode: a path to the host" e1 ping -c1 -W1 "$HOST"
	# egress's daemons: the CPU they take during the single stream
	if running gatewayd && running edged-edge1; then
		cpu=1 hz=$(getconf CLK_TCK) t0=$EPOCHREALTIME
		g0=$(cpu_ticks gatewayd) e0=$(cpu_ticks edged-edge1) b0=$(busy_ticks) a0=$(all_ticks)
	fi
	TCP1[$mode]=$(iperf3_mbps)
	echo "TCP, 1 stream:  ${TCP1[$mode]} Mbit/s"
	if ((cpu)); then
		local ticks
		ticks=$(awk -v t0="$t0" -v t1="$EPOCHREALTIME" -v hz="$hz" 'BEGIN { print (t1 - t0) * hz }')
		CPU[$mode]="gatewayd $(percent $(($(cpu_ticks gatewayd) - g0)) "$ticks")%, edged $(
			)$(percent $(($(cpu_ticks edged-edge1) - e0)) "$ticks")% of a core; the machine $(
			)$(percent $(($(busy_ticks) - b0)) $(($(all_ticks) - a0)))% busy"
		echo "CPU during it:  ${CPU[$mode]}"
	fi
	TCP4[$mode]=$(iperf3_mbps -P 4)
	echo "TCP, 4 streams: ${TCP4[$mode]} Mbit/s"
	RTT[$mode]=$(median_rtt) || die "$mode: most pings were lost"
	echo "median RTT:     ${RTT[$mode]} ms"
}

# The edge's wg-quick style rules, as wggo_edge and edged add them.
edge_rules_del() {
	e1 ip rule del not fwmark 51820 table 51820 2>/dev/null || true
	e1 ip rule del table main suppress_prefixlength 0 2>/dev/null || true
}

throughput() {
	start iperf3 "$NS_HOST" iperf3 -s -B "$HOST"
	wait_for 10 "iperf3 on the host" listening "$NS_HOST" tcp "$HOST:5201"
	echo "${BENCH_SECONDS}s per iperf3 run"

	gw nft -f - <<-'EOF'
	table inet bench_direct {
		chain postrouting {
			type nat hook postrouting priority srcnat;
			oifname "wan0" ip saddr 192.0.2.0/24 masquerade
		}
	}
	EOF
	measure direct
	gw nft delete table inet bench_direct

	wggo_gateway edge1
	wggo_edge edge1
	measure wireguard-go
	MEM[wireguard-go]="$(peak_rss wggo-gw) $(peak_rss wggo-edge1)"
	stop wggo-edge1
	stop wggo-gw
	edge_rules_del
	gw nft delete table inet wggo

	modes=(direct wireguard-go)
	if [[ -x $GATEWAYD && -x $EDGED ]]; then
		gatewayd_start edge1
		edged_start edge1
		measure egress
		MEM[egress]="$(peak_rss gatewayd) $(peak_rss edged-edge1)"
		stop edged-edge1
		stop gatewayd
		EG_YAML_EXTRA="offload: {tun_tso: false, tun_uso: false, udp_gso: false, udp_gro: false}"
		gatewayd_start edge1
		edged_start edge1
		measure egress-plain
		MEM[egress-plain]="$(peak_rss gatewayd) $(peak_rss edged-edge1)"
		stop edged-edge1
		stop gatewayd
		EG_YAML_EXTRA=
		modes+=(egress egress-plain)
	else
		printf '\n!!!!!!!!!!\n!!! egress SKIPPED: %s or %s is missing (scripts/build.sh builds them)\n!!!!!!!!!!\n' \
			"$GATEWAYD" "$EDGED"
	fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }

throughput_results() {
	log "results (ratio to direct in brackets)"
	printf '%-14s %22s %22s %20s\n' "" "TCP 1 stream" "TCP 4 streams" "median RTT"
	for m in "${modes[@]}"; do
		printf '%-14s %11s Mbit/s (%s) %11s Mbit/s (%s) %10s ms (%s)\n' "$m" \
			"${TCP1[$m]}" "$(ratio "${TCP1[$m]}" "${TCP1[direct]}")" \
			"${TCP4[$m]}" "$(ratio "${TCP4[$m]}" "${TCP4[direct]}")" \
			"${RTT[$m]}" "$(ratio "${RTT[$m]}" "${RTT[direct]}")"
	done

	echo
	echo "peak resident memory after the runs (VmHWM), gateway and edge daemon:"
	for m in "${modes[@]}"; do
		[[ -n ${MEM[$m]:-} ]] || continue
		read -r g e <<<"${MEM[$m]}"
		printf '%-14s gateway %6s KiB   edge %6s KiB\n' "$m" "$g" "$e"
	done

	for m in "${modes[@]}"; do
		[[ -z ${CPU[$m]:-} ]] || printf 'CPU during the single stream, %s: %s\n' "$m" "${CPU[$m]}"
	done

	if [[ -n ${TCP1[egress]:-} ]]; then
		echo
		eg=${TCP1[egress]} wg=${TCP1[wireguard-go]}
		if ((eg > wg)); then
			echo "single-stream TCP: egress is ahead of wireguard-go ($eg vs $wg Mbit/s, $(ratio "$eg" "$wg")x)"
		else
			echo "single-stream TCP: egress is NOT ahead of wireguard-go ($eg vs $wg Mbit/s)"
		fi
		echo "offloads: egress $eg Mbit/s single-stream, $(ratio "$eg" "${TCP1[egress-plain]}")x of the $(
			)${TCP1[egress-plain]} Mbit/s with every offload off"
		added_eg=$(awk -v a="${RTT[egress]}" -v d="${RTT[direct]}" 'BEGIN { printf "%.3f", a - d }')
		added_wg=$(awk -v a="${RTT[wireguard-go]}" -v d="${RTT[direct]}" 'BEGIN { printf "%.3f", a - d }')
		if awk -v e="$added_eg" -v w="$added_wg" 'BEGIN { exit !(e <= w) }'; then
			echo "added RTT: egress +$added_eg ms, no higher than wireguard-go's +$added_wg ms"
		else
			echo "added RTT: egress +$added_eg ms, HIGHER than wireguard-go's +$added_wg ms"
		fi
	fi
}

# big_policy FILE: 100 rules from any client, each denying 100 IPv6 /48s of
# 2001:db8::/32 (none adjacent, so the compiler cannot merge them: 10,000
# intervals), then the internet allowed.
big_policy() {
	python3 - "$1" <<-'PY'
		import sys
		with open(sys.argv[1], "w") as f:
		    f.write("version: 1\ndefault: deny\nrules:\n")
		    for r in range(100):
		        cidrs = ", ".join('"2001:db8:%x::/48"' % (0x1000 + 2 * (r * 100 + i))
		                          for i in range(100))
		        f.write("  - {name: block-%d, from: [any], to: [%s], action: deny}\n" % (r, cidrs))
		    f.write("  - {name: internet, from: [any], to: [internet], action: allow}\n")
	PY
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# apply_seconds FILE: how long `gatewayctl policy apply FILE` takes.
apply_seconds() {
	local t0=$EPOCHREALTIME
	ctl policy apply "$1" >/dev/null || die "policy apply $1 failed"
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
}

# ping_stats: 400 pings 10 ms apart from edge1 to the host over IPv6 through
# the tunnel: "max MAX ms, avg AVG ms, LOSS loss".
ping_stats() {
	e1 ping -6 -n -q -i 0.01 -c 400 -W 1 "$HOST6" | awk '
		/packet loss/ { for (i = 1; i <= NF; i++) if ($i ~ /%$/) loss = $i }
		/^rtt/ { split($4, v, "/"); printf "max %s ms, avg %s ms, %s loss\n", v[3], v[2], loss }'
}

# check_seconds FILE: how long `gatewayctl policy check FILE` takes: parsing,
# checking and the tests, without compiling or the kernel.
check_seconds() {
	local t0=$EPOCHREALTIME
	ctl policy check "$1" >/dev/null || die "policy check $1 failed"
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
}

# conn_rate: new TCP connections per second from edge1 to the host over IPv6
# through the tunnel, 4 workers for $BENCH_SECONDS.
conn_rate() {
	# each run starts from an empty conntrack table: the last one's
	# thousands of closed entries would slow this one down
	gw conntrack -F >/dev/null 2>&1 || true
	e1 conntrack -F >/dev/null 2>&1 || true
	host conntrack -F >/dev/null 2>&1 || true
	sleep 1
	e1 python3 scripts/connrate.py run "$HOST6" 8080 "$BENCH_SECONDS" 4 ||
		die "the connection-rate run failed"
}

policy_bench() {
	local c i t_check t_first t_again rates_builtin=() rates_big=() m_builtin m_big
	local rtt_idle rtt_applying applies
	log "policy: 100 clients, IPv6 through the tunnel"
	addr "$NS_GW" wan0 "$GW_PUBLIC6/64"
	addr "$NS_HOST" eth0 "$HOST6/64"
	gw ip -6 route add 2001:db8:80::/64 dev wan0
	host ip -6 route add 2001:db8:51::/64 dev eth0
	{
		gateway_yaml -6 edge1
		for ((i = 3; i <= 101; i++)); do
			c=c$i
			echo "  - name: $c"
			echo "    public_key: \"$(wg genkey | wg pubkey)\""
			echo "    address: 100.64.0.$i"
			echo "    address6: fd00:64::$i"
		done
	} >"$EG_DIR/gateway.yaml"
	start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml"
	wait_for 10 "gatewayd's control socket" test -S "$EG_DIR/run/gatewayd.sock"
	edged_start -6 edge1
	wait_for 10 "edge1's tunnel over IPv6" e1 ping -6 -c1 -W1 "$HOST6"
	start connrate "$NS_HOST" python3 scripts/connrate.py serve "$HOST6" 8080
	wait_for 10 "the connection server" listening "$NS_HOST" tcp "[$HOST6]:8080"

	big_policy "$EG_DIR/big.yaml"
	printf '%s\n' "$(ctl policy show | sed '1d;$d')" >"$EG_DIR/builtin.yaml"
	t_check=$(check_seconds "$EG_DIR/big.yaml")
	t_first=$(apply_seconds "$EG_DIR/big.yaml")
	t_again=$(apply_seconds "$EG_DIR/big.yaml")
	echo "apply, 10,000 CIDRs:    $t_first s (again: $t_again s; check alone: $t_check s)"
	# Five rounds each, interleaved: the rate drifts by 15% and more from run
	# to run on two shared cores, so the medians are compared.
	for i in 1 2 3 4 5; do
		ctl policy apply "$EG_DIR/builtin.yaml" >/dev/null
		rates_builtin+=("$(conn_rate)")
		ctl policy apply "$EG_DIR/big.yaml" >/dev/null
		rates_big+=("$(conn_rate)")
		echo "round $i: built-in ${rates_builtin[-1]}, 10,000 CIDRs ${rates_big[-1]} new connections/s"
	done
	# The data path during applies: 400 pings 10 ms apart through the tunnel,
	# once while nothing happens and once while the two policies are applied
	# in turn, as fast as gatewayctl can.
	rtt_idle=$(ping_stats)
	# shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
	start applier "$NS_GW" bash -c 'while :; do
		for f in big builtin; do "$1" --socket "$2" policy apply "$3/$f.yaml" >/dev/null; done
	done' applier "$GATEWAYCTL" "$EG_DIR/run/gatewayd.sock" "$EG_DIR"
	rtt_applying=$(ping_stats)
	stop applier TERM || true
	applies=$(grep -c "applied" "$EG_DIR/gatewayd.log")
	echo "pings, max/avg RTT and loss: idle $rtt_idle; during applies $rtt_applying"
	stop connrate
	stop edged-edge1
	stop gatewayd

	log "policy results"
	m_builtin=$(median "${rates_builtin[@]}")
	m_big=$(median "${rates_big[@]}")
	echo "apply of 10,000 CIDRs / 100 clients: $t_first s, again $t_again s (goal < 1 s);" \
		"check alone $t_check s"
	echo "new connections/s: $m_big with it, $m_builtin with the built-in policy (medians of 5):" \
		"ratio $(ratio "$m_big" "$m_builtin") (goal >= 0.9)"
	echo "pings through the tunnel: idle $rtt_idle"
	echo "  while applying the 10,000-CIDR and the built-in policy in turn: $rtt_applying"
	echo "  ($applies applies in all in this run)"
}

# many_clients_yaml N: gateway.yaml with edge1 and N - 1 generated clients
# (the first lines of $EG_DIR/clients.yaml, four per client) in a /16.
many_clients_yaml() {
	gateway_yaml -6 edge1 | sed 's#^address: 100.64.0.1/24$#address: 100.64.0.1/16#'
	head -n $((4 * ($1 - 1))) "$EG_DIR/clients.yaml"
}

# status_answers: does gatewayd's control socket answer `gatewayctl status`?
status_answers() { ctl status >/dev/null 2>&1; }

# proc_kib NAME FIELD: a field of /proc/PID/status of a process from start().
proc_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/${EG_PIDS[$1]}/status"; }

clients_bench() {
	local n t0 t_start t_ping t_first t_first_rm t_add t_remove rss rss_after hwm results=() peers counts max
	read -r -a counts <<<"${BENCH_CLIENTS:-1000 10000 60000}"
	max=$(printf '%s\n' "${counts[@]}" | sort -n | tail -1)
	local bench_peers=$EGRESS_BIN/tests/bench_peers
	[[ -x $bench_peers ]] || die "$bench_peers is missing: build first (scripts/build.sh)"
	log "clients: gatewayd with ${counts[*]} clients"
	addr "$NS_GW" wan0 "$GW_PUBLIC6/64"
	addr "$NS_HOST" eth0 "$HOST6/64"
	gw ip -6 route add 2001:db8:80::/64 dev wan0
	host ip -6 route add 2001:db8:51::/64 dev eth0
	t0=$EPOCHREALTIME
	"$bench_peers" clients "$max" 1 >"$EG_DIR/clients.yaml"
	echo "$max client keys made in $(awk -v a="$t0" -v b="$EPOCHREALTIME" \
		'BEGIN { printf "%.1f", b - a }') s"
	for n in "${counts[@]}"; do
		many_clients_yaml "$n" >"$EG_DIR/gateway.yaml"
		t0=$EPOCHREALTIME
		start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml"
		until status_answers; do
			running gatewayd || die "gatewayd with $n clients exited: $(tail -3 "$EG_DIR/gatewayd.log")"
			sleep 0.01
		done
		t_start=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
		rss=$(proc_kib gatewayd VmRSS)
		hwm=$(proc_kib gatewayd VmHWM)
		ctl status | grep "clients: *$n configured" >/dev/null || die "gatewayd does not count $n clients"
		edged_start -6 edge1
		t0=$EPOCHREALTIME
		wait_for 10 "edge1's ping through the tunnel ($n clients)" e1 ping -c1 -W1 "$HOST"
		t_ping=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
		# The first add waits for gateway.yaml's index if it is still
		# being made; the second pair is what each later one costs.
		t_first=$(seconds ctl client add bench-first --endpoint 198.51.100.1:51820)
		t_first_rm=$(seconds ctl client remove bench-first)
		t_add=$(seconds ctl client add bench-added --endpoint 198.51.100.1:51820)
		t_remove=$(seconds ctl client remove bench-added)
		rss_after=$(proc_kib gatewayd VmRSS)
		stop edged-edge1
		edge_rules_del
		stop gatewayd
		peers=$("$bench_peers" peers "$n") || die "bench_peers peers $n failed"
		echo "$n clients: start $t_start s, RSS $rss KiB (peak $hwm KiB), first ping $t_ping s," \
			"first client add $t_first s and remove $t_first_rm s, then add $t_add s and" \
			"remove $t_remove s, RSS then $rss_after KiB"
		printf '  bench_peers: %s\n' "${peers//$'\n'/, }"
		results+=("$(printf '%6d %9s s %10s KiB %10s KiB %9s s %9s s %8.3f ms %8.3f ms %7s ns %8.3f ms' \
			"$n" "$t_start" "$rss" "$hwm" "$t_add" "$t_remove" \
			"$(awk '$1 == "add_one_ms" { print $2 }' <<<"$peers")" \
			"$(awk '$1 == "remove_one_ms" { print $2 }' <<<"$peers")" \
			"$(awk '$1 == "lookup_ns" { print $2 }' <<<"$peers")" \
			"$(awk '$1 == "tick_ms" { print $2 }' <<<"$peers")")")
	done

	log "clients results (goals at 60,000: start < 3 s, client add and remove < 100 ms)"
	printf '%6s %11s %14s %14s %11s %11s %11s %11s %10s %11s\n' clients start RSS "peak RSS" \
		"client add" "remove" "peer add" "remove" lookup "idle tick"
	printf '%s\n' "${results[@]}"
	printf '%s\n' "${results[@]}" | awk 'NR == 1 { n1 = $1; r1 = $4 }
		END { if (NR > 1) printf "RSS per client from %d to %d clients: %.2f KiB\n", n1, $1, ($4 - r1) / ($1 - n1) }'
}

# seconds CMD...: how long CMD takes, its output discarded.
seconds() {
	local t0=$EPOCHREALTIME out
	out=$("$@" 2>&1) || die "failed: $*: $out"
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
}

# p99_rtt: the 99th percentile of 500 pings 10 ms apart from edge1 to the
# host through the tunnel, in ms.
p99_rtt() {
	e1 ping -n -i 0.01 -c 500 -W 1 "$HOST" | sed -n 's/.* time=\([0-9.]*\) ms$/\1/p' |
		sort -g | awk '{ t[NR] = $1 }
		END {
			if (NR < 450) exit 1 # more than 10% lost: no figure
			printf "%.3f\n", t[int(NR * 0.99 + 0.5)]
		}'
}

flows_bench() {
	local i t_all t_one t_list rtt_idle rtt_listing lists ctload=$EGRESS_BIN/tests/ctload
	log "flows: 100,000 conntrack entries of 100 clients"
	[[ -x $ctload ]] || die "$ctload is missing (scripts/build.sh builds it)"
	{
		gateway_yaml edge1
		for ((i = 3; i <= 101; i++)); do
			echo "  - name: c$i"
			echo "    public_key: \"$(wg genkey | wg pubkey)\""
			echo "    address: 100.64.0.$i"
		done
	} >"$EG_DIR/gateway.yaml"
	start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml"
	wait_for 10 "gatewayd's control socket" test -S "$EG_DIR/run/gatewayd.sock"
	edged_start edge1
	wait_for 10 "edge1's tunnel" e1 ping -c1 -W1 "$HOST"
	gw "$ctload" 100000 0x45670000 2 100
	echo "conntrack entries in the gateway's namespace: $(gw conntrack -C)"
	t_all=$(median "$(seconds gw conntrack -L)" "$(seconds gw conntrack -L)" \
		"$(seconds gw conntrack -L)")
	t_one=$(median "$(seconds ctl flows --client c50)" "$(seconds ctl flows --client c50)" \
		"$(seconds ctl flows --client c50)")
	t_list=$(median "$(seconds ctl flows)" "$(seconds ctl flows)" "$(seconds ctl flows)")
	echo "conntrack -L, whole table: $t_all s; gatewayctl flows --client c50 (1,000): $t_one s;" \
		"gatewayctl flows, all: $t_list s (medians of 3)"
	rtt_idle=$(p99_rtt) || die "most pings were lost"
	# shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
	start lister "$NS_GW" bash -c 'n=0; while :; do
		"$1" --socket "$2" flows >/dev/null && n=$((n + 1)); echo "$n" >"$3"
	done' lister "$GATEWAYCTL" "$EG_DIR/run/gatewayd.sock" "$EG_DIR/lists"
	rtt_listing=$(p99_rtt) || die "most pings were lost during the listings"
	stop lister TERM || true
	lists=$(cat "$EG_DIR/lists" 2>/dev/null || echo 0)
	stop edged-edge1
	stop gatewayd

	log "flows results"
	echo "one client's flows of 100,000: gatewayctl flows --client $t_one s, conntrack -L of" \
		"all $t_all s: ratio $(ratio "$t_one" "$t_all") (goal <= 1)"
	echo "p99 ping RTT through the tunnel: idle $rtt_idle ms, while listing all 100,000" \
		"($lists listings): $rtt_listing ms; bar $(awk -v a="$rtt_idle" \
		'BEGIN { printf "%.3f", 2 * a + 1 }') ms"
}

topology_line
keys gateway edge1
echo "$(nproc) CPUs, $(uname -r)"
if ((!only_policy && !only_flows && !only_clients)); then
	throughput
	throughput_results
fi
((!only_throughput)) || exit 0
if [[ ! -x $GATEWAYD || ! -x $EDGED ]]; then
	printf '\n!!! policy, flows and clients SKIPPED: %s or %s is missing\n' "$GATEWAYD" "$EDGED"
	exit 0
fi
((only_flows || only_clients)) || policy_bench
((only_policy || only_clients)) || flows_bench
((only_policy || only_flows)) || clients_bench
