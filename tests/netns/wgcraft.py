#!/usr/bin/env python3
"""Hand-made WireGuard datagrams for the netns tests (stdlib only).

  flood    handshake initiations with random contents and a valid mac1, sent
           round-robin from many source addresses at a fixed average rate,
           in bursts sent back to back (so they queue up at the gateway the
           way a flood beyond its CPU does); counts the cookie replies
  garbage  random datagrams of random lengths, some shaped like WireGuard
           messages (type byte 1..4, three zero bytes, the exact lengths);
           then listens and counts the replies, of which there should be none
  capture  AF_PACKET capture of the UDP payloads of data messages (type 4)
           sent to a port, one hex line each
  replay   sends captured payloads again, from wherever it runs

Every command is bounded in count and time and prints one summary line of
"key value" pairs that the shell tests compare.
"""

import argparse
import base64
import hashlib
import os
import random
import select
import socket
import struct
import sys
import time

MSG_INIT, MSG_RESPONSE, MSG_COOKIE, MSG_DATA = 1, 2, 3, 4
INIT_LEN, RESPONSE_LEN, COOKIE_LEN, DATA_MIN_LEN = 148, 92, 64, 32


def endpoint(s):
    """"IP:PORT" or "[IPv6]:PORT" -> (family, (host, port))."""
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"'{s}' is not IP:PORT")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, (host, int(port))


def mac1_key(pub_b64):
    pub = base64.b64decode(pub_b64, validate=True)
    if len(pub) != 32:
        raise SystemExit(f"wgcraft: '{pub_b64}' is not a 32-byte public key")
    return hashlib.blake2s(b"mac1----" + pub).digest()


def initiation(rng, key):
    """An initiation nobody can answer: random sender, ephemeral, encrypted
    static and timestamp, then a mac1 the gateway accepts and no mac2."""
    body = struct.pack("<B3xI", MSG_INIT, rng.getrandbits(32)) + rng.randbytes(32 + 48 + 28)
    mac1 = hashlib.blake2s(body, key=key, digest_size=16).digest()
    return body + mac1 + bytes(16)


def sources(spec):
    """A file of addresses (one a line, '#' comments) or a comma-separated list."""
    if os.path.exists(spec):
        with open(spec) as f:
            lines = [ln.split("#")[0].strip() for ln in f]
        return [a for a in lines if a]
    return [a.strip() for a in spec.split(",") if a.strip()]


def drain(socks, counts):
    """Read whatever has arrived on the sockets without waiting."""
    while True:
        ready, _, _ = select.select(socks, [], [], 0)
        if not ready:
            return
        for s in ready:
            try:
                data = s.recv(2048)
            except OSError:
                continue
            counts[data[0] if data else 0] = counts.get(data[0] if data else 0, 0) + 1


def cmd_flood(a):
    family, to = a.to
    key = mac1_key(a.gateway_pub)
    addrs = sources(a.sources_from)
    if not addrs:
        raise SystemExit("wgcraft: no source addresses")
    socks = []
    for addr in addrs:
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.bind((addr, 0))
        s.setblocking(False)
        socks.append(s)
    rng = random.Random(a.seed)
    replies = {}
    sent = errors = 0
    start = time.monotonic()
    deadline = start + a.count / a.rate + 10  # whatever happens, stop then
    print(f"flooding {to[0]}:{to[1]} from {len(socks)} addresses, "
          f"{a.count} initiations at {a.rate}/s in bursts of {a.burst}", flush=True)
    for i in range(a.count):
        # Each burst paced against the start time, so a slow one does not
        # drift; within a burst, no pause at all.
        if i % a.burst == 0:
            delay = start + i / a.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if time.monotonic() > deadline:
            break
        try:
            socks[i % len(socks)].sendto(initiation(rng, key), to)
            sent += 1
        except OSError:
            errors += 1
        if i % 64 == 0:
            drain(socks, replies)
    time.sleep(0.5)
    drain(socks, replies)
    other = sum(n for t, n in replies.items() if t != MSG_COOKIE)
    print(f"sent {sent} errors {errors} sources {len(socks)} "
          f"cookies {replies.get(MSG_COOKIE, 0)} other {other} "
          f"seconds {time.monotonic() - start:.1f}", flush=True)
    return 0


def garbage_datagram(rng):
    """Mostly noise; a third of it shaped like a real message header."""
    r = rng.random()
    if r < 0.66:
        return rng.randbytes(rng.randint(0, 1500))
    kind = rng.randint(MSG_INIT, MSG_DATA)
    exact = {MSG_INIT: INIT_LEN, MSG_RESPONSE: RESPONSE_LEN, MSG_COOKIE: COOKIE_LEN}
    if kind == MSG_DATA:
        length = rng.choice([DATA_MIN_LEN, DATA_MIN_LEN + 16, rng.randint(DATA_MIN_LEN, 1500)])
    elif rng.random() < 0.8:
        length = exact[kind]
    else:  # one byte off, either way
        length = exact[kind] + rng.choice([-1, 1])
    head = struct.pack("<B3x", kind)
    return (head + rng.randbytes(max(length - 4, 0)))[:length]


