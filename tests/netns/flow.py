#!/usr/bin/env python3
"""Long-lived flows for t_ct_kill.sh and t_policy_limits.sh, one process per end.

  flow.py sink ADDR PORT FILE   accept one TCP connection on ADDR:PORT and
                                keep FILE holding the number of bytes it
                                has received so far (rewritten whole)
  flow.py source ADDR PORT      connect to ADDR:PORT and send 1 KiB every
                                20 ms until the connection fails
  flow.py udp-echo ADDR PORT    answer every datagram with itself
  flow.py udp-once ADDR PORT    one datagram, one answer within 2 s: exit 0,
                                else 1
  flow.py hold-all ADDR PORT    accept every TCP connection on ADDR:PORT and
                                hold it open, sending nothing, until its
                                peer closes it
  flow.py hold ADDR PORT        connect to ADDR:PORT within 3 s and say
                                "connected", then hold the connection until
                                killed or the peer closes it (exit 0); say
                                why and exit 1 when the connect fails

ADDR is an IPv4 or IPv6 address."""
import os
import select
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def put(path, n):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % n)
    os.replace(tmp, path)


def sink(addr, port, path):
    ls = socket.socket(family(addr), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1)
    put(path, 0)
    conn, _ = ls.accept()
    total = 0
    while True:
        data = conn.recv(65536)
        if not data:
            return 0
        total += len(data)
        put(path, total)


def source(addr, port):
    s = socket.create_connection((addr, port), timeout=5)
    s.settimeout(None)
    chunk = b"x" * 1024
    while True:
        s.sendall(chunk)
        time.sleep(0.02)


def udp_echo(addr, port):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(65536)
        s.sendto(data, peer)


def udp_once(addr, port):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(b"ping", (addr, port))
    try:
        return 0 if s.recv(64) == b"ping" else 1
    except socket.timeout:
        return 1


def hold_all(addr, port):
    ls = socket.socket(family(addr), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(64)
    held = []
    while True:
        ready, _, _ = select.select([ls] + held, [], [])
        for s in ready:
            if s is ls:
                held.append(ls.accept()[0])
            elif not s.recv(4096):
                held.remove(s)
                s.close()


def hold(addr, port):
    try:
        s = socket.create_connection((addr, port), timeout=3)
    except OSError as e:
        print("not connected: %s" % e, flush=True)
        return 1
    print("connected from port %d" % s.getsockname()[1], flush=True)
    s.settimeout(None)
    while s.recv(4096):
        pass
    return 0


def main(argv):
    if len(argv) == 5 and argv[1] == "sink":
        return sink(argv[2], int(argv[3]), argv[4])
    if len(argv) == 4 and argv[1] == "source":
        return source(argv[2], int(argv[3]))
    if len(argv) == 4 and argv[1] == "udp-echo":
        return udp_echo(argv[2], int(argv[3]))
    if len(argv) == 4 and argv[1] == "udp-once":
        return udp_once(argv[2], int(argv[3]))
    if len(argv) == 4 and argv[1] == "hold-all":
        return hold_all(argv[2], int(argv[3]))
    if len(argv) == 4 and argv[1] == "hold":
        return hold(argv[2], int(argv[3]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
