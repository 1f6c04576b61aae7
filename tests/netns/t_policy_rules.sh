#!/usr/bin/env bash
# What each kind of policy rule lets through, with two edges and both
# families, one `gatewayctl policy apply` per section:
#   - groups: a rule from group:eng (eng: [edge1]) allows edge1, not edge2;
#   - except: to 203.0.113.0/24 except 203.0.113.80/32 allows the host's
#     second address 203.0.113.81 and denies .80;
#   - port ranges: tcp/8000-8100 allows 8080, refuses 80 and 8200;
#   - icmp lets ping through, icmpv6 ping -6; without them each is rejected
#     at once (admin-prohibited);
#   - an IPv6 CIDR allows the host's IPv6 address and not its IPv4 one, an
#     IPv4 CIDR the other way round;
#   - a service on the gateway host (port 8053 on all its addresses, both
#     families) opens only to a rule naming gateway with its port, and only
#     for the rule's clients; to: [any] and default: allow leave it closed;
#   - edge2 sending with edge1's tunnel addresses gets no part of edge1's
#     policy: the tunnel drops the packets, while edge1's own flows pass.
# Every denied fetch fails within a second (a TCP reset) and the internet
# host counts none of its packets; `policy test` gives the verdict that the
# traffic shows.
#
#   edge1, edge2 -- br0 -- router -- gateway (gatewayd) -- wan0 -- router -- host
#                                     [::]:8053                        203.0.113.80 :80 :8080 :8200
#                                                                      203.0.113.81 :80
#                                                                      2001:db8:80::80 :80
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

HOST_B=203.0.113.81 # the host's second address

# apply NAME: the policy on stdin becomes $EG_DIR/NAME.yaml, applied.
apply() {
	cat >"$EG_DIR/$1.yaml"
	ctl policy apply "$EG_DIR/$1.yaml" | tee "$EG_DIR/out"
	grep -q "^applied $EG_DIR/$1.yaml " "$EG_DIR/out" || die "$1.yaml: not applied"
}
# host_packets: what the host's counter saw from the gateway, any protocol,
# either family.
host_packets() {
	host nft list counter inet hostcount seen | awk '$1 == "packets" { print $2 }'
}
# denied NS URL: refused within a second, and not one packet reached the host.
denied() {
	local before
	before=$(host_packets)
	refused_fast "$1" "$2"
	[[ $(host_packets) == "$before" ]] ||
		die "$2 from $1: the host saw $(($(host_packets) - before)) packets of the refused fetch"
}
# allowed NS URL: the fetch gets the host's page, and the host's counter
# counts it (so that the counter's silence in denied means something).
allowed() {
	local before
	before=$(host_packets)
	[[ $(n "$1" curl -gsSf --max-time 5 "$2") == "hello from the internet host" ]] ||
		die "$2 from $1: not fetched"
	(($(host_packets) > before)) || die "$2 from $1: fetched, but the host's counter saw nothing"
}
# ping_denied NS [-6] ADDR: a ping rejected at once, admin-prohibited, and
# no packet of it at the host.
ping_denied() {
	local ns=$1 before t0=$EPOCHREALTIME t1
	shift
	before=$(host_packets)
	if n "$ns" ping -c1 -W3 "$@" >"$EG_DIR/ping.out" 2>&1; then
		cat "$EG_DIR/ping.out"
		die "ping $* from $ns: answered, want rejected"
	fi
	t1=$EPOCHREALTIME
	cat "$EG_DIR/ping.out"
	grep -qiE "prohibited|filtered" "$EG_DIR/ping.out" || die "ping $* from $ns: not admin-prohibited"
	python3 -c "import sys; sys.exit(0 if $t1 - $t0 < 1.0 else 1)" ||
		die "ping $* from $ns: rejected after $(python3 -c "print(round($t1 - $t0, 2))") s, not under 1 s"
	[[ $(host_packets) == "$before" ]] || die "ping $* from $ns: the host saw it"
}
# verdict CLIENT DST PORT WANT: `policy test` says WANT on its first line
# ("allow by rule \"x\"", "deny by default", "deny by gateway" and its
# reason after a colon); the reasons of the rules before are in $EG_DIR/out.
verdict() {
	local first
	ctl policy test "$1" "$2" "$3" | tee "$EG_DIR/out"
	first=$(head -1 "$EG_DIR/out")
	[[ $first == "$1 to $2 $3: $4" || $first == "$1 to $2 $3: $4: "* ]] ||
		die "policy test $1 $2 $3: not \"$4\""
}

