#!/usr/bin/env bash
# The offloads end to end, edge1 -- gatewayd -- host, with each combination
# the operator can pick: everything on (the default), each of the four
# switches of the offload: block off alone, and everything off. For each:
#   - both daemons start again with that block in gateway.yaml and
#     edge1.yaml;
#   - 2,000 UDP datagrams from edge1 to the host, sent 32 at a time with
#     UDP_SEGMENT (so edge1's kernel hands its TUN USO superpackets), arrive
#     intact, at least 90 % of them;
#   - 200 MB over TCP each way (upload to a sink on the host, download over
#     HTTP) arrive with the same sha256;
#   - the counters of both daemons (their SIGUSR1 log line) say which
#     offloads are on, and prove that those were used: superpackets read
#     and written, UDP trains sent and received above zero exactly when
#     their switch is on (for USO: superpackets read by edge1 during the
#     UDP part alone), and no fallback taken;
#   - no TcpInCsumErrors, UdpInCsumErrors or Udp6InCsumErrors appear in
#     edge1, the gateway or the host; TUN drops and TCP retransmits are
#     printed.
# And with everything on, over IPv6: 50 MB each way.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

PEER=$EG_REPO/tests/netns/offpeer.py
MB=${OFFLOAD_TEST_MB:-200}

# counters NAME: the last "offloads:" line of NAME's log after a SIGUSR1
counters() {
	local log=$1 pid=${EG_PIDS[$1]} n
	n=$(seen "$log" "offloads: ")
	kill -USR1 "$pid"
	wait_for 5 "$log's counters" atleast $((n + 1)) seen "$log" "offloads: "
	grep "offloads: " "$EG_DIR/$log.log" | tail -1 | sed 's/.*offloads: //'
}

# num LINE WHAT: the number before WHAT in a counters line; read_n and the
# others the one after "read" and so on; state LINE SWITCH: on or off
num() { grep -o "[0-9]* $2" <<<"$1" | head -1 | cut -d' ' -f1; }
read_n() { grep -o "read [0-9]*" <<<"$1" | cut -d' ' -f2; }
written_n() { grep -o "written [0-9]*" <<<"$1" | cut -d' ' -f2; }
sent_n() { grep -o "sent [0-9]*" <<<"$1" | cut -d' ' -f2; }
received_n() { grep -o "received [0-9]*" <<<"$1" | cut -d' ' -f2; }
state() { grep -o "$2 [a-z]*" <<<"$1" | cut -d' ' -f2; }

# csum_errors NS: the sum of the namespace's checksum error counters
csum_errors() {
	n "$1" cat /proc/net/snmp /proc/net/snmp6 | awk '
		/^Tcp:/ { if (!t) { split($0, h); t = 1 } else for (i = 2; i <= NF; i++) if (h[i] == "InCsumErrors") s += $i }
		/^Udp:/ { if (!u) { split($0, g); u = 1 } else for (i = 2; i <= NF; i++) if (g[i] == "InCsumErrors") s += $i }
		/^Udp6InCsumErrors/ { s += $2 }
		END { print s + 0 }'
}
# shellcheck disable=SC2016 # awk's own $i
retrans() { n "$1" awk '/^Tcp:/ { if (!t) { split($0, h); t = 1 } else for (i = 2; i <= NF; i++) if (h[i] == "RetransSegs") print $i }' /proc/net/snmp; }

# check WHO LINE SWITCH WANT COUNT: says and checks that a counter is above
# zero when its switch is on (WANT 1) and zero when off
check() {
	local who=$1 what=$3 want=$4 got=$5
	if ((want)); then
		((got > 0)) || die "$who: $what is on but its counter stayed 0"
	else
		((got == 0)) || die "$who: $what is off but its counter is $got"
	fi
}

tf() { if ((on[$1])); then echo true; else echo false; fi; } # tf SWITCH: YAML's word for it

topology
web_start
keys gateway edge1
head -c $((MB * 1024 * 1024)) /dev/urandom >"$EG_DIR/up.bin"
up_sum=$(sha256sum <"$EG_DIR/up.bin" | cut -d' ' -f1)
down_sum=$(web_file down.bin "$MB")
head -c $((50 * 1024 * 1024)) /dev/urandom >"$EG_DIR/up6.bin"
up6_sum=$(sha256sum <"$EG_DIR/up6.bin" | cut -d' ' -f1)
down6_sum=$(web_file down6.bin 50)
start sink "$NS_HOST" python3 -u "$PEER" sink 9000
wait_for 10 "the sink" listening "$NS_HOST" tcp ":9000"

sink_lines() { wc -l <"$EG_DIR/sink.log"; }
# upload NS FILE SUM [HOST]: FILE to the sink; its sha256 there must be SUM
upload() {
	local n0 dst=${4:-$HOST}
	n0=$(sink_lines)
	n "$1" timeout 120 bash -c "cat '$2' >/dev/tcp/$dst/9000"
	wait_for 30 "the sink's sha256" atleast $((n0 + 1)) sink_lines
	tail -1 "$EG_DIR/sink.log"
	[[ $(tail -1 "$EG_DIR/sink.log" | cut -d' ' -f1) == "$3" ]] || die "upload of $2: checksum mismatch"
}

