# shellcheck shell=bash
# Topology and helpers shared by the netns tests (tests/netns/t_*.sh), the
# benchmark and the demo. Sourced, never run. Everything that touches the
# network happens inside namespaces made here, named after the run, and the
# EXIT trap removes them together with every process started here.
#
# Five namespaces, $EG_PREFIX-{edge1,edge2,inet,gw,host} ($NS_E1, $NS_E2, ...),
# and a sixth, $NS_ATK on the edges' LAN, for the tests that want an attacker
# (attacker_up):
#
#     ns edge1                  ns inet: the "internet", a router        ns gw: the gateway
#  +--------------------+     +------------------------------------+     +-----------------------+
#  | eth0 192.0.2.2/24  |-----| edge1 -+                           |     | egress0 (TUN)         |
#  |      2001:db8:2::2 |     |        +- br0 192.0.2.1/24         |     |   100.64.0.1/24       |
#  | egress0 (TUN)      |  +--| edge2 -+      2001:db8:2::1/64     |     |   fd00:64::1/64       |
#  |   100.64.0.2/32    |  |  |                                    |     |                       |
#  |   fd00:64::2/128   |  |  | wan0  198.51.100.254/24            |-----| wan0 198.51.100.1/24  |
#  +--------------------+  |  |       2001:db8:51::fe/64           |     |   2001:db8:51::1/64   |
#  +--------------------+  |  |                                    |     | ip_forward, nft table |
#  | eth0 192.0.2.3/24  |--+  | host0 203.0.113.1/24               |     | inet egress (NAT)     |
#  |      2001:db8:2::3 |     |       2001:db8:80::1/64            |     +-----------------------+
#  | egress0 (TUN)      |     +--------------+---------------------+
#  |   100.64.0.3/32    |                    |
#  |   fd00:64::3/128   |     +--------------+---------------------+
#  +--------------------+     | eth0 203.0.113.80/24               |  ns host: the internet host,
#     ns edge2                |      2001:db8:80::80/64            |  web server on port 80 (both
#                             | routes only to the gateway's net   |  families), logs in $EG_DIR
#                             +------------------------------------+
#
# The edges and the gateway have default routes via the router; the router
# forwards between its three networks and knows nothing of 100.64.0.0/24.
# The internet host has routes only to the gateway's segment (198.51.100.0/24,
# 2001:db8:51::/64): a packet that bypasses the tunnel or the NAT gets no
# answer, so a broken data path fails loudly instead of passing by accident.
# The tunnel daemon of an edge adds its own routing table and rules on top,
# the wg-quick way.
#
# Variables a caller may set before sourcing:
#   EGRESS_BIN      build directory holding gateway/gatewayd, edge/edged (default: build/)
#   EG_PREFIX       namespace name prefix (default: eg-$$, unique to the run)
#   EG_DIR          directory for keys, configs, logs, pid files (default: a new temp dir)
#   EG_VERBOSE=1    print every command run in a namespace
# A script that wants its topology to outlive it (the demo) sets
# EG_LEAVE_RUNNING=1 once it has succeeded.

set -euo pipefail

EG_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EGRESS_BIN=${EGRESS_BIN:-$EG_REPO/build}
GATEWAYD=$EGRESS_BIN/gateway/gatewayd
# shellcheck disable=SC2034 # for the scripts that source this file
GATEWAYCTL=$EGRESS_BIN/gateway/gatewayctl
EDGED=$EGRESS_BIN/edge/edged
# shellcheck disable=SC2034 # for the scripts that source this file
WGCRAFT=$EG_REPO/tests/netns/wgcraft.py

EG_PREFIX=${EG_PREFIX:-eg-$$}
if [[ -z ${EG_DIR:-} ]]; then
	EG_DIR=$(mktemp -d "/tmp/egress-$EG_PREFIX.XXXXXX")
	EG_DIR_IS_TEMP=1
else
	mkdir -p "$EG_DIR"
	EG_DIR_IS_TEMP=0
fi
EG_VERBOSE=${EG_VERBOSE:-0}
EG_LEAVE_RUNNING=0

NS_E1=$EG_PREFIX-edge1
NS_E2=$EG_PREFIX-edge2
NS_GW=$EG_PREFIX-gw
NS_INET=$EG_PREFIX-inet
NS_HOST=$EG_PREFIX-host
NS_ATK=$EG_PREFIX-attacker # only after attacker_up

