#!/usr/bin/env bash
# DNS while edged runs (dns: in edge.yaml). A real resolver, dnsmasq on the
# internet host, answers www.egress.test through the tunnel; another on the
# edge's LAN (the router, 192.0.2.1) answers the same name differently, so
# a query that leaks shows. Edge1's /etc/resolv.conf is a file of this
# test's own, bind-mounted over it in a private mount namespace (edged and
# each query run in one); it names the LAN's resolver.
#   - While edged runs the file names the tunnel's resolver, getent resolves
#     through it, and the kill switch refuses DNS anywhere else: to the LAN's
#     resolver, and through the tunnel to any other server (counted as
#     dns_blocked).
#   - SIGHUP changes the resolvers, and takes them away (the original back)
#     and gives them again, while the tunnel runs.
#   - A clean stop puts the file back byte for byte, in place.
#   - edged killed: the file stays edged's (no leak to the LAN's resolver);
#     the next start, or `edged --down`, puts the original back.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries
DNSQ="$(dirname "$0")/dnsq.py"

topology
keys gateway edge1
edge_yaml edge1 >"$EG_DIR/edge1.yaml"
echo "dns: [$HOST]" >>"$EG_DIR/edge1.yaml"

# The original: odd on purpose (no final newline, a blank line, a tab), so
# "byte for byte" means something.
printf '# the LAN'"'"'s resolver\n\nnameserver 192.0.2.1\noptions\ttimeout:1 attempts:1' \
	>"$EG_DIR/resolv.conf"
cp "$EG_DIR/resolv.conf" "$EG_DIR/resolv.orig"
chmod 0644 "$EG_DIR/resolv.conf"
inode=$(stat -c %i "$EG_DIR/resolv.conf")

