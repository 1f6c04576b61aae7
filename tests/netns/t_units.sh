#!/usr/bin/env bash
# Installing and running under systemd, as far as this machine can show it
# (systemd is not PID 1 here: the hardening at run time and systemd-resolved
# are not tried).
#   - `cmake --install` into a DESTDIR lays out the binaries, the three units
#     and the two example configurations, and a second install keeps
#     configurations that are there.
#   - The installed examples are what the daemons take (`-n`, once the keys
#     and the gateway's public key are filled in).
#   - `systemd-analyze verify --root` finds nothing to say about the units:
#     its stderr must be empty, since a bad Type= exits 0 with a warning.
#   - Readiness (NOTIFY_SOCKET, a fake one): gatewayd and edged each send
#     READY=1 exactly once, when their interface is up and their nft table in
#     place, not again on SIGHUP, and STOPPING=1 on SIGTERM.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries
LISTEN="$(dirname "$0")/notify_listen.py"

cache() { sed -n "s/^$1:[A-Z]*=//p" "$EGRESS_BIN/CMakeCache.txt"; }
prefix=$(cache CMAKE_INSTALL_PREFIX)
unitdir=$(cache EGRESS_UNITDIR)
confdir=$(cache EGRESS_CONFDIR)
root=$EG_DIR/root

log "cmake --install into $root (prefix $prefix, units $unitdir, configurations $confdir)"
DESTDIR=$root cmake --install "$EGRESS_BIN" >"$EG_DIR/install.log"
want=$(printf '%s\n' "$prefix/sbin/gatewayd" "$prefix/sbin/gatewayctl" "$prefix/sbin/edged" \
	"$unitdir/gatewayd.service" "$unitdir/edged.service" "$unitdir/edged-lockdown.service" \
	"$confdir/gateway.yaml" "$confdir/edge.yaml" | sort)
got=$(cd "$root" && find . -type f | sed 's#^\.##' | sort)
echo "$got"
[[ $got == "$want" ]] || {
	diff <(echo "$want") <(echo "$got") || true
	die "the installed files are not the ones the README lists"
}
for b in gatewayd gatewayctl edged; do
	[[ -x $root$prefix/sbin/$b ]] || die "$b is not executable"
done
[[ $(stat -c %a "$root$confdir/gateway.yaml") == 600 ]] || die "gateway.yaml is not 0600"
grep -x "ExecStart=$prefix/sbin/gatewayd -c $confdir/gateway.yaml" "$root$unitdir/gatewayd.service" >/dev/null ||
	die "gatewayd.service does not start the installed gatewayd"

log "a second install keeps the configurations there"
echo "# the operator's" >>"$root$confdir/edge.yaml"
cp "$root$confdir/edge.yaml" "$EG_DIR/edge.kept"
DESTDIR=$root cmake --install "$EGRESS_BIN" >"$EG_DIR/install2.log"
grep "Kept: $root$confdir/edge.yaml" "$EG_DIR/install2.log" || die "the second install does not say it kept edge.yaml"
cmp "$EG_DIR/edge.kept" "$root$confdir/edge.yaml" || die "the second install overwrote edge.yaml"

log "the examples are what the daemons take"
topology
keys gateway edge1
cp "$EG_DIR/gateway.key" "$root$confdir/gateway.key"
cp "$EG_DIR/edge1.key" "$root$confdir/edge.key"
gw "$root$prefix/sbin/gatewayd" -n -c "$root$confdir/gateway.yaml" | grep -x "configuration OK" ||
	die "gatewayd does not take the example gateway.yaml"
sed "s|THE GATEWAY'S PUBLIC KEY|$(pub gateway)|" "$root$confdir/edge.yaml" >"$root$confdir/edge.filled.yaml"
e1 "$root$prefix/sbin/edged" -n -c "$root$confdir/edge.filled.yaml" | grep -x "configuration OK" ||
	die "edged does not take the example edge.yaml"
rc=0
e1 "$root$prefix/sbin/edged" -n -c "$root$confdir/edge.yaml" 2>"$EG_DIR/placeholder.err" || rc=$?
cat "$EG_DIR/placeholder.err"
[[ $rc == 1 ]] || die "edged took the example with its placeholder key"