topology
keys gateway edge1 edge2

log "the internet host: web servers on $HOST, $HOST_B and [$HOST6] port 80, $HOST:8080 and :8200"
host nft -f - <<-EOF
	table inet hostcount {
		counter seen { }
		chain input { type filter hook input priority 0; policy accept;
			ip saddr $GW_PUBLIC counter name "seen"
			ip6 saddr $GW_PUBLIC6 counter name "seen"; }
	}
EOF
addr "$NS_HOST" eth0 "$HOST_B/24"
web_start
for s in "$HOST_B 80" "$HOST 8080" "$HOST 8200"; do
	read -r a p <<<"$s"
	start "web-$a-$p" "$NS_HOST" python3 -m http.server --bind "$a" --directory "$EG_DIR/www" "$p"
	wait_for 10 "the web server on $a:$p" listening "$NS_HOST" tcp "$a:$p"
done

log "gatewayd with edge1 and edge2, both families; a service on the gateway host, port 8053"
gatewayd_start -6 edge1 edge2
wait_for 10 "the control socket" test -S "$EG_DIR/run/gatewayd.sock"
edged_start -6 edge1
edged_start -6 edge2
wait_for 10 "edge1's handshake" e1 ping -c1 -W1 "$HOST"
wait_for 10 "edge2's handshake" e2 ping -c1 -W1 "$HOST"
# on [::], both families: the tunnel addresses and the uplink's
start gwsvc "$NS_GW" python3 -m http.server --bind :: --directory "$EG_DIR/www" 8053
wait_for 10 "the gateway's service" listening "$NS_GW" tcp ":8053"
GW_SVC=(http://100.64.0.1:8053/ "http://[fd00:64::1]:8053/" "http://$GW_PUBLIC:8053/")

log "groups: from group:eng (eng: [edge1]) allows edge1, not edge2"
apply groups <<-EOF
	version: 1
	default: deny
	groups:
	  eng: [edge1]
	rules:
	  - name: eng-web
	    from: [group:eng]
	    to: [internet]
	    ports: [tcp/80]
	    action: allow
EOF
allowed "$NS_E1" "http://$HOST/"
denied "$NS_E2" "http://$HOST/"
verdict edge1 "$HOST" tcp/80 'allow by rule "eng-web"'
verdict edge2 "$HOST" tcp/80 "deny by default"
grep -qx '  rule "eng-web": wrong client' "$EG_DIR/out" || die "policy test edge2: no wrong client"

log "except: 203.0.113.0/24 except $HOST/32 allows $HOST_B, denies $HOST"
apply except <<-EOF
	version: 1
	default: deny
	rules:
	  - name: net-but-80
	    from: [any]
	    to: [203.0.113.0/24]
	    except: [$HOST/32]
	    ports: [tcp/80]
	    action: allow
EOF
allowed "$NS_E1" "http://$HOST_B/"
allowed "$NS_E2" "http://$HOST_B/"
denied "$NS_E1" "http://$HOST/"
verdict edge1 "$HOST" tcp/80 "deny by default"
grep -qx '  rule "net-but-80": destination excepted' "$EG_DIR/out" || die "policy test: not excepted"

log "a run of ten rules (one verdict map): first match wins, excepts hold, counters count"
# Rules 1-10 take every protocol and come from any client, so the compiler
# makes them one interval map: overlapping CIDRs, an except and both
# families must decide exactly as ten rules in a row would.
apply runs <<-EOF
	version: 1
	default: deny
	rules:
	  - {name: r1, from: [any], to: [192.0.2.0/25], action: deny}
	  - {name: deny-80, from: [any], to: [$HOST/32], action: deny}
	  - {name: r3, from: [any], to: [198.51.100.128/25], action: deny}
	  - {name: net, from: [any], to: [203.0.113.0/24], except: [$HOST_B/32], action: allow}
	  - {name: r5, from: [any], to: ["2001:db8:1::/48"], action: deny}
	  - {name: v6-host, from: [any], to: ["2001:db8:80::/48"], action: allow}
	  - {name: r7, from: [any], to: ["2001:db8:2::/48"], action: deny}
	  - {name: b-late, from: [any], to: [$HOST_B/32], action: allow}
	  - {name: r9, from: [any], to: ["2001:db8:3::/48"], action: deny}
	  - {name: r10, from: [any], to: [192.0.2.128/25], action: deny}
EOF
gw nft list map inet egress run_r1_to4 >/dev/null || die "the ten rules are not one map"
denied "$NS_E1" "http://$HOST/"
allowed "$NS_E1" "http://$HOST_B/"
allowed "$NS_E1" "http://[$HOST6]/"
verdict edge1 "$HOST" tcp/80 'deny by rule "deny-80"'
verdict edge1 "$HOST_B" tcp/80 'allow by rule "b-late"'
ctl policy stats | tee "$EG_DIR/stats.txt"
for r in deny-80 b-late v6-host; do
	awk -v r=$r '$1 == r && $2 > 0 { ok = 1 } END { exit !ok }' "$EG_DIR/stats.txt" ||
		die "stats: rule $r counted nothing"
done
awk '$1 == "net" && $2 == 0 { ok = 1 } END { exit !ok }' "$EG_DIR/stats.txt" ||
	die "stats: rule net counted what its except and deny-80 decide"

log "port ranges: tcp/8000-8100 allows 8080, refuses 80 and 8200"
apply ports <<-EOF
	version: 1
	default: deny
	rules:
	  - name: high
	    from: [any]
	    to: [$HOST/32]
	    ports: [tcp/8000-8100]
	    action: allow
EOF
allowed "$NS_E1" "http://$HOST:8080/"
denied "$NS_E1" "http://$HOST/"
denied "$NS_E1" "http://$HOST:8200/"

log "ICMP: no icmp, no ping; icmp lets ping through, icmpv6 ping -6"
for proto in none icmp icmpv6; do
	ports=tcp/80
	[[ $proto != none ]] && ports+=", $proto"
	apply "ping-$proto" <<-EOF
		version: 1
		default: deny
		rules:
		  - name: web-and-$proto
		    from: [any]
		    to: [internet]
		    ports: [$ports]
		    action: allow
	EOF
	if [[ $proto == icmp ]]; then
		e1 ping -c1 -W2 "$HOST" || die "icmp: ping $HOST is not answered"
	else
		ping_denied "$NS_E1" "$HOST"
	fi
	if [[ $proto == icmpv6 ]]; then
		e1 ping -6 -c1 -W2 "$HOST6" || die "icmpv6: ping -6 $HOST6 is not answered"
	else
		ping_denied "$NS_E1" -6 "$HOST6"
	fi
	allowed "$NS_E1" "http://$HOST/"
done
verdict edge1 "$HOST6" icmpv6 'allow by rule "web-and-icmpv6"'
verdict edge1 "$HOST" icmp "deny by default"

log "IPv6 rules: 2001:db8:80::/48 allows [$HOST6] and not $HOST; 203.0.113.0/24 the other way"
apply v6 <<-EOF
	version: 1
	default: deny
	rules:
	  - name: v6-net
	    from: [any]
	    to: [2001:db8:80::/48]
	    action: allow
EOF
allowed "$NS_E1" "http://[$HOST6]/"
denied "$NS_E1" "http://$HOST/"
verdict edge1 "$HOST6" tcp/80 'allow by rule "v6-net"'
verdict edge1 "$HOST" tcp/80 "deny by default"
grep -qx '  rule "v6-net": destination not listed' "$EG_DIR/out" || die "policy test: $HOST listed"
apply v4 <<-EOF
	version: 1
	default: deny
	rules:
	  - name: v4-net
	    from: [any]
	    to: [203.0.113.0/24]
	    action: allow
EOF
allowed "$NS_E1" "http://$HOST/"
denied "$NS_E1" "http://[$HOST6]/"

log "the gateway host: default: allow and to: [any] leave its port 8053 closed"
apply default-allow <<-EOF
	version: 1
	default: allow
EOF
allowed "$NS_E1" "http://$HOST:8200/"
for url in "${GW_SVC[@]}"; do refused_fast "$NS_E1" "$url"; done
verdict edge1 100.64.0.1 tcp/8053 "deny by gateway"
apply to-any <<-EOF
	version: 1
	default: deny
	rules:
	  - name: everything
	    from: [any]
	    to: [any]
	    action: allow
EOF
allowed "$NS_E1" "http://$HOST:8200/"
allowed "$NS_E1" "http://[$HOST6]/"
for url in "${GW_SVC[@]}"; do refused_fast "$NS_E1" "$url"; done
verdict edge1 100.64.0.1 tcp/8053 "deny by gateway"
grep -qx '  rule "everything": destination is the gateway, which the rule does not name' "$EG_DIR/out" ||
	die "policy test: rule everything not skipped for the gateway"

log "the gateway host: to: [gateway] with tcp/8053 opens it, for edge1 only"
apply to-gateway <<-EOF
	version: 1
	default: deny
	rules:
	  - name: gw-svc
	    from: [edge1]
	    to: [gateway]
	    ports: [tcp/8053]
	    action: allow
EOF
for url in "${GW_SVC[@]}"; do
	[[ $(e1 curl -gsSf --max-time 5 "$url") == "hello from the internet host" ]] ||
		die "edge1 cannot reach $url, which gw-svc opens"
	refused_fast "$NS_E2" "$url"
done
denied "$NS_E1" "http://[$HOST6]/" # gateway names the gateway host only
verdict edge1 100.64.0.1 tcp/8053 'allow by rule "gw-svc"'
verdict edge2 100.64.0.1 tcp/8053 "deny by gateway"

log "spoofing: edge2 with edge1's tunnel addresses gets nothing of edge1's policy"
apply spoof <<-EOF
	version: 1
	default: deny
	rules:
	  - name: edge1-only
	    from: [edge1]
	    to: [internet]
	    action: allow
EOF
allowed "$NS_E1" "http://$HOST/"
denied "$NS_E2" "http://$HOST/"
dropped() { seen gatewayd "peer edge2: dropped a packet with a source that is not its own"; }
drops=$(dropped)
before=$(host_packets)
addr "$NS_E2" "$TUN_IF" "$(tun_addr edge1)/32" "$(tun_addr6 edge1)/128"
for url in "http://$HOST/" "http://[$HOST6]/"; do
	src=$(tun_addr edge1)
	[[ $url == *\[* ]] && src=$(tun_addr6 edge1)
	if e2 curl -gsS --max-time 2 --interface "$src" -o /dev/null "$url"; then
		die "edge2 fetched $url with edge1's source $src"
	fi
done
wait_for 5 "the gateway to drop edge2's spoofed SYNs" atleast $((drops + 2)) dropped
echo "gateway dropped: $(($(dropped) - drops)); the host saw: $(($(host_packets) - before))"
[[ $(host_packets) == "$before" ]] || die "the host saw packets of edge2's spoofed fetches"
e2 ip addr del "$(tun_addr edge1)/32" dev "$TUN_IF"
e2 ip addr del "$(tun_addr6 edge1)/128" dev "$TUN_IF"
allowed "$NS_E1" "http://$HOST/"
allowed "$NS_E1" "http://[$HOST6]/"
denied "$NS_E2" "http://$HOST/"

running gatewayd || die "gatewayd is gone"
echo PASS
