#!/usr/bin/env bash
# policy apply and the flows that are already open:
#   - an apply without --kill-denied leaves established flows alone, even one
#     the new policy denies (established flows are accepted before the
#     per-client rules); a new connection of that kind is refused;
#   - with --kill-denied, gatewayd deletes the conntrack entries of the flows
#     the new policy denies and says how many: edge1's download stops at once,
#     while edge2's, which stays allowed, finishes intact.
#
#   edge1, edge2 -- br0 -- router -- gateway (gatewayd) -- router -- host (web)
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

SOCK=$EG_DIR/run/gatewayd.sock

# policy FILE CLIENT...: the host's port 80 for these clients, ICMP for all.
policy() {
	local f=$1 c
	shift
	{
		printf 'version: 1\ndefault: deny\nrules:\n'
		printf '  - {name: echo, from: [any], to: [internet], ports: [icmp], action: allow}\n'
		for c in "$@"; do
			printf '  - {name: web-%s, from: [%s], to: [%s], ports: [tcp/80], action: allow}\n' \
				"$c" "$c" "$HOST"
		done
	} >"$EG_DIR/$f"
}
# download NAME NS FILE: a slow download of FILE in the background; its exit
# status lands in $EG_DIR/NAME.rc, its sha256 in $EG_DIR/NAME.sum.
download() {
	(
		rc=0
		n "$2" curl -gsS --limit-rate 400k --max-time 60 -o "$EG_DIR/$1.out" \
			"http://$HOST/$3" 2>"$EG_DIR/$1.err" || rc=$?
		sha256sum <"$EG_DIR/$1.out" | cut -d' ' -f1 >"$EG_DIR/$1.sum"
		echo "$rc" >"$EG_DIR/$1.rc"
	) &
}
# transferring NAME: the download has received something.
transferring() { [[ -s $EG_DIR/$1.out ]]; }
# flows_of CLIENT_ADDR [STATE]: conntrack entries of TCP to the host's port 80
# from it (in STATE only).
flows_of() {
	gw conntrack -L -p tcp -s "$1" -d "$HOST" --dport 80 2>/dev/null | grep -c "${2:-.}" || true
}

topology
keys gateway edge1 edge2
gatewayd_start edge1 edge2
wait_for 10 "the control socket" test -S "$SOCK"
web_start
SUM=$(web_file big.bin 4) # 4 MiB at 400 kB/s: some 10 s
# A download to end while the host is still sending: far more than the
# socket buffers on the way can hold, which take a few MB at once.
web_file huge.bin 16 >/dev/null
edged_start edge1
# Small receive buffers on edge1: what a reset flow still holds unread
# drains in well under a second at curl's rate, so its end shows at once.
e1 sysctl -qw net.ipv4.tcp_rmem="4096 65536 131072"
edged_start edge2
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
wait_for 10 "edge2's handshake" e2 ping -c1 -W1 "$HOST"
policy both.yaml edge1 edge2
policy edge2.yaml edge2
ctl policy apply "$EG_DIR/both.yaml"

log "without --kill-denied, an established flow that becomes denied goes on"
download plain "$NS_E1" big.bin
wait_for 10 "edge1's download" transferring plain
ctl policy apply "$EG_DIR/edge2.yaml" | tee "$EG_DIR/out"
grep -q "^ended" "$EG_DIR/out" && die "apply without --kill-denied ended flows"
size=$(stat -c %s "$EG_DIR/plain.out")
sleep 1
(($(stat -c %s "$EG_DIR/plain.out") > size)) || die "edge1's download stopped without --kill-denied"
if e1 curl -gsS --max-time 5 -o /dev/null "http://$HOST/index.html"; then
	die "edge1 opened a new connection the policy denies"
fi
wait_for 60 "edge1's download to finish" test -e "$EG_DIR/plain.rc"
[[ $(cat "$EG_DIR/plain.rc") == 0 && $(cat "$EG_DIR/plain.sum") == "$SUM" ]] ||
	die "edge1's download did not finish intact: curl $(cat "$EG_DIR/plain.rc")"

log "with --kill-denied, edge1's download stops at once and edge2's finishes"
ctl policy apply "$EG_DIR/both.yaml"
download e1 "$NS_E1" huge.bin
download e2 "$NS_E2" big.bin
wait_for 10 "edge1's download" transferring e1
wait_for 10 "edge2's download" transferring e2
[[ $(flows_of 100.64.0.2 ESTABLISHED) == 1 ]] ||
	die "edge1 has $(flows_of 100.64.0.2 ESTABLISHED) open flows to the host, want 1"
# and the first download's entry in TIME_WAIT, which counts too
want=$(flows_of 100.64.0.2)
ctl policy apply --kill-denied "$EG_DIR/edge2.yaml" | tee "$EG_DIR/out"
grep -qx "ended $want flows the policy now denies" "$EG_DIR/out" ||
	die "apply --kill-denied: not the $want flows of edge1's ended"
t0=$SECONDS
wait_for 20 "edge1's download to stop" test -e "$EG_DIR/e1.rc"
echo "edge1's curl: exit $(cat "$EG_DIR/e1.rc") after $((SECONDS - t0)) s: $(cat "$EG_DIR/e1.err")"
[[ $(cat "$EG_DIR/e1.rc") != 0 ]] || die "edge1's download finished although its flow was ended"
[[ $(flows_of 100.64.0.2) == 0 ]] || die "edge1's flow is back in conntrack"
[[ ! -e $EG_DIR/e2.rc ]] || die "edge2's download ended with edge1's"
wait_for 60 "edge2's download to finish" test -e "$EG_DIR/e2.rc"
[[ $(cat "$EG_DIR/e2.rc") == 0 && $(cat "$EG_DIR/e2.sum") == "$SUM" ]] ||
	die "edge2's download did not finish intact: curl $(cat "$EG_DIR/e2.rc")"
ctl policy apply --kill-denied --json "$EG_DIR/edge2.yaml" | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
assert d["killed"] == 0 and d["rules"] == 2, d' || die "a second --kill-denied: not 0 ended"
echo "ok"
