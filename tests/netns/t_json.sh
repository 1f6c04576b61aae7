#!/usr/bin/env bash
# `gatewayctl --json` of every command that asks gatewayd: each reply
# parses, is {"ok": true, "data": ...}, and data has exactly the keys the
# README documents for the command, each of its JSON type:
#   status, clients, flows, flows kill, policy check, test, diff, apply,
#   show (and --nft), stats, client add (and with --out), client remove;
# and the failures: a refused policy ({"ok": false, "error", "messages"},
# status 1), a refused client add ({"ok": false, "error"}, status 1), and
# no gatewayd ({"ok": false, "error"}, status 3).
#
#   edge1 -- br0 -- router -- gateway (gatewayd) -- router -- host
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

# shape NAME SPEC: NAME's reply (in $EG_DIR/NAME.json) against SPEC, a
# Python expression: a dict of key to type (str, int, bool, None, or a
# tuple of them), a nested dict, or a one-element list of such for an array
# of them. The keys must be exactly SPEC's.
shape() {
	python3 - "$EG_DIR/$1.json" "$2" <<-'PYEOF' || die "$1 --json: not the documented shape"
		import json, sys
		OPT = lambda t: (t, type(None))
		reply = json.load(open(sys.argv[1]))
		spec = eval(sys.argv[2])
		def check(v, s, at):
		    if isinstance(s, dict):
		        assert isinstance(v, dict), (at, v)
		        assert set(v) == set(s), (at, "keys", sorted(set(v) ^ set(s)))
		        for k in s:
		            check(v[k], s[k], at + "." + k)
		    elif isinstance(s, list):
		        assert isinstance(v, list), (at, v)
		        for i, e in enumerate(v):
		            check(e, s[0], "%s[%d]" % (at, i))
		    else:
		        ts = s if isinstance(s, tuple) else (s,)
		        ok = any(type(v) is t for t in ts)
		        assert ok, (at, v, s)
		assert set(reply) == {"ok", "data"} and reply["ok"] is True, reply
		check(reply["data"], spec, "data")
		print("%s: the documented keys, of their types" % sys.argv[1].rsplit("/", 1)[1])
	PYEOF
}
# refusal NAME [messages]: NAME's reply is {"ok": false, "error": ...}, with
# "messages" (an array of lines) when asked.
refusal() {
	python3 - "$EG_DIR/$1.json" "${2:-}" <<-'PYEOF' || die "$1 --json: not a refusal"
		import json, sys
		r = json.load(open(sys.argv[1]))
		keys = {"ok", "error"} | ({"messages"} if sys.argv[2] else set())
		assert set(r) == keys and r["ok"] is False and isinstance(r["error"], str) and r["error"], r
		if sys.argv[2]:
		    assert r["messages"] and all(isinstance(m, str) for m in r["messages"]), r
		print("%s: a refusal: %s" % (sys.argv[1].rsplit("/", 1)[1], r["error"]))
	PYEOF
}
# json NAME ARGS...: gatewayctl --json ARGS into $EG_DIR/NAME.json; its exit
# status must be 0.
json() {
	local name=$1
	shift
	ctl --json "$@" >"$EG_DIR/$name.json" || die "gatewayctl --json $*: exit status $?"
}
# json_rc NAME WANT ARGS...: the same, for a failure with status WANT.
json_rc() {
	local name=$1 want=$2 rc=0
	shift 2
	ctl --json "$@" >"$EG_DIR/$name.json" || rc=$?
	[[ $rc == "$want" ]] || die "gatewayctl --json $*: exit status $rc, want $want"
}

topology
web_start
web_file big.bin 8 >/dev/null
keys gateway edge1
{
	gateway_yaml edge1
	echo "endpoint: \"$GW_ENDPOINT\""
} >"$EG_DIR/gateway.yaml"

log "no gatewayd: a refusal, status 3"
json_rc unreachable 3 status
refusal unreachable

start gatewayd "$NS_GW" "$GATEWAYD" -c "$EG_DIR/gateway.yaml" -v
wait_for 10 "gatewayd's control socket" test -S "$EG_DIR/run/gatewayd.sock"
edged_start edge1
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
start download "$NS_E1" curl -gsS --limit-rate 100k --max-time 60 -o /dev/null "http://$HOST/big.bin"
download_listed() { ctl flows --json --client edge1 --port 80 | grep '"client": "edge1"' >/dev/null; }
wait_for 10 "the download's flow" download_listed