# Addresses the scenarios talk about.
GW_PUBLIC=198.51.100.1
GW_PUBLIC6=2001:db8:51::1
GW_ENDPOINT=$GW_PUBLIC:51820
HOST=203.0.113.80
HOST6=2001:db8:80::80
TUN_IF=egress0 # the daemons' TUN, one per namespace

EG_NAMESPACES=()      # namespaces this run made, deleted by cleanup
EG_FILES=()           # files outside $EG_DIR this run made, removed by cleanup
declare -A EG_PIDS=() # background process name -> pid, stopped by cleanup

log() { printf '\n== %s\n' "$*"; }
die() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# n NS CMD...: run CMD in namespace NS.
n() {
	local ns=$1
	shift
	[[ $EG_VERBOSE == 1 ]] && printf '[+] %s: %s\n' "${ns#"$EG_PREFIX"-}" "$*" >&2
	ip netns exec "$ns" "$@"
}
e1() { n "$NS_E1" "$@"; }
e2() { n "$NS_E2" "$@"; }
gw() { n "$NS_GW" "$@"; }
inet() { n "$NS_INET" "$@"; }
host() { n "$NS_HOST" "$@"; }
atk() { n "$NS_ATK" "$@"; }

# Which namespace variable a short name means: ns_of e1 -> $NS_E1.
ns_of() {
	case $1 in
	e1 | edge1) echo "$NS_E1" ;;
	e2 | edge2) echo "$NS_E2" ;;
	gw) echo "$NS_GW" ;;
	inet) echo "$NS_INET" ;;
	host) echo "$NS_HOST" ;;
	*) die "ns_of: unknown namespace '$1'" ;;
	esac
}

# ---------------------------------------------------------------------------
# Processes and cleanup

# start NAME NS CMD...: run CMD in NS in the background, in its own session
# (so it outlives the script when the demo wants that), stdout+stderr to
# $EG_DIR/NAME.log, its pid in $EG_DIR/NAME.pid. setsid, ip netns exec and env
# each exec the next, so the pid is CMD's own. env restores SIGINT and SIGQUIT,
# which a shell without job control ignores in what it starts with "&".
start() {
	local name=$1 ns=$2
	shift 2
	[[ $EG_VERBOSE == 1 ]] && printf '[+] %s: %s &\n' "${ns#"$EG_PREFIX"-}" "$*" >&2
	setsid ip netns exec "$ns" env --default-signal=INT,QUIT "$@" \
		</dev/null >"$EG_DIR/$name.log" 2>&1 &
	EG_PIDS[$name]=$!
	echo "$!" >"$EG_DIR/$name.pid"
}

running() { [[ -n ${EG_PIDS[$1]:-} ]] && kill -0 "${EG_PIDS[$1]}" 2>/dev/null; }
# exited NAME: the process from start() has ended (for wait_for).
exited() { ! running "$1"; }

# stop NAME [SIGNAL]: signal a process from start() (TERM by default), wait up
# to 10 s for it, KILL it after that. Returns its exit status (128+n when a
# signal ended it; 1 if it had to be killed).
stop() {
	local name=$1 sig=${2:-TERM} pid rc=0 i
	pid=${EG_PIDS[$name]:-}
	[[ -n $pid ]] || die "stop: no process named '$name'"
	unset "EG_PIDS[$name]"
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "stop: $name ($pid) ignored SIG$sig for 10 s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		return 1
	fi
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}

# ns_state NS: everything in NS that a daemon changes and must put back, or
# must not touch when it fails to start: the nft ruleset, every link with its
# details (a TUN, its MTU), forwarding and src_valid_mark, the rules and all
# routing tables of both families.
ns_state() {
	# -s: without counter values, which move with any stray packet (an
	# IPv6 router solicitation meeting the edge's kill switch) and are not
	# state anything set or left behind.
	n "$1" nft -s list ruleset
	n "$1" ip -d link show
	n "$1" sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding \
		net.ipv4.conf.all.src_valid_mark
	n "$1" ip rule
	n "$1" ip -6 rule
	n "$1" ip route show table all
	n "$1" ip -6 route show table all
}

