#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Slow clients for bench/serve.sh: open N connections that trickle a request
one byte per second (half stuck in the headers, half in a body), hold them for
SECONDS, then close them. Prints "ready" once all are open.

usage: serve_slow.py HOST PORT N SECONDS"""
import socket
import sys
import time

host, port, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
socks = []
for i in range(n):
    s = socket.create_connection((host, port))
    if i % 2:
        s.sendall(b"POST /v1/results HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    else:
        s.sendall(b"POST /v1/results HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                  b"Content-Length: 100000\r\n\r\n--b\r\n")
    socks.append(s)
print("ready", flush=True)
end = time.time() + seconds
while time.time() < end:
    for s in socks:
        try:
            s.send(b"a")
        except OSError:
            pass
    time.sleep(1)
for s in socks:
    s.close()
