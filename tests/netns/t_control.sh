#!/usr/bin/env bash
# gatewayd's control socket, from gatewayctl and from junk:
#   - gatewayctl exits 3 while no gatewayd answers (before it starts, after it
#     stops: the socket file goes with it);
#   - gatewayd makes the socket's directory (0755) and the socket (0660, group
#     control_group); `gatewayctl status` says what runs, for people and with
#     --json, and sees edge1 connect;
#   - 100 junk requests (malformed, oversized, empty, wrong types, three
#     descriptors, idle connections) each get an error reply or are dropped
#     after the idle time, while a ping through the tunnel loses nothing;
#   - peer credentials: uid 65534 outside control_group is refused even with
#     CAP_DAC_OVERRIDE (the socket file's mode cannot be what refuses it),
#     and uid 65534 with the group among its groups is served;
#   - SIGKILL leaves a stale socket file, which the next gatewayd replaces.
#
#   edge1 -- br0 -- router -- gateway (gatewayd, $EG_DIR/run/gatewayd.sock) -- host
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

SOCK=$EG_DIR/run/gatewayd.sock
CTLJUNK=$EG_REPO/tests/netns/ctljunk.py
# An existing group of this host that uid 65534 is not in.
GROUP=
for g in users staff adm; do
	if getent group "$g" >/dev/null; then
		GROUP=$g
		break
	fi
done
[[ -n $GROUP ]] || die "no group users, staff or adm on this host to use as control_group"
GID=$(getent group "$GROUP" | cut -d: -f3)

# as_nobody [--groups GID] CMD...: CMD as uid/gid 65534 with CAP_DAC_OVERRIDE,
# so that file modes let it through; without --groups it has no other group.
as_nobody() {
	local groups=(--clear-groups)
	if [[ $1 == --groups ]]; then
		groups=(--groups "$2")
		shift 2
	fi
	gw setpriv --reuid=65534 --regid=65534 "${groups[@]}" \
		--inh-caps=+dac_override --ambient-caps=+dac_override "$@"
}
# status_rc ARGS...: gatewayctl's exit status, its output in $EG_DIR/ctl.out.
status_rc() {
	local rc=0
	"$@" >"$EG_DIR/ctl.out" 2>&1 || rc=$?
	echo "$rc"
}
log_lines() { wc -l <"$EG_DIR/gatewayd.log"; }

# gatewayd with its control group: lib.sh's gateway.yaml (which puts the
# control socket in the test's directory) plus the group.
gatewayd_up() {
	{
		gateway_yaml edge1
		echo "control_group: $GROUP"
	} >"$EG_DIR/gateway.yaml"
	start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml" -v
	wait_for 10 "gatewayd's UDP port 51820" listening "$NS_GW" udp ":51820"
	wait_for 10 "gatewayd's control socket" test -S "$SOCK"
}

topology
keys gateway edge1

log "no gatewayd: exit status 3"
[[ $(status_rc ctl status) == 3 ]] || die "status without gatewayd: not 3 ($(cat "$EG_DIR/ctl.out"))"
cat "$EG_DIR/ctl.out"
[[ $(status_rc ctl status --json) == 3 ]] || die "status --json without gatewayd: not 3"
python3 -c 'import json, sys; r = json.load(sys.stdin); assert r["ok"] is False and r["error"]' \
	<"$EG_DIR/ctl.out" || die "status --json without gatewayd: not an error object"

log "gatewayd makes its socket: directory 0755, socket 0660 with group $GROUP"
gatewayd_up
stat -c '%n %a %U:%G' "$EG_DIR/run" "$SOCK"
[[ $(stat -c '%a' "$EG_DIR/run") == 755 ]] || die "the socket's directory is not 0755"
[[ $(stat -c '%a %G' "$SOCK") == "660 $GROUP" ]] || die "the socket is not 0660 $GROUP"

log "gatewayctl status, before and after edge1 connects"
ctl status | tee "$EG_DIR/status.txt"
grep -qx "interface:   $TUN_IF" "$EG_DIR/status.txt" || die "status: no interface $TUN_IF"
grep -qx "listen port: 51820" "$EG_DIR/status.txt" || die "status: no listen port 51820"
grep -qx "clients:     1 configured, 0 connected" "$EG_DIR/status.txt" ||
	die "status: not 1 configured, 0 connected"
