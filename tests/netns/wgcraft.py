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
  data     a real handshake as one of the gateway's clients (its private key
           given), then data messages carrying IPv4 echo requests of the
           given total lengths, whatever the MTU; counts which got a reply

The cryptography (X25519, ChaCha20-Poly1305, BLAKE2s with HMAC) is written
out here after RFC 7748, RFC 8439 and the WireGuard paper, slow and not
constant-time: a test's tool, for a handful of messages.

Every command is bounded in count and time and prints one summary line of
"key value" pairs that the shell tests compare.
"""

import argparse
import base64
import hashlib
import hmac
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


# --- the protocol's cryptography, for cmd_data -------------------------------

M32 = 0xFFFFFFFF
P25519 = 2**255 - 19


def x25519(k, u):
    """RFC 7748 scalar multiplication on Curve25519: k (32 bytes) times the
    point with u-coordinate u (32 bytes)."""
    k = bytearray(k)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    k = int.from_bytes(k, "little")
    x1 = int.from_bytes(u, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        bit = (k >> t) & 1
        if swap ^ bit:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % P25519, (x2 - z2) % P25519
        aa, bb = a * a % P25519, b * b % P25519
        e = (aa - bb) % P25519
        c, d = (x3 + z3) % P25519, (x3 - z3) % P25519
        da, cb = d * a % P25519, c * b % P25519
        x3, z3 = (da + cb) ** 2 % P25519, x1 * (da - cb) ** 2 % P25519
        x2, z2 = aa * bb % P25519, e * (aa + 121665 * e) % P25519
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P25519 - 2, P25519) % P25519).to_bytes(32, "little")


def x25519_pub(priv):
    return x25519(priv, (9).to_bytes(32, "little"))


def _rotl(v, c):
    return ((v << c) & M32) | (v >> (32 - c))


def _quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & M32
    s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & M32
    s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & M32
    s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & M32
    s[b] = _rotl(s[b] ^ s[c], 7)


def chacha20_block(key, counter, nonce):
    init = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    init += list(struct.unpack("<8I", key)) + [counter] + list(struct.unpack("<3I", nonce))
    w = init[:]
    for _ in range(10):
        _quarter(w, 0, 4, 8, 12)
        _quarter(w, 1, 5, 9, 13)
        _quarter(w, 2, 6, 10, 14)
        _quarter(w, 3, 7, 11, 15)
        _quarter(w, 0, 5, 10, 15)
        _quarter(w, 1, 6, 11, 12)
        _quarter(w, 2, 7, 8, 13)
        _quarter(w, 3, 4, 9, 14)
    return struct.pack("<16I", *((w[i] + init[i]) & M32 for i in range(16)))


def chacha20(key, counter, nonce, data):
    out = bytearray()
    for i in range(0, len(data), 64):
        chunk = data[i : i + 64]
        ks = chacha20_block(key, counter + i // 64, nonce)[: len(chunk)]
        x = int.from_bytes(chunk, "little") ^ int.from_bytes(ks, "little")
        out += x.to_bytes(len(chunk), "little")
    return bytes(out)


def poly1305(key, msg):
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:32], "little")
    p, acc = (1 << 130) - 5, 0
    for i in range(0, len(msg), 16):
        acc = (acc + int.from_bytes(msg[i : i + 16] + b"\x01", "little")) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def _aead_tag(key, nonce, ad, ct):
    pad = lambda b: bytes(-len(b) % 16)
    mac_data = ad + pad(ad) + ct + pad(ct) + struct.pack("<QQ", len(ad), len(ct))
    return poly1305(chacha20_block(key, 0, nonce)[:32], mac_data)


def aead_seal(key, counter, plain, ad):
    """ChaCha20-Poly1305 with WireGuard's nonce: 32 zero bits, a 64-bit
    little-endian counter."""
    nonce = bytes(4) + struct.pack("<Q", counter)
    ct = chacha20(key, 1, nonce, plain)
    return ct + _aead_tag(key, nonce, ad, ct)


def aead_open(key, counter, sealed, ad):
    """The plaintext, or None when the tag does not match."""
    if len(sealed) < 16:
        return None
    nonce = bytes(4) + struct.pack("<Q", counter)
    ct, tag = sealed[:-16], sealed[-16:]
    if not hmac.compare_digest(_aead_tag(key, nonce, ad, ct), tag):
        return None
    return chacha20(key, 1, nonce, ct)


def blake2s(*parts):
    h = hashlib.blake2s()
    for part in parts:
        h.update(part)
    return h.digest()


def kdf(key, data, n):
    """The paper's KDF_n: HKDF over HMAC-BLAKE2s, n 32-byte outputs."""
    prk = hmac.new(key, data, hashlib.blake2s).digest()
    out, t = [], b""
    for i in range(1, n + 1):
        t = hmac.new(prk, t + bytes([i]), hashlib.blake2s).digest()
        out.append(t)
    return out