# same_state WHAT NS BEFORE: ns_state NS is BEFORE (from an earlier ns_state
# NS), or the test fails naming WHAT, with the difference.
same_state() {
	local now
	now=$(ns_state "$2")
	[[ $now == "$3" ]] && return 0
	diff <(echo "$3") <(echo "$now") >&2 || true
	die "$1: the namespace changed"
}

# refused NAME NS EXPECTED CMD...: CMD, run in NS, exits 1 and says EXPECTED
# (its output is kept in $EG_DIR/NAME.out), and ns_state NS is as before.
refused() {
	local name=$1 ns=$2 expected=$3 before rc=0
	shift 3
	before=$(ns_state "$ns")
	n "$ns" "$@" >"$EG_DIR/$name.out" 2>&1 || rc=$?
	cat "$EG_DIR/$name.out"
	[[ $rc == 1 ]] || die "$name: exit status $rc, want 1"
	grep -qF -- "$expected" "$EG_DIR/$name.out" || die "$name: no \"$expected\" in the message"
	same_state "$name" "$ns" "$before"
}

# exec_done NAME PROG: the process NAME from start() is PROG now, past the
# setsid, ip netns exec and env that start() runs it through. Until then a
# signal may land in the shell's forked child before its exec, where the
# shell's own trap takes it and the exec forgets it.
# Polled without forking (read, not cat), so it sees the exec within about a
# millisecond and the delays below keep their meaning.
exec_done() {
	local comm i
	for ((i = 0; i < 5000; i++)); do
		read -r comm 2>/dev/null <"/proc/${EG_PIDS[$1]}/comm" || return 0 # gone: done too
		[[ $comm == "${2:0:15}" ]] && return 0
		sleep 0.001
	done
	die "$1 was not exec'd as $2 within 5 s"
}

# stopped_while_starting NAME NS CMD...: start CMD in NS and SIGTERM it after
# each of a range of delays from 0 to 0.2 s after its exec, so that some land
# in the middle of its start. Each time it must exit (0 when it had started
# and shut down, 143 when the signal came before it could hold it) and leave
# ns_state NS as it was before.
stopped_while_starting() {
	local name=$1 ns=$2 before delay rc
	shift 2
	before=$(ns_state "$ns")
	for delay in 0 0.002 0.005 0.01 0.02 0.05 0.1 0.2; do
		start "$name" "$ns" "$@"
		exec_done "$name" "${1##*/}"
		sleep "$delay"
		rc=0
		stop "$name" || rc=$?
		[[ $rc == 0 || $rc == 143 ]] || die "SIGTERM after ${delay}s: exit status $rc"
		same_state "SIGTERM after ${delay}s" "$ns" "$before"
		echo "SIGTERM after ${delay}s: exit status $rc, the namespace as before"
	done
}

# wait_for SECONDS WHAT CMD...: poll CMD (output hidden) every 0.1 s until it
# succeeds; fail the test naming WHAT after SECONDS.
wait_for() {
	local secs=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "timed out after ${secs}s waiting for $what"
		sleep 0.1
	done
}

# nonempty CMD...: did CMD print anything? (`ip route show`, `ip link show
# up` and friends succeed with no output when nothing matches.)
nonempty() { [[ -n $("$@" 2>/dev/null) ]]; }

# ---------------------------------------------------------------------------
# Counting what happened: numbers for the checks and for wait_for

# seen LOG PATTERN: how many lines of $EG_DIR/LOG.log (a daemon's log, a
# tcpdump's) match PATTERN, a grep basic regular expression; 0 when none do
# or the log is not there yet.
seen() {
	if [[ -e $EG_DIR/$1.log ]]; then
		grep -c -- "$2" "$EG_DIR/$1.log" || true
	else
		echo 0
	fi
}

# atleast N CMD...: does CMD (a function like seen) print a number of at
# least N? For wait_for: wait_for 5 "8 drops" atleast 8 seen gatewayd "dropped".
atleast() {
	local want=$1 got
	shift
	got=$("$@")
	[[ $got =~ ^[0-9]+$ ]] && ((got >= want))
}

# gw_counter TABLE NAME: the packets the named counter NAME of the test's own
# table inet TABLE in the gateway's namespace has counted.
gw_counter() {
	gw nft list counter inet "$1" "$2" | awk '$1 == "packets" { print $2 }'
}

