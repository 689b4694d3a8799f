#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Load generator for bench/serve.sh: C concurrent keep-alive clients post the
given photos to a faceverify server (multipart `image`, ?embeddings=true) for
REQUESTS requests in all, and print one JSON line: images/s, p50/p99 latency
(ms), errors. Standard library only (http.client keeps connections alive).

usage: serve_load.py BASE_URL CONCURRENCY REQUESTS PHOTO..."""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

base, concurrency, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
photos = sys.argv[4:]
u = urllib.parse.urlsplit(base)
bodies = []
for p in photos:
    data = open(p, "rb").read()
    b = b"----faceverify-bench"
    body = (b"--" + b + b"\r\nContent-Disposition: form-data; name=\"image\"; filename=\"" +
            os.path.basename(p).encode() + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n" + data +
            b"\r\n--" + b + b"--\r\n")
    bodies.append(body)
ctype = "multipart/form-data; boundary=----faceverify-bench"
lock = threading.Lock()
next_index = [0]
latencies = []
errors = [0]


def worker():
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    while True:
        with lock:
            i = next_index[0]
            if i >= total:
                break
            next_index[0] += 1
        body = bodies[i % len(bodies)]
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/v1/results?embeddings=true", body=body,
                         headers={"Content-Type": ctype, "Content-Length": str(len(body))})
            r = conn.getresponse()
            payload = r.read()
            ok = r.status == 200 and b'"ok"' in payload[:200]
        except (OSError, http.client.HTTPException):
            ok = False
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        dt = (time.perf_counter() - t0) * 1000
        with lock:
            latencies.append(dt)
            if not ok:
                errors[0] += 1


start = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(concurrency)]
for t in threads:
    t.start()
for t in threads:
    t.join()
wall = time.perf_counter() - start
latencies.sort()


def pct(q):
    return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")


print(json.dumps({"concurrency": concurrency, "requests": total, "seconds": wall, "images_per_s": total / wall,
                  "p50_ms": pct(0.50), "p99_ms": pct(0.99), "errors": errors[0]}))
