#!/usr/bin/env python3
"""New TCP connections per second, for scripts/bench.sh.

  connrate.py serve ADDR PORT          accept and close, forever
  connrate.py run ADDR PORT SECONDS N  N workers connect and close as fast as
                                       they can; prints connections/second

Each connection is a full handshake and close, so every one is a new
conntrack entry and a trip through the gateway's per-client policy chain.
"""
import multiprocessing
import signal
import socket
import sys
import time


def serve(addr, port):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1024)
    while True:
        c, _ = s.accept()
        c.close()


def worker(addr, port, seconds, out):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    end = time.monotonic() + seconds
    count = errors = 0
    while time.monotonic() < end:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(2)
        # RST on close: no TIME_WAIT pile-up on the client's ports
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        try:
            s.connect((addr, port))
            count += 1
        except OSError:
            errors += 1
        finally:
            s.close()
    out.put((count, errors))


def run(addr, port, seconds, n):
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=worker, args=(addr, port, seconds, out))
             for _ in range(n)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    count = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    if errors > count / 100:
        sys.exit("connrate: %d of %d connections failed" % (errors, count + errors))
    print("%.0f" % (count / seconds))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 6 and sys.argv[1] == "run":
        run(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
