#!/usr/bin/env python3
"""Junk for a control socket (tunnel/ctl.h), for t_control.sh.

  ctljunk.py --socket PATH [--count N] [--seed S] [--idle-max SECONDS]

Sends N junk requests, cycling through ten kinds: malformed JSON, not an
object, an unknown command, a command of the wrong type, an oversized
message (200 KB, past the 128 KiB limit), an idle connection that sends
nothing, random bytes, an empty message, args of the wrong type, and a
request with three descriptors attached. Every one but the idle ones must
get one error reply ({"ok": false, "error": ...}); every idle one must be
closed by the server within --idle-max seconds (it is held open meanwhile,
at most ten at once). Prints one line:

  junk N: errors E, dropped D (after A.B-C.D s), unexpected U

and exits 1 when U is not 0, with what was unexpected on stderr."""
import argparse
import array
import json
import os
import random
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    s.settimeout(5)
    s.connect(path)
    return s


def reply(s):
    """The one message a refused request gets; a refusal before reading
    leaves ECONNRESET ahead of it, reported once."""
    for _ in range(2):
        try:
            return s.recv(1 << 18)
        except ConnectionResetError:
            continue
    return b""


def junk(kind, rng):
    if kind == 0:
        return b'{"cmd": "status"'
    if kind == 1:
        return b"[1, 2, 3]"
    if kind == 2:
        return b'{"cmd": "no-such-command"}'
    if kind == 3:
        return b'{"cmd": 5}'
    if kind == 4:
        return b'{"cmd":"status","args":{"x":"' + b"x" * 200000 + b'"}}'
    if kind == 6:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
    if kind == 7:
        return b""
    if kind == 8:
        return b'{"cmd": "status", "args": []}'
    return b'{"cmd": "status"}'  # kind 9: with three descriptors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--idle-max", type=float, default=10)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    errors = dropped = 0
    unexpected = []
    idle = []  # (socket, connected at)
    waits = []

    def drain_idle(keep):
        nonlocal dropped
        while len(idle) > keep:
            s, t0 = idle.pop(0)
            s.settimeout(max(0.1, t0 + a.idle_max - time.monotonic()))
            try:
                data = reply(s)
            except OSError:
                unexpected.append("an idle connection was not dropped in %.1f s" % a.idle_max)
                s.close()
                continue
            if data:
                unexpected.append("an idle connection got %r" % data[:80])
            else:
                dropped += 1
                waits.append(time.monotonic() - t0)
            s.close()

    def one(kind):
        nonlocal errors
        s = connect(a.socket)
        if kind == 5:
            idle.append((s, time.monotonic()))
            drain_idle(10)
            return
        msg = junk(kind, rng)
        if kind == 9:
            fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(3)]
            s.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            for fd in fds:
                os.close(fd)
        else:
            s.send(msg)
        data = reply(s)
        s.close()
        try:
            r = json.loads(data)
            ok = r.get("ok") is False and isinstance(r.get("error"), str) and r.get("more") is False
        except ValueError:
            ok = False
        if ok:
            errors += 1
        else:
            unexpected.append("junk of kind %d got %r" % (kind, data[:80]))

    for i in range(a.count):
        kind = i % 10
        try:
            one(kind)
        except OSError as e:  # a timeout, mostly: the server did not answer
            unexpected.append("junk of kind %d: %s" % (kind, e))
    drain_idle(0)
    span = "after %.1f-%.1f s" % (min(waits), max(waits)) if waits else "none"
    print("junk %d: errors %d, dropped %d (%s), unexpected %d"
          % (a.count, errors, dropped, span, len(unexpected)))
    for u in unexpected[:10]:
        print("  " + u, file=sys.stderr)
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