show_logs() {
	local f
	for f in "$EG_DIR"/*.log; do
		[[ -e $f ]] || continue
		printf '\n---- %s (last 60 lines) ----\n' "${f##*/}"
		tail -n 60 "$f"
	done
}

cleanup() {
	local rc=$? name pid ns f
	set +e
	trap - EXIT
	if ((rc != 0)); then
		show_logs
		printf '\n%s: exit status %d\n' "${0##*/}" "$rc"
	fi
	if [[ $EG_LEAVE_RUNNING == 1 && $rc == 0 ]]; then
		exit 0
	fi
	for name in "${!EG_PIDS[@]}"; do
		kill -TERM "${EG_PIDS[$name]}" 2>/dev/null
	done
	for name in "${!EG_PIDS[@]}"; do
		pid=${EG_PIDS[$name]}
		for _ in {1..50}; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	# Anything else still inside our namespaces was started by this run.
	for ns in "${EG_NAMESPACES[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	done
	for ns in "${EG_NAMESPACES[@]}"; do
		ip netns del "$ns"
	done
	for f in "${EG_FILES[@]}"; do
		rm -f "$f"
	done
	if [[ $EG_DIR_IS_TEMP == 1 ]]; then
		rm -rf "$EG_DIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# ---------------------------------------------------------------------------
# Building blocks

# ns_add NS: a new namespace with lo up, deleted by cleanup.
ns_add() {
	ip netns add "$1"
	EG_NAMESPACES+=("$1")
	n "$1" ip link set lo up
}

# veth NS1 IF1 NS2 IF2: a veth pair between two namespaces, both ends up. The
# ends are created directly in their namespaces, never in the caller's.
veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	n "$1" ip link set "$2" up
	n "$3" ip link set "$4" up
}

# addr NS IF ADDR/LEN...: IPv4 and IPv6 addresses (no DAD: usable at once).
addr() {
	local ns=$1 dev=$2 a
	shift 2
	for a in "$@"; do
		if [[ $a == *:* ]]; then
			n "$ns" ip -6 addr add "$a" dev "$dev" nodad
		else
			n "$ns" ip addr add "$a" dev "$dev"
		fi
	done
}

# listening NS tcp|udp ADDR:PORT: is a socket bound there? (":PORT" for any address)
listening() {
	local opt=-Hltn
	[[ $2 == udp ]] && opt=-Hlun
	n "$1" ss "$opt" | awk -v want="$3" '
		substr($4, length($4) - length(want) + 1) == want { found = 1 }
		END { exit !found }'
}

# settled NS: has every IPv6 address in NS finished duplicate address
# detection? Until then the kernel is still adding link-local addresses and
# their routes, which tests comparing routing tables would take for changes.
settled() { ! nonempty n "$1" ip -6 addr show tentative; }

# attacker_up ADDR...: the attacker's namespace $NS_ATK on the edges' LAN (a
# port of the router's br0), with these addresses of 192.0.2.0/24 on its
# eth0 and a default route via the router; returns once it reaches the
# gateway. atk CMD... runs CMD there.
attacker_up() {
	ns_add "$NS_ATK"
	veth "$NS_ATK" eth0 "$NS_INET" attacker
	inet ip link set attacker master br0
	printf 'addr add %s/24 dev eth0\n' "$@" | atk ip -batch -
	atk ip route add default via 192.0.2.1
	wait_for 5 "the attacker to reach the gateway" atk ping -c1 -W1 "$GW_PUBLIC"
}

forwarding() {
	n "$1" sysctl -qw net.ipv4.ip_forward=1
	n "$1" sysctl -qw net.ipv6.conf.all.forwarding=1
}

