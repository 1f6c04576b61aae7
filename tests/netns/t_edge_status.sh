#!/usr/bin/env bash
# edged status, over edged's control socket: no edged (status 3), locked
# down (a lockdown's kill switch, no edged), connecting (no gateway yet),
# connected (after a handshake, with bytes both ways), and the kill switch
# off; --json gives exactly the
# documented keys, each of its JSON type; a request edged does not know is
# refused.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

topology
keys gateway edge1
edge_yaml edge1 >"$EG_DIR/edge1.yaml"
gateway_yaml edge1 >"$EG_DIR/gateway.yaml"
status() { e1 "$EDGED" status -c "$EG_DIR/edge1.yaml" "$@"; }

# json_check FILE STATE: FILE holds {"ok": true, "data": {...}} with the
# documented keys (those of a running edged unless STATE is "locked down")
# and data.state STATE.
json_check() {
	python3 - "$1" "$2" <<'PYEOF'
import json, sys
reply = json.load(open(sys.argv[1]))
want_state = sys.argv[2]
assert reply["ok"] is True, reply
d = reply["data"]
if want_state == "locked down":
    keys = {"state": str, "kill_switch": bool}
else:
    keys = {"state": str, "interface": str, "gateway": str, "gateway_index": int,
            "gateways": int, "last_handshake": (str, type(None)),
            "last_handshake_unix": int, "rx_bytes": int, "tx_bytes": int, "kill_switch": bool}
assert set(d) == set(keys), f"keys {sorted(d)}, want {sorted(keys)}"
for k, t in keys.items():
    assert isinstance(d[k], t) and not (t is int and isinstance(d[k], bool)), f"{k}: {d[k]!r}"
assert d["state"] == want_state, f"state {d['state']!r}, want {want_state!r}"
if want_state != "locked down":
    assert d["gateway_index"] == 1 and d["gateways"] == 1, d
PYEOF
}

log "no edged: status 3"
rc=0
status >"$EG_DIR/none.out" 2>&1 || rc=$?
cat "$EG_DIR/none.out"
[[ $rc == 3 ]] || die "edged status without edged: exit status $rc, want 3"

log "locked down: no edged, its kill switch in place"
e1 "$EDGED" --lockdown -c "$EG_DIR/edge1.yaml"
status | tee "$EG_DIR/locked.out"
grep -x "state: *locked down" "$EG_DIR/locked.out" >/dev/null || die "not 'locked down'"
status --json >"$EG_DIR/locked.json"
json_check "$EG_DIR/locked.json" "locked down" || die "locked down --json"

log "connecting: edged runs, no gateway yet"
start edged-edge1 "$NS_E1" "$EDGED" -c "$EG_DIR/edge1.yaml" -v
wait_for 10 "edged's control socket" test -S "$EG_DIR/run-edge1/edged.sock"
status | tee "$EG_DIR/connecting.out"
grep -x "state: *connecting" "$EG_DIR/connecting.out" >/dev/null || die "not 'connecting'"
grep -x "last handshake: *never" "$EG_DIR/connecting.out" >/dev/null || die "a handshake already"
grep -x "gateway: *$GW_ENDPOINT" "$EG_DIR/connecting.out" >/dev/null || die "not its gateway"
grep "^kill switch: *on" "$EG_DIR/connecting.out" >/dev/null || die "the kill switch is not on"
status --json >"$EG_DIR/connecting.json"
json_check "$EG_DIR/connecting.json" connecting || die "connecting --json"

log "connected: after a handshake and a ping"
start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml" -v
wait_for 10 "the handshake (ping $HOST)" e1 ping -c1 -W1 "$HOST"
e1 ping -q -c3 -i0.2 -W1 "$HOST"
status | tee "$EG_DIR/connected.out"
grep -x "state: *connected" "$EG_DIR/connected.out" >/dev/null || die "not 'connected'"
status --json >"$EG_DIR/connected.json"
json_check "$EG_DIR/connected.json" connected || die "connected --json"
python3 - "$EG_DIR/connected.json" <<'PYEOF' || die "connected: no handshake time or no bytes"
import json, sys
d = json.load(open(sys.argv[1]))["data"]
assert d["last_handshake"] and d["last_handshake_unix"] > 0, d
assert d["rx_bytes"] > 0 and d["tx_bytes"] > 0, d
PYEOF

log "a command edged does not know is refused"
rc=0
e1 python3 - "$EG_DIR/run-edge1/edged.sock" <<'PYEOF' || rc=$?
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.send(json.dumps({"cmd": "flows", "args": {}}).encode())
reply = json.loads(s.recv(65536))
assert reply["ok"] is False and "status" in reply["error"], reply
PYEOF
[[ $rc == 0 ]] || die "an unknown command was not refused as it should be"

log "SIGTERM: status 3 again; with kill_switch: false, status says off"
stop edged-edge1
rc=0
status >/dev/null 2>&1 || rc=$?
[[ $rc == 3 ]] || die "edged status after SIGTERM: exit status $rc, want 3"
{
	edge_yaml edge1
	echo "kill_switch: false"
} >"$EG_DIR/edge1-open.yaml"
start edged-edge1 "$NS_E1" "$EDGED" -c "$EG_DIR/edge1-open.yaml" -v
wait_for 10 "edged's control socket" test -S "$EG_DIR/run-edge1/edged.sock"
e1 "$EDGED" status -c "$EG_DIR/edge1-open.yaml" | tee "$EG_DIR/open.out"
grep -x "kill switch: *off" "$EG_DIR/open.out" >/dev/null || die "the kill switch is not off"
stop edged-edge1
echo PASS
