#!/usr/bin/env python3
"""The far ends of t_offload.sh's transfers.

offpeer.py sink PORT
    A TCP server on [::]:PORT (IPv4 too): for each connection, reads to the
    end and prints "SHA256 BYTES" on a line of its own.
offpeer.py udp-recv PORT COUNT SIZE
    Receives datagrams on [::]:PORT until COUNT arrived or none came for 3 s;
    each must be SIZE bytes of the pattern of its sequence number (its first
    4 bytes). Prints "udp: R of COUNT datagrams, B bad", exit 0 when none was
    bad and at least 90% arrived.
offpeer.py udp-send HOST PORT COUNT SIZE
    Sends COUNT such datagrams to HOST:PORT in sends of 32 with UDP_SEGMENT
    (one system call and one superpacket of up to 32 datagrams each), paced
    so that a receiver on the same two cores keeps up.
"""
import hashlib
import socket
import struct
import sys
import time

UDP_SEGMENT = 103


def pattern(seq, size):
    head = struct.pack("!I", seq)
    body = bytes((seq + i) & 0xFF for i in range(size - 4))
    return head + body


def sink(port):
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.bind(("::", port))
    srv.listen(4)
    print("listening", flush=True)
    while True:
        conn, _ = srv.accept()
        h, n = hashlib.sha256(), 0
        while True:
            b = conn.recv(1 << 20)
            if not b:
                break
            h.update(b)
            n += len(b)
        conn.close()
        print(h.hexdigest(), n, flush=True)


def udp_recv(port, count, size):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("::", port))
    print("listening", flush=True)
    seen, bad = set(), 0
    s.settimeout(30)  # the sender starts after us
    while len(seen) < count:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        s.settimeout(3)
        if len(d) != size or d != pattern(struct.unpack("!I", d[:4])[0], size):
            bad += 1
            continue
        seen.add(struct.unpack("!I", d[:4])[0])
    print("udp: %d of %d datagrams, %d bad" % (len(seen), count, bad), flush=True)
    return 0 if bad == 0 and len(seen) >= count * 0.9 else 1


def udp_send(host, port, count, size):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_UDP, UDP_SEGMENT, size)
    for first in range(0, count, 32):
        n = min(32, count - first)
        s.sendto(b"".join(pattern(first + i, size) for i in range(n)), (host, port))
        time.sleep(0.002)
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "sink":
        sink(int(sys.argv[2]))
    elif cmd == "udp-recv":
        return udp_recv(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "udp-send":
        return udp_send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit("offpeer.py: unknown command " + cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