# The standard topology drawn at the top.
topology() {
	local e
	for e in "$NS_E1" "$NS_E2" "$NS_GW" "$NS_INET" "$NS_HOST"; do
		ns_add "$e"
	done

	# A fixed MAC: otherwise the bridge takes the lowest of its ports' and changes
	# it when a test adds a port, leaving stale ARP entries on the edges.
	n "$NS_INET" ip link add br0 address 02:00:00:00:00:01 type bridge forward_delay 0
	n "$NS_INET" ip link set br0 up
	addr "$NS_INET" br0 192.0.2.1/24 2001:db8:2::1/64
	veth "$NS_E1" eth0 "$NS_INET" edge1
	veth "$NS_E2" eth0 "$NS_INET" edge2
	n "$NS_INET" ip link set edge1 master br0
	n "$NS_INET" ip link set edge2 master br0
	veth "$NS_GW" wan0 "$NS_INET" wan0
	addr "$NS_INET" wan0 198.51.100.254/24 2001:db8:51::fe/64
	veth "$NS_HOST" eth0 "$NS_INET" host0
	addr "$NS_INET" host0 203.0.113.1/24 2001:db8:80::1/64
	forwarding "$NS_INET"

	addr "$NS_E1" eth0 192.0.2.2/24 2001:db8:2::2/64
	addr "$NS_E2" eth0 192.0.2.3/24 2001:db8:2::3/64
	for e in "$NS_E1" "$NS_E2"; do
		n "$e" ip route add default via 192.0.2.1
		n "$e" ip -6 route add default via 2001:db8:2::1
	done

	addr "$NS_GW" wan0 "$GW_PUBLIC/24" "$GW_PUBLIC6/64"
	n "$NS_GW" ip route add default via 198.51.100.254
	n "$NS_GW" ip -6 route add default via 2001:db8:51::fe

	addr "$NS_HOST" eth0 "$HOST/24" "$HOST6/64"
	n "$NS_HOST" ip route add 198.51.100.0/24 via 203.0.113.1
	n "$NS_HOST" ip -6 route add 2001:db8:51::/64 via 2001:db8:80::1

	# The underlay works before anything else is tested.
	wait_for 5 "edge1 to reach the gateway" e1 ping -c1 -W1 "$GW_PUBLIC"
	wait_for 5 "edge2 to reach the gateway" e2 ping -c1 -W1 "$GW_PUBLIC"
	wait_for 5 "the gateway to reach the host" gw ping -c1 -W1 "$HOST"
	wait_for 5 "the gateway to reach the host (IPv6)" gw ping -6 -c1 -W1 "$HOST6"
	for e in "$NS_E1" "$NS_E2" "$NS_GW" "$NS_INET" "$NS_HOST"; do
		wait_for 10 "IPv6 duplicate address detection in $e" settled "$e"
	done
}

# ---------------------------------------------------------------------------
# The internet host's web server

# web_start: serve $EG_DIR/www on port 80 of $HOST and $HOST6 (one server per
# family so each log line shows the peer address as the host saw it). Access
# logs: $EG_DIR/web.log and $EG_DIR/web6.log.
web_start() {
	mkdir -p "$EG_DIR/www"
	echo "hello from the internet host" >"$EG_DIR/www/index.html"
	start web "$NS_HOST" python3 -u -m http.server --bind "$HOST" \
		--directory "$EG_DIR/www" 80
	start web6 "$NS_HOST" python3 -u -m http.server --bind "$HOST6" \
		--directory "$EG_DIR/www" 80
	wait_for 10 "the web server" listening "$NS_HOST" tcp "$HOST:80"
	wait_for 10 "the IPv6 web server" listening "$NS_HOST" tcp "[$HOST6]:80"
}

# web_file NAME MB: a file of random bytes the web server serves; prints its sha256.
web_file() {
	head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$EG_DIR/www/$1"
	sha256sum <"$EG_DIR/www/$1" | cut -d' ' -f1
}

# web_clients [LOG]: the distinct client addresses in an access log, one a line.
web_clients() {
	local f=$EG_DIR/${1:-web.log}
	awk '$2 == "-" && $3 == "-" { print $1 }' "$f" | sort -u
}

# only_gateway_seen [-6]: the web server's access log (web6.log with -6) names
# the gateway's public address and nothing else; an empty log fails too.
# shellcheck disable=SC2120 # the argument is optional
only_gateway_seen() {
	local log=web.log want=$GW_PUBLIC
	if [[ ${1:-} == -6 ]]; then
		log=web6.log want=$GW_PUBLIC6
	fi
	web_clients "$log"
	[[ $(web_clients "$log") == "$want" ]] || die "$log: the host saw clients other than $want"
}

