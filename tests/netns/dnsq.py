#!/usr/bin/env python3
"""dnsq.py SERVER NAME: one DNS query for NAME's A record, over UDP to SERVER
port 53, and what came of it, on stdout:
  an address    the first A record of the answer
  nothing       an answer without one
  refused       sendto() failed at once (EPERM: a firewall's output hook)
  silent        no answer within 2 s
For the DNS tests: dig is not on every machine, and a getent cannot name its
server."""
import socket
import struct
import sys


def main():
    server, name = sys.argv[1], sys.argv[2]
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    query = struct.pack("!HHHHHH", 0x4567, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(query, (server, 53))
    except PermissionError:
        print("refused")
        return
    try:
        reply = s.recv(4096)
    except socket.timeout:
        print("silent")
        return
    # the header, the question as sent, then answers with compressed names
    ancount = struct.unpack("!H", reply[6:8])[0]
    off = 12 + len(qname) + 4
    for _ in range(ancount):
        if reply[off] & 0xC0 == 0xC0:
            off += 2
        else:
            while reply[off]:
                off += reply[off] + 1
            off += 1
        rtype, _, _, rdlen = struct.unpack("!HHIH", reply[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            print(socket.inet_ntoa(reply[off:off + 4]))
            return
        off += rdlen
    print("nothing")


main()