grep -q "^gatewayd 0.1.0, up [0-9]*s$" "$EG_DIR/status.txt" || die "status: no version and uptime"
edged_start edge1
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
ctl status --json | tee "$EG_DIR/status.json"
python3 - "$EG_DIR/status.json" <<-'EOF' || die "status --json: not what runs"
	import json, sys
	r = json.load(open(sys.argv[1]))
	d = r["data"]
	assert r["ok"] is True, r
	assert d["interface"] == "egress0" and d["listen_port"] == 51820, d
	assert d["clients"] == {"configured": 1, "connected": 1}, d
	assert isinstance(d["uptime"], int) and d["version"] == "0.1.0", d
EOF

log "peer credentials: uid 65534 outside $GROUP is refused, even past the file's mode"
rc=$(status_rc as_nobody "$GATEWAYCTL" --socket "$SOCK" status)
cat "$EG_DIR/ctl.out"
[[ $rc == 1 ]] || die "uid 65534 without the group: exit status $rc, want 1"
grep -q "^gatewayctl: gatewayd: permission denied: uid 65534" "$EG_DIR/ctl.out" ||
	die "uid 65534 without the group: not refused by gatewayd"
grep -q "control: refused pid [0-9]* (uid 65534)" "$EG_DIR/gatewayd.log" ||
	die "gatewayd did not log the refusal"
log "uid 65534 in $GROUP (gid $GID) is served"
rc=$(status_rc as_nobody --groups "$GID" "$GATEWAYCTL" --socket "$SOCK" status)
cat "$EG_DIR/ctl.out"
[[ $rc == 0 ]] || die "uid 65534 in $GROUP: exit status $rc, want 0"
grep -qx "clients:     1 configured, 1 connected" "$EG_DIR/ctl.out" ||
	die "uid 65534 in $GROUP: no status"

log "100 junk requests while edge1 pings the host through the tunnel"
before=$(log_lines)
start ping "$NS_E1" ping -q -c 300 -i 0.05 -W 1 "$HOST"
gw python3 "$CTLJUNK" --socket "$SOCK" --count 100 --idle-max 8 >"$EG_DIR/junk.txt" 2>&1 || true
cat "$EG_DIR/junk.txt"
running ping || die "the ping ended before the junk did: it proves nothing"
wait_for 30 "the ping to end" eval '! running ping'
stop ping || true
tail -n 2 "$EG_DIR/ping.log"
grep -q "300 packets transmitted, 300 received, 0% packet loss" "$EG_DIR/ping.log" ||
	die "the ping lost packets during the junk"
# A loop held up by a client would delay the replies rather than lose them.
max_rtt=$(sed -n 's|^rtt min/avg/max/mdev = [0-9.]*/[0-9.]*/\([0-9]*\)\..*|\1|p' "$EG_DIR/ping.log")
((max_rtt < 200)) || die "a ping took ${max_rtt} ms during the junk: the data path stalled"
grep -q "^junk 100: errors 90, dropped 10 (after [4-7]\.[0-9]-[4-8]\.[0-9] s), unexpected 0$" \
	"$EG_DIR/junk.txt" || die "junk: not every request refused, or an idle one not dropped"
running gatewayd || die "gatewayd is gone"
((added = $(log_lines) - before))
echo "gatewayd logged $added lines during the junk"
((added <= 20)) || die "gatewayd logged $added lines for the junk: not rate-limited"
[[ $(status_rc ctl status) == 0 ]] || die "status after the junk: $(cat "$EG_DIR/ctl.out")"

log "gatewayd stops: its socket goes, gatewayctl exits 3"
stop gatewayd
[[ ! -e $SOCK ]] || die "the socket file outlived gatewayd"
[[ $(status_rc ctl status) == 3 ]] || die "status after gatewayd stopped: not 3"

log "SIGKILL leaves a stale socket; the next gatewayd replaces it"
gatewayd_up
stop gatewayd KILL || true
wait_for 5 "the TUN to go" eval "! gw ip link show $TUN_IF"
[[ -S $SOCK ]] || die "no stale socket after SIGKILL"
[[ $(status_rc ctl status) == 3 ]] || die "status with a stale socket: not 3"
gw sysctl -qw net.ipv4.ip_forward=0 # SIGKILL left it on
gatewayd_up
grep -q "replaced the stale socket $SOCK" "$EG_DIR/gatewayd.log" || die "no stale socket replaced"
[[ $(status_rc ctl status) == 0 ]] || die "status after the restart: $(cat "$EG_DIR/ctl.out")"
stop gatewayd

echo PASS