# ping_and_fetch NS FILE SUM: from NS, once the tunnel answers, five pings to
# the host and a download of FILE (from web_file) whose sha256 must be SUM.
ping_and_fetch() {
	wait_for 10 "the handshake (ping $HOST from $1)" n "$1" ping -c1 -W1 "$HOST"
	n "$1" ping -q -c5 -i0.2 -W2 "$HOST"
	[[ $(fetch "$1" "http://$HOST/$2") == "$3" ]] || die "$2: checksum mismatch in $1"
}

# fetch NS URL: download URL in NS and print the sha256 of what arrived.
fetch() {
	n "$1" curl -gsSf --max-time 120 -o - "$2" | sha256sum | cut -d' ' -f1
}

# refused_fast NS URL: a fetch from NS that fails, and within a second (the
# policy's TCP reset or ICMP admin-prohibited, not a timeout). curl's error
# is in $EG_DIR/curl.err.
refused_fast() {
	local t0=$EPOCHREALTIME t1
	if n "$1" curl -gsS --max-time 5 -o /dev/null "$2" 2>"$EG_DIR/curl.err"; then
		die "$2 from $1: fetched, want refused"
	fi
	t1=$EPOCHREALTIME
	cat "$EG_DIR/curl.err"
	python3 -c "import sys; sys.exit(0 if $t1 - $t0 < 1.0 else 1)" ||
		die "$2 from $1: refused after $(python3 -c "print(round($t1 - $t0, 2))") s, not under 1 s"
}

# ---------------------------------------------------------------------------
# Keys and configuration (files in $EG_DIR, named after the peer)

# keys NAME...: NAME.key and NAME.pub, WireGuard's base64 format.
keys() {
	local k
	for k in "$@"; do
		(umask 077 && wg genkey >"$EG_DIR/$k.key")
		wg pubkey <"$EG_DIR/$k.key" >"$EG_DIR/$k.pub"
	done
}

# psk NAME: a preshared key between NAME and the gateway, NAME.psk. Both
# configs use it from then on.
psk() { (umask 077 && wg genpsk >"$EG_DIR/$1.psk"); }

pub() { cat "$EG_DIR/$1.pub"; }

# A peer's tunnel addresses, fixed by name.
tun_addr() {
	case $1 in
	edge1) echo 100.64.0.2 ;;
	edge2) echo 100.64.0.3 ;;
	*) die "tun_addr: unknown peer '$1'" ;;
	esac
}
tun_addr6() {
	case $1 in
	edge1) echo fd00:64::2 ;;
	edge2) echo fd00:64::3 ;;
	*) die "tun_addr6: unknown peer '$1'" ;;
	esac
}

# wg_socket_dir NAME: the wg_socket_dir: of NAME's daemon (gateway, edge1,
# ...), where it serves `wg show`: a directory of its own in $EG_DIR, since
# every daemon of a run has the interface $TUN_IF and the real one,
# /var/run/wireguard, is the host's, seen from every namespace. A test that
# runs wg(8) sets WG_SOCKET_DIR=/var/run/wireguard, names each daemon's
# interface uniquely to the run and adds the sockets to EG_FILES.
WG_SOCKET_DIR=${WG_SOCKET_DIR:-}
wg_socket_dir() { echo "${WG_SOCKET_DIR:-wg-$1}"; }

# gateway_yaml [-6] CLIENT...: print a gateway.yaml for $EG_DIR (key file
# gateway.key) with these clients; -6 adds the IPv6 tunnel addresses.
gateway_yaml() {
	local v6=0 c
	if [[ ${1:-} == -6 ]]; then
		v6=1
		shift
	fi
	cat <<-EOF
		interface: $TUN_IF
		listen_port: 51820
		private_key_file: gateway.key
		address: 100.64.0.1/24
	EOF
	((v6)) && echo "address6: fd00:64::1/64"
	cat <<-EOF
		uplink: wan0
		mtu: 1420
		control_socket: run/gatewayd.sock
		wg_socket_dir: $(wg_socket_dir gateway)
		clients:
	EOF
	for c in "$@"; do
		echo "  - name: $c"
		echo "    public_key: \"$(pub "$c")\""
		echo "    address: $(tun_addr "$c")"
		((v6)) && echo "    address6: $(tun_addr6 "$c")"
		[[ -e $EG_DIR/$c.psk ]] && echo "    preshared_key_file: $c.psk"
	done
	[[ -z ${EG_YAML_EXTRA:-} ]] || echo "$EG_YAML_EXTRA"
	return 0
}

