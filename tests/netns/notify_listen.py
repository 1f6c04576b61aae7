#!/usr/bin/env python3
"""notify_listen.py PATH IFNAME CMD...: a fake NOTIFY_SOCKET for the units
test. Binds a datagram socket at PATH and prints every line of every
message that arrives, with whether IFNAME exists and is up at that moment
in this network namespace; on READY=1 it also runs CMD (a check that the
daemon's rules are in place) and prints its exit status. Runs until killed."""
import os
import socket
import subprocess
import sys


def iface_state(name):
    try:
        with open(f"/sys/class/net/{name}/flags") as f:
            return "up" if int(f.read(), 16) & 1 else "down"
    except FileNotFoundError:
        return "absent"


def main():
    path, ifname, check = sys.argv[1], sys.argv[2], sys.argv[3:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    print("listening", flush=True)
    while True:
        msg = s.recv(4096).decode(errors="replace")
        state = iface_state(ifname)
        for line in msg.split("\n"):
            if not line:
                continue
            extra = ""
            if line == "READY=1" and check:
                rc = subprocess.run(check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
                extra = f" check={rc}"
            print(f"{line} {ifname}={state}{extra}", flush=True)


main()