log "status and clients"
json status status
shape status '{"version": str, "uptime": int, "interface": str, "uplink": OPT(str),
	"listen_port": int, "public_key": str, "endpoint": OPT(str),
	"clients": {"configured": int, "connected": int},
	"conntrack": {"count": OPT(int), "max": OPT(int), "warn_percent": int, "warning": bool},
	"policy": {"source": str, "builtin": bool, "rules": int, "applied": str, "applied_unix": int},
	"offload": {"tun_tso": bool, "tun_uso": bool, "udp_gso": bool, "udp_gro": bool,
		"tun_coalescing": bool, "superpackets_read": int, "superpackets_written": int,
		"trains_sent": int, "trains_received": int, "fallbacks": int, "tun_drops": int}}'
json clients clients
shape clients '[{"name": str, "address": str, "address6": OPT(str), "endpoint": OPT(str),
	"last_handshake": OPT(str), "last_handshake_unix": int, "connected": bool,
	"rx_bytes": int, "tx_bytes": int, "flows": int, "policy_drops": int}]'

log "flows"
json flows flows
shape flows '[{"client": str, "family": str, "proto": str, "src": str, "sport": int,
	"dst": str, "dport": int, "nat_src": OPT(str), "nat_sport": int, "state": OPT(str),
	"packets_out": int, "bytes_out": int, "packets_in": int, "bytes_in": int,
	"age_s": int, "rule": OPT(str)}]'
python3 -c 'import json, sys; assert json.load(sys.stdin)["data"], "no flows"' <"$EG_DIR/flows.json" ||
	die "flows --json: the download is not listed"

log "the policy commands"
cat >"$EG_DIR/policy.yaml" <<-EOF
	version: 1
	default: deny
	rules:
	  - {name: web, from: [edge1], to: [internet], ports: [tcp/80], action: allow}
	  - {name: dns, from: [any], to: [gateway], ports: [udp/53], action: allow}
	tests:
	  - {client: edge1, to: $HOST, port: tcp/80, expect: allow}
EOF
json check policy check "$EG_DIR/policy.yaml"
shape check '{"file": str, "rules": int, "tests": int, "ifaddrs_known": bool, "warnings": [str]}'
json test policy test edge1 "$HOST" tcp/443
shape test '{"client": str, "dst": str, "port": OPT(str), "allow": bool, "by": str, "rule": str,
	"to_gateway": bool, "ifaddrs_known": bool, "skipped": [{"rule": str, "why": str}]}'
json diff policy diff "$EG_DIR/policy.yaml"
shape diff '{"file": str, "changes": [str], "warnings": [str]}'
json apply policy apply "$EG_DIR/policy.yaml"
shape apply '{"file": str, "rules": int, "killed": int, "warnings": [str]}'
json show policy show
shape show '{"source": str, "builtin": bool, "applied": str, "applied_unix": int, "yaml": str}'
json show_nft policy show --nft
shape show_nft '{"source": str, "builtin": bool, "applied": str, "applied_unix": int, "nft": str}'
json stats policy stats
shape stats '{"applied": str, "applied_unix": int, "source": str,
	"counters": [{"kind": str, "name": str, "packets": int, "bytes": int}]}'
echo "version: 2" >"$EG_DIR/bad.yaml"
json_rc bad 1 policy apply "$EG_DIR/bad.yaml"
refusal bad messages

log "flows kill"
json kill flows kill --client edge1 --port 80
shape kill '{"killed": int}'

log "client add and remove"
json add client add carol
shape add '{"name": str, "address": str, "address6": OPT(str), "gateway_public_key": str,
	"endpoint": OPT(str), "listen_port": int, "mtu": int, "preshared_key_file": OPT(str),
	"conf": str}'
json_rc taken 1 client add carol
refusal taken
mkdir "$EG_DIR/dave"
json add_out client add dave --psk --out "$EG_DIR/dave"
shape add_out '{"name": str, "address": str, "address6": OPT(str), "gateway_public_key": str,
	"endpoint": OPT(str), "listen_port": int, "mtu": int, "preshared_key_file": OPT(str),
	"conf": str, "files": [str]}'
json remove client remove carol
shape remove '{"name": str, "flows_ended": int}'
echo PASS