# edge_yaml [-6] NAME: print NAME's edge.yaml (key file NAME.key), with
# kill_switch: $EDGE_KILL_SWITCH when that is set (the default is on).
# Both this and gateway_yaml end with the lines of $EG_YAML_EXTRA, if any
# (an offload: block).
edge_yaml() {
	local v6=0 c
	if [[ ${1:-} == -6 ]]; then
		v6=1
		shift
	fi
	c=$1
	cat <<-EOF
		interface: $TUN_IF
		private_key_file: $c.key
		address: $(tun_addr "$c")/32
	EOF
	((v6)) && echo "address6: $(tun_addr6 "$c")/128"
	cat <<-EOF
		mtu: 1420
		gateway:
		  endpoint: "$GW_ENDPOINT"
		  public_key: "$(pub gateway)"
	EOF
	[[ -e $EG_DIR/$c.psk ]] && echo "  preshared_key_file: $c.psk"
	cat <<-EOF
		persistent_keepalive: 25
		route_all: true
		wg_socket_dir: $(wg_socket_dir "$c")
		state_dir: state-$c
		control_socket: run-$c/edged.sock
	EOF
	[[ -z ${EDGE_KILL_SWITCH:-} ]] || echo "kill_switch: $EDGE_KILL_SWITCH"
	[[ -z ${EG_YAML_EXTRA:-} ]] || echo "$EG_YAML_EXTRA"
	return 0
}

# ---------------------------------------------------------------------------
# egress's daemons

# ctl ARG...: gatewayctl in the gateway's namespace, on gatewayd's control
# socket (control_socket: run/gatewayd.sock of gateway_yaml).
ctl() { gw "$GATEWAYCTL" --socket "$EG_DIR/run/gatewayd.sock" "$@"; }

need_binaries() {
	local b
	for b in "$GATEWAYD" "$EDGED"; do
		[[ -x $b ]] || die "$b is missing: build first (scripts/build.sh) or set EGRESS_BIN"
	done
}

# gatewayd_start [-6] CLIENT...: gateway.yaml for these clients, gatewayd in
# $NS_GW; returns once its table, its TUN and its UDP socket are there.
gatewayd_start() {
	gateway_yaml "$@" >"$EG_DIR/gateway.yaml"
	start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml" -v
	wait_for 10 "gatewayd's table inet egress" gw nft list table inet egress
	wait_for 10 "gatewayd's TUN $TUN_IF" nonempty gw ip link show "$TUN_IF" up
	wait_for 10 "gatewayd's UDP port 51820" listening "$NS_GW" udp ":51820"
}

# edged_start [-6] NAME: NAME.yaml, edged in NAME's namespace; returns once
# its TUN is up and its default route is in its table.
edged_start() {
	local opts=() name ns
	if [[ ${1:-} == -6 ]]; then
		opts=(-6)
		shift
	fi
	name=$1
	ns=$(ns_of "$name")
	edge_yaml "${opts[@]}" "$name" >"$EG_DIR/$name.yaml"
	start "edged-$name" "$ns" "$EDGED" -c "$EG_DIR/$name.yaml" -v
	wait_for 10 "$name's TUN $TUN_IF" nonempty n "$ns" ip link show "$TUN_IF" up
	wait_for 10 "$name's default route in table 51820" \
		nonempty n "$ns" ip route show table 51820 default dev "$TUN_IF"
}

# edged_hup NAME [WHAT]: SIGHUP to edged-NAME; once it has answered, its
# answer (the newest "SIGHUP: " line of its log) on stdout.
edged_hup() {
	local n
	n=$(seen "edged-$1" "SIGHUP: ")
	kill -HUP "${EG_PIDS[edged-$1]}"
	wait_for 5 "edged's answer to the SIGHUP${2:+ ($2)}" atleast $((n + 1)) seen "edged-$1" "SIGHUP: "
	grep "SIGHUP: " "$EG_DIR/edged-$1.log" | tail -1
}