errs0=$(($(csum_errors "$NS_E1") + $(csum_errors "$NS_GW") + $(csum_errors "$NS_HOST")))
port=9100
for combo in all-on tun_tso-off tun_uso-off udp_gso-off udp_gro-off all-off; do
	declare -A on=([tun_tso]=1 [tun_uso]=1 [udp_gso]=1 [udp_gro]=1)
	case $combo in
	all-on) ;;
	all-off) on=([tun_tso]=0 [tun_uso]=0 [udp_gso]=0 [udp_gro]=0) ;;
	*) on[${combo%-off}]=0 ;;
	esac
	block="offload: {tun_tso: $(tf tun_tso), tun_uso: $(tf tun_uso), udp_gso: $(tf udp_gso), udp_gro: $(tf udp_gro)}"
	log "$combo: $block"
	running gatewayd && stop gatewayd
	running edged-edge1 && stop edged-edge1
	EG_YAML_EXTRA=$block
	gatewayd_start -6 edge1
	edged_start -6 edge1
	wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
	uso=$((on[tun_tso] && on[tun_uso]))

	# UDP first, alone: what edge1 reads from its TUN now is USO's
	port=$((port + 1))
	start udp-recv "$NS_HOST" python3 -u "$PEER" udp-recv "$port" 2000 1200
	wait_for 10 "the UDP receiver" listening "$NS_HOST" udp ":$port"
	e1 python3 "$PEER" udp-send "$HOST" "$port" 2000 1200
	wait_for 40 "the UDP receiver to finish" exited udp-recv
	cat "$EG_DIR/udp-recv.log"
	stop udp-recv || die "$combo: UDP datagrams lost or damaged: $(tail -1 "$EG_DIR/udp-recv.log")"
	e=$(counters edged-edge1)
	g=$(counters gatewayd)
	echo "after UDP: edge1: $e"
	echo "after UDP: gateway: $g"
	check edge1 "$e" "tun_uso (superpackets read)" "$uso" "$(read_n "$e")"
	check gateway "$g" "tun_uso (superpackets written)" "$uso" "$(written_n "$g")"

	log "$combo: $MB MB each way over IPv4"
	r0=$(retrans "$NS_E1")
	upload "$NS_E1" "$EG_DIR/up.bin" "$up_sum"
	got=$(fetch "$NS_E1" "http://$HOST/down.bin")
	[[ $got == "$down_sum" ]] || die "$combo: download checksum mismatch"
	echo "download: sha256 $got"
	if [[ $combo == all-on ]]; then
		log "$combo: 50 MB each way over IPv6"
		upload "$NS_E1" "$EG_DIR/up6.bin" "$up6_sum" "$HOST6"
		got=$(fetch "$NS_E1" "http://[$HOST6]/down6.bin")
		[[ $got == "$down6_sum" ]] || die "$combo: IPv6 download checksum mismatch"
		echo "download: sha256 $got"
	fi
	e=$(counters edged-edge1)
	g=$(counters gatewayd)
	echo "edge1:   $e"
	echo "gateway: $g"
	for who in edge1 gateway; do
		[[ $who == edge1 ]] && c=$e || c=$g
		for s in tun_tso tun_uso udp_gso udp_gro; do
			want=${on[$s]}
			[[ $s == tun_uso ]] && want=$uso
			[[ $(state "$c" "$s") == "$( ((want)) && echo on || echo off)" ]] ||
				die "$who: $s is $(state "$c" "$s"), want $( ((want)) && echo on || echo off)"
		done
		check "$who" "$c" "tun_tso (superpackets read)" "${on[tun_tso]}" "$(read_n "$c")"
		check "$who" "$c" "tun_tso (superpackets written)" "${on[tun_tso]}" "$(written_n "$c")"
		check "$who" "$c" "udp_gso (trains sent)" "${on[udp_gso]}" "$(sent_n "$c")"
		# trains form where the sender sent them: both ends need to be on
		check "$who" "$c" "udp_gro (trains received)" $((on[udp_gro] && on[udp_gso])) "$(received_n "$c")"
		[[ $(num "$c" fallbacks) == 0 ]] || die "$who: a fallback was taken"
		echo "$who: $(num "$c" "packets the TUN did not take") packets the TUN did not take"
	done
	echo "edge1's TCP retransmits in this round: $(($(retrans "$NS_E1") - r0))"
	errs=$(($(csum_errors "$NS_E1") + $(csum_errors "$NS_GW") + $(csum_errors "$NS_HOST")))
	((errs == errs0)) || die "$combo: $((errs - errs0)) new checksum errors (TCP, UDP, UDP6 InCsumErrors)"
	echo "no new checksum errors in edge1, the gateway or the host"
done
echo "ok"