# "${with_resolv[@]}" CMD...: CMD with $EG_DIR/resolv.conf as /etc/resolv.conf,
# in a mount namespace of its own (each execs the next: start()'s pid is CMD's).
# shellcheck disable=SC2016 # $0 and $@ are sh's
with_resolv=(unshare --mount --propagation private
	sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$EG_DIR/resolv.conf")
resolve() { e1 "${with_resolv[@]}" getent ahostsv4 www.egress.test | awk 'NR == 1 { print $1 }'; }
dns_blocked() { e1 nft list counter inet egress-edge dns_blocked | awk '$1 == "packets" { print $2 }'; }
same_as_orig() { cmp "$EG_DIR/resolv.orig" "$EG_DIR/resolv.conf" || die "$1: resolv.conf is not the original"; }

dnsmasq_start() { # NAME NS ADDRESS ANSWER
	start "$1" "$2" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
		--user=root --pid-file="$EG_DIR/$1.pid.dnsmasq" --bind-interfaces \
		--listen-address="$3" --host-record="www.egress.test,$4" --log-queries --log-facility=-
	wait_for 10 "$1 on $3:53" listening "$2" udp "$3:53"
}
dnsmasq_start dns-host "$NS_HOST" "$HOST" 203.0.113.80
dnsmasq_start dns-lan "$NS_INET" 192.0.2.1 192.0.2.66

log "no edged: the LAN's resolver answers (the control)"
[[ $(resolve) == 192.0.2.66 ]] || die "the LAN's resolver does not answer getent"

log "edged with dns: [$HOST]"
gatewayd_start edge1
start edged-edge1 "$NS_E1" "${with_resolv[@]}" "$EDGED" -c "$EG_DIR/edge1.yaml" -v
wait_for 10 "the handshake (ping $HOST)" e1 ping -c1 -W1 "$HOST"
cat "$EG_DIR/resolv.conf"
grep -x "nameserver $HOST" "$EG_DIR/resolv.conf" >/dev/null || die "resolv.conf does not name $HOST"
! grep "192.0.2.1" "$EG_DIR/resolv.conf" >/dev/null || die "resolv.conf still names the LAN's resolver"
[[ $(stat -c %i:%a "$EG_DIR/resolv.conf") == "$inode:644" ]] || die "resolv.conf was not rewritten in place"
[[ -e $EG_DIR/state-edge1/resolv.conf ]] || die "no original kept in state_dir"
got=$(resolve)
[[ $got == 203.0.113.80 ]] || die "getent through the tunnel's resolver gave '$got'"
seen dns-host "query\[A\] www.egress.test from 198.51.100.1" >/dev/null ||
	die "the query did not reach the internet host's resolver through the gateway"
echo "www.egress.test is $got, from the resolver beyond the tunnel"

log "DNS anywhere else is refused"
before=$(dns_blocked)
for server in 192.0.2.1 203.0.113.1 "$HOST6"; do
	got=$(e1 python3 "$DNSQ" "$server" www.egress.test)
	echo "query to $server: $got"
	[[ $got == refused ]] || die "a query to $server was not refused: $got"
done
[[ $(e1 python3 "$DNSQ" "$HOST" www.egress.test) == 203.0.113.80 ]] || die "the configured resolver does not answer"
(($(dns_blocked) >= before + 3)) || die "dns_blocked counted $(($(dns_blocked) - before)), want 3"

log "SIGHUP with a second resolver: both named, both let through"
sed -i "s/^dns: .*/dns: [$HOST, 203.0.113.1]/" "$EG_DIR/edge1.yaml"
edged_hup edge1 | grep "2 resolvers" || die "edged did not apply the second resolver"
grep -x "nameserver 203.0.113.1" "$EG_DIR/resolv.conf" >/dev/null || die "resolv.conf does not name the second resolver"
got=$(e1 python3 "$DNSQ" 203.0.113.1 www.egress.test)
[[ $got == silent ]] || die "a query to the second resolver (none listens there) gave '$got', want silent"

log "SIGHUP without dns: the original back while edged runs; with it again: edged's"
sed -i '/^dns: /d' "$EG_DIR/edge1.yaml"
edged_hup edge1 | grep "0 resolvers" || die "edged did not drop its resolvers"
same_as_orig "after a SIGHUP without dns"
echo "dns: [$HOST]" >>"$EG_DIR/edge1.yaml"
edged_hup edge1 | grep "1 resolvers" || die "edged did not take its resolvers back"
grep -x "nameserver $HOST" "$EG_DIR/resolv.conf" >/dev/null || die "resolv.conf does not name $HOST again"
[[ $(e1 python3 "$DNSQ" 203.0.113.1 www.egress.test) == refused ]] || die "the second resolver is still let through"

log "SIGTERM: the original back, byte for byte, in place"
stop edged-edge1 TERM
same_as_orig "after SIGTERM"
[[ $(stat -c %i "$EG_DIR/resolv.conf") == "$inode" ]] || die "the original came back as a new file"
[[ ! -e $EG_DIR/state-edge1/resolv.conf ]] || die "a clean stop left the saved original"
[[ $(resolve) == 192.0.2.66 ]] || die "the LAN's resolver does not answer after the stop"

log "edged killed: the file stays edged's; the next start keeps the true original"
start edged-edge1 "$NS_E1" "${with_resolv[@]}" "$EDGED" -c "$EG_DIR/edge1.yaml" -v
wait_for 10 "the handshake (ping $HOST)" e1 ping -c1 -W1 "$HOST"
stop edged-edge1 KILL || true
grep -x "nameserver $HOST" "$EG_DIR/resolv.conf" >/dev/null || die "a kill put the LAN's resolver back"
[[ $(e1 python3 "$DNSQ" 192.0.2.1 www.egress.test) == refused ]] || die "DNS to the LAN after the kill was not refused"
start edged-edge1 "$NS_E1" "${with_resolv[@]}" "$EDGED" -c "$EG_DIR/edge1.yaml" -v
wait_for 10 "the handshake (ping $HOST)" e1 ping -c1 -W1 "$HOST"
[[ $(seen edged-edge1 "had rewritten it") == 1 ]] || die "the start did not say it put the killed edged's file back"
grep -x "nameserver $HOST" "$EG_DIR/resolv.conf" >/dev/null || die "resolv.conf does not name $HOST"
stop edged-edge1 TERM
same_as_orig "after a kill, a start and SIGTERM"

log "edged killed, then edged --down: the original back"
start edged-edge1 "$NS_E1" "${with_resolv[@]}" "$EDGED" -c "$EG_DIR/edge1.yaml" -v
wait_for 10 "the handshake (ping $HOST)" e1 ping -c1 -W1 "$HOST"
stop edged-edge1 KILL || true
e1 "${with_resolv[@]}" "$EDGED" --down -c "$EG_DIR/edge1.yaml"
same_as_orig "after --down"
[[ ! -e $EG_DIR/state-edge1/resolv.conf ]] || die "--down left the saved original"
[[ $(resolve) == 192.0.2.66 ]] || die "the LAN's resolver does not answer after --down"
echo PASS