# tunnel_up EDGE...: keys for the gateway and these edges, gatewayd with them
# as its clients, an edged on each, and a first ping through each tunnel.
tunnel_up() {
	local e
	keys gateway "$@"
	gatewayd_start "$@"
	for e in "$@"; do
		edged_start "$e"
	done
	for e in "$@"; do
		wait_for 10 "$e's handshake" n "$(ns_of "$e")" ping -c1 -W1 "$HOST"
	done
}

# ---------------------------------------------------------------------------
# wireguard-go, the reference implementation, on either end
#
# wireguard-go's control socket is /var/run/wireguard/IFNAME.sock whatever the
# namespace, so its interface names carry the run's pid to stay unique.

WG_GW_IF=wg$$g
wggo_if() { echo "wg$$${1#edge}"; } # edge1 -> wg<pid>1

# wggo_start NAME NS IFNAME: wireguard-go in the foreground (logs to
# $EG_DIR/NAME.log), returning once its control socket answers.
wggo_start() {
	start "$1" "$2" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go "$3"
	wait_for 10 "wireguard-go's interface $3" n "$2" wg show "$3"
}

# wggo_gateway [-6] CLIENT...: wireguard-go as the gateway in $NS_GW with
# ip_forward and an nft masquerade of the tunnel subnet (table inet wggo).
wggo_gateway() {
	local v6=0 c allowed
	if [[ ${1:-} == -6 ]]; then
		v6=1
		shift
	fi
	wggo_start wggo-gw "$NS_GW" "$WG_GW_IF"
	gw wg set "$WG_GW_IF" listen-port 51820 private-key "$EG_DIR/gateway.key"
	for c in "$@"; do
		allowed=$(tun_addr "$c")/32
		((v6)) && allowed+=,$(tun_addr6 "$c")/128
		gw wg set "$WG_GW_IF" peer "$(pub "$c")" allowed-ips "$allowed"
		if [[ -e $EG_DIR/$c.psk ]]; then
			gw wg set "$WG_GW_IF" peer "$(pub "$c")" preshared-key "$EG_DIR/$c.psk"
		fi
	done
	addr "$NS_GW" "$WG_GW_IF" 100.64.0.1/24
	((v6)) && addr "$NS_GW" "$WG_GW_IF" fd00:64::1/64
	gw ip link set "$WG_GW_IF" mtu 1420 up
	forwarding "$NS_GW"
	gw nft -f - <<-EOF
		table inet wggo {
			chain postrouting {
				type nat hook postrouting priority srcnat;
				oifname "wan0" ip saddr 100.64.0.0/24 masquerade
				oifname "wan0" ip6 saddr fd00:64::/64 masquerade
			}
		}
	EOF
}

# wggo_edge [-6] NAME: wireguard-go as NAME's edge, routed the way wg-quick
# routes "AllowedIPs = 0.0.0.0/0, ::/0": fwmark 51820, default route in
# table 51820, "not fwmark 51820" rule, suppress_prefixlength 0 on main.
wggo_edge() {
	local v6=0 name ns dev allowed
	if [[ ${1:-} == -6 ]]; then
		v6=1
		shift
	fi
	name=$1
	ns=$(ns_of "$name")
	dev=$(wggo_if "$name")
	allowed=0.0.0.0/0
	((v6)) && allowed+=,::/0
	wggo_start "wggo-$name" "$ns" "$dev"
	n "$ns" wg set "$dev" private-key "$EG_DIR/$name.key" fwmark 51820 \
		peer "$(pub gateway)" endpoint "$GW_ENDPOINT" allowed-ips "$allowed" \
		persistent-keepalive 25
	if [[ -e $EG_DIR/$name.psk ]]; then
		n "$ns" wg set "$dev" peer "$(pub gateway)" preshared-key "$EG_DIR/$name.psk"
	fi
	addr "$ns" "$dev" "$(tun_addr "$name")/32"
	((v6)) && addr "$ns" "$dev" "$(tun_addr6 "$name")/128"
	n "$ns" ip link set "$dev" mtu 1420 up
	n "$ns" ip route add default dev "$dev" table 51820
	n "$ns" ip rule add not fwmark 51820 table 51820
	n "$ns" ip rule add table main suppress_prefixlength 0
	if ((v6)); then
		n "$ns" ip -6 route add default dev "$dev" table 51820
		n "$ns" ip -6 rule add not fwmark 51820 table 51820
		n "$ns" ip -6 rule add table main suppress_prefixlength 0
	fi
}