def tai64n():
    now = time.time_ns()
    return struct.pack(">QI", 0x400000000000000A + now // 10**9, now % 10**9)


class Initiator:
    """Noise_IKpsk2 as WireGuard's initiator: initiation() gives the first
    message, response() takes the gateway's answer and derives the transport
    keys."""

    def __init__(self, priv, peer_pub, psk=bytes(32)):
        self.priv, self.pub, self.peer_pub, self.psk = priv, x25519_pub(priv), peer_pub, psk
        self.index = struct.unpack("<I", os.urandom(4))[0]
        self.remote_index = self.send_key = self.recv_key = None
        self.send_counter = 0

    def initiation(self):
        c = blake2s(b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s")
        h = blake2s(blake2s(c, b"WireGuard v1 zx2c4 Jason@zx2c4.com"), self.peer_pub)
        self.e_priv = os.urandom(32)
        e_pub = x25519_pub(self.e_priv)
        (c,) = kdf(c, e_pub, 1)
        h = blake2s(h, e_pub)
        c, k = kdf(c, x25519(self.e_priv, self.peer_pub), 2)
        static = aead_seal(k, 0, self.pub, h)
        h = blake2s(h, static)
        c, k = kdf(c, x25519(self.priv, self.peer_pub), 2)
        stamp = aead_seal(k, 0, tai64n(), h)
        self.c, self.h = c, blake2s(h, stamp)
        msg = struct.pack("<B3xI", MSG_INIT, self.index) + e_pub + static + stamp
        mac1 = hashlib.blake2s(msg, key=mac1_key_raw(self.peer_pub), digest_size=16).digest()
        return msg + mac1 + bytes(16)

    def response(self, msg):
        """True when msg is the answer to our initiation."""
        if len(msg) != RESPONSE_LEN or msg[0] != MSG_RESPONSE:
            return False
        sender, receiver = struct.unpack_from("<II", msg, 4)
        if receiver != self.index:
            return False
        e_r, empty = msg[12:44], msg[44:60]
        (c,) = kdf(self.c, e_r, 1)
        h = blake2s(self.h, e_r)
        (c,) = kdf(c, x25519(self.e_priv, e_r), 1)
        (c,) = kdf(c, x25519(self.priv, e_r), 1)
        c, tau, k = kdf(c, self.psk, 3)
        h = blake2s(h, tau)
        if aead_open(k, 0, empty, h) != b"":
            return False
        self.send_key, self.recv_key = kdf(c, b"", 2)
        self.remote_index = sender
        return True

    def seal(self, packet):
        """A data message carrying packet, padded to a multiple of 16."""
        counter = self.send_counter
        self.send_counter += 1
        body = packet + bytes(-len(packet) % 16)
        head = struct.pack("<B3xIQ", MSG_DATA, self.remote_index, counter)
        return head + aead_seal(self.send_key, counter, body, b"")

    def open(self, msg):
        """The plaintext of a data message to us (b"" for a keepalive), or None."""
        if len(msg) < DATA_MIN_LEN or msg[0] != MSG_DATA:
            return None
        receiver, counter = struct.unpack_from("<IQ", msg, 4)
        if receiver != self.index:
            return None
        return aead_open(self.recv_key, counter, msg[16:], b"")


def mac1_key_raw(pub):
    return hashlib.blake2s(b"mac1----" + pub).digest()


def inet_csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def echo_request(src, dst, total, ident, seq):
    """An IPv4 ICMP echo request of total bytes, DF set, checksums right."""
    data = bytes((seq + i) & 0xFF for i in range(total - 28))
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    icmp = icmp[:2] + struct.pack("!H", inet_csum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, seq, 0x4000, 64, 1, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", inet_csum(ip)) + ip[12:]
    return ip + icmp


def echo_reply_seq(packet, ident):
    """The sequence number of an IPv4 echo reply with this identifier, or None."""
    if len(packet) < 28 or packet[0] >> 4 != 4 or packet[9] != 1:
        return None
    off = (packet[0] & 0x0F) * 4
    if len(packet) < off + 8 or packet[off] != 0:
        return None
    rid, seq = struct.unpack_from("!HH", packet, off + 4)
    return seq if rid == ident else None


def read_key(path):
    with open(path) as f:
        key = base64.b64decode(f.read().strip(), validate=True)
    if len(key) != 32:
        raise SystemExit(f"wgcraft: {path} holds no 32-byte key")
    return key


def cmd_data(a):
    family, to = a.to
    peer_pub = base64.b64decode(a.gateway_pub, validate=True)
    psk = read_key(a.psk) if a.psk else bytes(32)
    sizes = [int(x) for x in a.sizes.split(",")]
    if any(not 28 <= n <= 65535 for n in sizes):
        raise SystemExit("wgcraft: each size must be 28..65535 (an IPv4 echo request)")
    wg = Initiator(read_key(a.key), peer_pub, psk)
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    done = False
    deadline = time.monotonic() + a.timeout
    while not done and time.monotonic() < deadline:
        s.sendto(wg.initiation(), to)
        resend = time.monotonic() + 1
        while not done and time.monotonic() < min(resend, deadline):
            try:
                done = wg.response(s.recv(2048))
            except socket.timeout:
                pass
    if not done:
        print("handshake 0 sent 0 replied none", flush=True)
        return 1
    ident = os.getpid() & 0xFFFF
    for seq, size in enumerate(sizes):
        s.sendto(wg.seal(echo_request(a.src, a.dst, size, ident, seq)), to)
        time.sleep(a.interval)
    replied = set()
    end = time.monotonic() + a.listen
    while time.monotonic() < end:
        try:
            plain = wg.open(s.recv(65536))
        except socket.timeout:
            continue
        seq = echo_reply_seq(plain, ident) if plain else None
        if seq is not None and seq < len(sizes):
            replied.add(seq)
    got = ",".join(str(sizes[i]) for i in sorted(replied)) or "none"
    print(f"handshake 1 sent {len(sizes)} replied {got}", flush=True)
    return 0


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

    d = sub.add_parser("data", help="a handshake, then echo requests of the given lengths")
    d.add_argument("--gateway-pub", required=True, help="the gateway's public key, base64")
    d.add_argument("--key", required=True, help="file: the client's private key, base64")
    d.add_argument("--psk", help="file: the client's preshared key, base64")
    d.add_argument("--to", required=True, type=endpoint, help="IP:PORT")
    d.add_argument("--src", required=True, help="the inner packets' IPv4 source")
    d.add_argument("--dst", required=True, help="their IPv4 destination")
    d.add_argument("--sizes", required=True, help="total lengths, comma-separated, in order")
    d.add_argument("--interval", type=float, default=0.1, help="seconds between packets")
    d.add_argument("--timeout", type=float, default=5, help="seconds for the handshake")
    d.add_argument("--listen", type=float, default=2, help="seconds to wait for replies")
    d.set_defaults(func=cmd_data)

    a = p.parse_args()
    for name in ("count", "rate", "times", "burst"):
        if getattr(a, name, 1) <= 0:
            p.error(f"--{name} must be positive")
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