log "systemd-analyze verify --root: nothing on stderr"
# The units' dependencies (sysinit.target and the like) and ExecReload's
# /bin/kill, from this machine, so the root has what a real one has.
vroot=$EG_DIR/vroot
cp -a "$root" "$vroot"
mkdir -p "$vroot/bin"
cp /bin/kill "$vroot/bin/kill"
for t in /lib/systemd/system/*.target; do
	[[ -e $vroot$unitdir/${t##*/} ]] || cp "$t" "$vroot$unitdir/"
done
verify() {
	systemd-analyze verify --root="$vroot" gatewayd.service edged.service edged-lockdown.service \
		>"$EG_DIR/verify.out" 2>"$EG_DIR/verify.err"
}
verify || die "systemd-analyze verify failed: $(cat "$EG_DIR/verify.err")"
[[ ! -s $EG_DIR/verify.err ]] || die "systemd-analyze verify: $(cat "$EG_DIR/verify.err")"
echo "clean"
# The check itself, seen failing: a bad Type= is only a warning.
sed -i 's/^Type=notify$/Type=notifyy/' "$vroot$unitdir/edged.service"
verify || true
grep "Failed to parse service type" "$EG_DIR/verify.err" || die "verify did not catch a bad Type="

log "readiness: gatewayd, once, with its TUN up and its table in place"
start notify-gw "$NS_GW" python3 -u "$LISTEN" "$EG_DIR/notify-gw.sock" "$TUN_IF" nft list table inet egress
wait_for 5 "the fake NOTIFY_SOCKET" atleast 1 seen notify-gw "listening"
gateway_yaml edge1 >"$EG_DIR/gateway.yaml"
start gatewayd "$NS_GW" env NOTIFY_SOCKET="$EG_DIR/notify-gw.sock" "$GATEWAYD" -c "$EG_DIR/gateway.yaml" -v
wait_for 10 "gatewayd's READY=1" atleast 1 seen notify-gw "READY=1"
cat "$EG_DIR/notify-gw.log"
grep -x "READY=1 $TUN_IF=up check=0" "$EG_DIR/notify-gw.log" >/dev/null ||
	die "gatewayd was ready before its TUN was up or its table in place"
kill -HUP "${EG_PIDS[gatewayd]}"
wait_for 5 "gatewayd's SIGHUP" atleast 1 seen gatewayd "SIGHUP"

log "readiness: edged, once, with its TUN up and its kill switch in place"
start notify-e1 "$NS_E1" python3 -u "$LISTEN" "$EG_DIR/notify-e1.sock" "$TUN_IF" nft list table inet egress-edge
wait_for 5 "the fake NOTIFY_SOCKET" atleast 1 seen notify-e1 "listening"
edge_yaml edge1 >"$EG_DIR/edge1.yaml"
start edged-edge1 "$NS_E1" env NOTIFY_SOCKET="$EG_DIR/notify-e1.sock" "$EDGED" -c "$EG_DIR/edge1.yaml" -v
wait_for 10 "edged's READY=1" atleast 1 seen notify-e1 "READY=1"
wait_for 10 "the handshake (ping $HOST)" e1 ping -c1 -W1 "$HOST"
edged_hup edge1 >/dev/null
stop edged-edge1 TERM
stop gatewayd TERM
wait_for 5 "STOPPING=1 from both" atleast 1 seen notify-e1 "STOPPING=1"
wait_for 5 "STOPPING=1 from gatewayd" atleast 1 seen notify-gw "STOPPING=1"
cat "$EG_DIR/notify-e1.log"
grep -x "READY=1 $TUN_IF=up check=0" "$EG_DIR/notify-e1.log" >/dev/null ||
	die "edged was ready before its TUN was up or its kill switch in place"
for who in gw e1; do
	n=$(grep -c "^READY=1" "$EG_DIR/notify-$who.log" || true)
	[[ $n == 1 ]] || die "notify-$who: READY=1 sent $n times, want once"
done
echo PASS
