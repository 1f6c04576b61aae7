#!/usr/bin/env bash
# The forward chain's two guards around the tunnel:
#   - nothing from outside opens a flow into the tunnel: the internet router,
#     given a route to the tunnel subnet via the gateway, can neither ping an
#     edge's tunnel address nor reach a server listening on it, while the
#     edge's own connections outwards still work;
#   - a packet from the tunnel that conntrack cannot place (TCP with SYN and
#     FIN both set) is dropped, rather than skipping the masquerade and
#     reaching the internet with its tunnel source address.
set -euo pipefail
# shellcheck source=tests/netns/lib.sh
source "$(dirname "$0")/lib.sh"
need_binaries

EDGE=$(tun_addr edge1)

topology
web_start
tunnel_up edge1

# forward_packets TEXT: the packet count of gatewayd's first forward rule
# whose text has TEXT.
forward_packets() {
	gw nft list chain inet egress forward |
		awk -v want="$1" 'index($0, want) { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1); exit }'
}

log "a server on edge1's tunnel address, and the internet router routing to it"
start edge-web "$NS_E1" python3 -m http.server --bind "$EDGE" 8080
wait_for 10 "edge1's server" listening "$NS_E1" tcp "$EDGE:8080"
e1 curl -sS -o /dev/null --max-time 5 "http://$EDGE:8080/" # it answers locally
inet ip route add 100.64.0.0/24 via "$GW_PUBLIC"

log "from outside, neither ping nor TCP gets into the tunnel"
if inet ping -c2 -i0.2 -W1 "$EDGE"; then
	die "the internet router pinged $EDGE through the gateway"
fi
if inet curl -sS -o /dev/null --max-time 3 "http://$EDGE:8080/"; then
	die "the internet router reached edge1's server through the gateway"
fi
echo "dropped into the tunnel: $(forward_packets "oifname \"$TUN_IF\" counter") packets"
atleast 1 forward_packets "oifname \"$TUN_IF\" counter" || die "the drop rule counted nothing"

log "edge1's own flows outwards still work, replies included"
e1 curl -sSf -o /dev/null --max-time 10 "http://$HOST/index.html"
e1 ping -q -c2 -i0.2 -W2 "$HOST"

log "edge1 sends TCP with SYN and FIN set; the host watches for tunnel sources"
start tcpdump-host "$NS_HOST" tcpdump -i eth0 -n -l --immediate-mode -Q in src net 100.64.0.0/24
wait_for 10 "tcpdump in the host" grep -q "listening on" "$EG_DIR/tcpdump-host.log"
e1 python3 - "$EDGE" "$HOST" <<'PY'
import socket, struct, sys

src, dst = sys.argv[1], sys.argv[2]

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF

s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
for port in range(40000, 40005):
    # source port, destination 80, seq, ack, offset 5 words, flags SYN|FIN
    hdr = struct.pack("!HHIIBBHHH", port, 80, 1, 0, 5 << 4, 0x03, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
    hdr = hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]
    s.sendto(hdr, (dst, 0))
PY
wait_for 5 "the invalid-state drop to count 5" atleast 5 forward_packets "ct state invalid counter"
sleep 0.5
echo "dropped as invalid: $(forward_packets "ct state invalid counter") packets"
if grep -q " > $HOST" "$EG_DIR/tcpdump-host.log"; then
	cat "$EG_DIR/tcpdump-host.log"
	die "packets with a tunnel source address reached the internet host"
fi
running gatewayd || die "gatewayd is gone"

echo PASS