def cmd_garbage(a):
    family, to = a.to
    rng = random.Random(a.seed)
    s = socket.socket(family, socket.SOCK_DGRAM)
    if a.source:
        s.bind((a.source, 0))
    sent = errors = 0
    start = time.monotonic()
    for i in range(a.count):
        if time.monotonic() - start > 60:
            break
        try:
            s.sendto(garbage_datagram(rng), to)
            sent += 1
        except OSError:
            errors += 1
        # A short pause every so often: the receiver's socket buffer should
        # see all of it, not drop most of it on the floor.
        if i % 200 == 199:
            time.sleep(0.01)
    replies = 0
    end = time.monotonic() + a.listen
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([s], [], [], left)
        if ready:
            try:
                s.recv(2048)
                replies += 1
            except OSError:  # an ICMP error reported on the socket
                pass
    print(f"seed {a.seed} sent {sent} errors {errors} replies {replies}", flush=True)
    return 0


def udp_payload(frame):
    """(dst port, payload) of an Ethernet frame carrying IPv4/IPv6 UDP, or None."""
    if len(frame) < 14:
        return None
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    off = 14
    if ethertype == 0x8100 and len(frame) >= 18:  # one VLAN tag
        (ethertype,) = struct.unpack_from("!H", frame, 16)
        off = 18
    if ethertype == 0x0800:
        if len(frame) < off + 20:
            return None
        ihl = (frame[off] & 0x0F) * 4
        (total,) = struct.unpack_from("!H", frame, off + 2)
        (frag,) = struct.unpack_from("!H", frame, off + 6)
        if frame[off + 9] != 17 or frag & 0x3FFF or ihl < 20:
            return None
        ip_end = off + total
        off += ihl
    elif ethertype == 0x86DD:
        if len(frame) < off + 40:
            return None
        (plen,) = struct.unpack_from("!H", frame, off + 4)
        if frame[off + 6] != 17:  # no extension headers in these tests
            return None
        ip_end = off + 40 + plen
        off += 40
    else:
        return None
    if len(frame) < off + 8 or ip_end > len(frame):
        return None
    _, dport, ulen = struct.unpack_from("!HHH", frame, off)
    if ulen < 8 or off + ulen > ip_end:
        return None
    return dport, frame[off + 8 : off + ulen]


def cmd_capture(a):
    ETH_P_ALL = 0x0003
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.iface, 0))
    got = []
    print(f"capturing on {a.iface}, udp port {a.port}", flush=True)
    end = time.monotonic() + a.timeout
    while len(got) < a.count:
        left = end - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([s], [], [], left)
        if not ready:
            continue
        frame = s.recv(65536)
        pl = udp_payload(frame)
        if pl is None or pl[0] != a.port:
            continue
        data = pl[1]
        if len(data) >= DATA_MIN_LEN and data[0] == MSG_DATA and data[1:4] == b"\0\0\0":
            got.append(data)
    with open(a.out, "w") as f:
        for d in got:
            f.write(d.hex() + "\n")
    print(f"captured {len(got)}", flush=True)
    return 0 if len(got) == a.count else 1


def cmd_replay(a):
    family, to = a.to
    with open(a.infile) as f:
        msgs = [bytes.fromhex(ln.strip()) for ln in f if ln.strip()]
    s = socket.socket(family, socket.SOCK_DGRAM)
    if a.source:
        s.bind((a.source, 0))
    sent = 0
    for _ in range(a.times):
        for m in msgs:
            s.sendto(m, to)
            sent += 1
            time.sleep(a.interval)
    print(f"replayed {sent}", flush=True)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    f = sub.add_parser("flood", help="initiations with a valid mac1 from many addresses")
    f.add_argument("--gateway-pub", required=True, help="the gateway's public key, base64")
    f.add_argument("--to", required=True, type=endpoint, help="IP:PORT")
    f.add_argument("--sources-from", required=True, help="file or comma-separated list")
    f.add_argument("--count", type=int, default=1000)
    f.add_argument("--rate", type=float, default=300, help="initiations per second")
    f.add_argument("--burst", type=int, default=1, help="initiations sent back to back")
    f.add_argument("--seed", type=int, default=None)
    f.set_defaults(func=cmd_flood)

    g = sub.add_parser("garbage", help="random datagrams, then count the replies")
    g.add_argument("--to", required=True, type=endpoint)
    g.add_argument("--count", type=int, default=10000)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--source", help="bind to this address")
    g.add_argument("--listen", type=float, default=2.0, help="seconds to wait for replies")
    g.set_defaults(func=cmd_garbage)

    c = sub.add_parser("capture", help="payloads of data messages to a UDP port")
    c.add_argument("--iface", required=True)
    c.add_argument("--port", required=True, type=int)
    c.add_argument("--count", type=int, default=10)
    c.add_argument("--out", required=True)
    c.add_argument("--timeout", type=float, default=20, help="give up after this many seconds")
    c.set_defaults(func=cmd_capture)

    r = sub.add_parser("replay", help="send captured payloads again")
    r.add_argument("--in", dest="infile", required=True)
    r.add_argument("--to", required=True, type=endpoint)
    r.add_argument("--source", help="bind to this address")
    r.add_argument("--times", type=int, default=1, help="send the whole capture this many times")
    r.add_argument("--interval", type=float, default=0.01, help="seconds between datagrams")
    r.set_defaults(func=cmd_replay)

    a = p.parse_args()
    for name in ("count", "rate", "times", "burst"):
        if getattr(a, name, 1) <= 0:
            p.error(f"--{name} must be positive")
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
