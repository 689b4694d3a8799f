#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""faceverify serve end to end: the real binary, the real local backend, real
photos, and clients no one here wrote (curl, Python requests, written the way
API4AI's own samples are), plus the faceverify CLI itself through --api-url,
which must reach the same verdicts as --backend local.

Usage: check_serve_e2e.py FACEVERIFY_BINARY SHARED_DIR CASE
CASE: protocol | cli | lifecycle | urls. Exit 0 pass, 1 fail (one line why), 77 skip
(no models, unless FACEVERIFY_REQUIRE_MODELS is set)."""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

try:
    import requests
except ImportError:  # python3-requests is a test dependency (scripts/install-deps.sh)
    print("python3-requests is missing: apt-get install python3-requests")
    sys.exit(1)

BIN, SHARED, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
FACES = os.path.join(SHARED, "faces")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def env():
    e = dict(os.environ)
    for k in ("FACEVERIFY_BACKEND", "FACEVERIFY_THRESHOLD", "API4AI_KEY", "RAPIDAPI_KEY", "http_proxy",
              "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        e.pop(k, None)
    e["XDG_CONFIG_HOME"] = tempfile.mkdtemp()
    e["XDG_CACHE_HOME"] = tempfile.mkdtemp()
    e["NO_PROXY"] = "*"
    return e


class Server:
    def __init__(self, *args):
        listen = [] if "--listen" in args else ["--listen", "127.0.0.1:0"]
        self.proc = subprocess.Popen([BIN, "serve", *listen, *args], stderr=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env())
        self.lines = []
        self.url = None
        deadline = time.time() + 120
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            m = re.match(r"faceverify: serving http://([0-9.]+):(\d+) \(local backend, \d+ workers?\)$",
                         line.rstrip("\n"))
            if m:
                host = "127.0.0.1" if m.group(1) == "0.0.0.0" else m.group(1)
                self.url = "http://%s:%s" % (host, m.group(2))
                return
        self.proc.wait(timeout=10)
        err = "\n".join(self.lines)
        if "install-models" in err and not os.environ.get("FACEVERIFY_REQUIRE_MODELS"):
            print("skip: the local backend's models are not installed")
            sys.exit(77)
        print("FAIL: the server did not get ready:", err)
        sys.exit(1)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=30)
        self.lines += err.splitlines()
        return self.proc.returncode, out


def faceverify(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=env(), timeout=300)
    return p.returncode, p.stdout, p.stderr


def labels():
    rows = []
    with open(os.path.join(FACES, "labels.csv")) as f:
        next(f)
        for line in f:
            name, ident = line.strip().split(",")[:2]
            rows.append((os.path.join(FACES, name), ident))
    return rows


def ordered(text):
    return json.loads(text, object_pairs_hook=lambda pairs: pairs)


def as_dict(pairs):
    return {k: v for k, v in pairs}


def flat_png(width, height, grey=128):
    """A valid PNG of one grey level: a photo with no face in it."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes([grey]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def case_protocol():
    s = Server("--workers", "2")
    photo = labels()[0][0]
    data = open(photo, "rb").read()
    # curl, the way API4AI's bash sample calls the service.
    p = subprocess.run(["curl", "-sS", "-D", "-", "-F", "image=@" + photo,
                        s.url + "/face-analyzer/v1/results?embeddings=true"], capture_output=True, text=True, env=env())
    check(p.returncode == 0, "curl -F image=@photo succeeds: " + p.stderr)
    text = p.stdout  # text mode: CRLF read as \n
    while text.startswith("HTTP/1.1 100"):  # curl's Expect: 100-continue for large photos
        text = text.partition("\n\n")[2]
    head, _, body = text.partition("\n\n")
    check(head.startswith("HTTP/1.1 200"), "curl gets 200: " + head[:40])
    check(re.search(r"(?im)^x-faceverify-models: [0-9a-f]{64}\r?$", head) is not None,
          "replies name the model set")
    reply = ordered(body)
    result = as_dict(as_dict(reply)["results"][0])
    keys = [k for k, _ in as_dict(reply)["results"][0]]
    check(keys == ["status", "name", "md5", "width", "height", "entities"], "result keys in the service's order: %s" % keys)
    check(as_dict(result["status"]) == {"code": "ok", "message": "Success"}, "status ok")
    check(result["name"] == os.path.basename(photo), "name is the multipart filename")
    check(result["md5"] == hashlib.md5(data).hexdigest(), "md5 of the uploaded bytes")
    detector = as_dict(result["entities"][0])
    check(detector["kind"] == "objects" and detector["name"] == "face-detector", "face-detector entity")
    faces = [as_dict(o) for o in detector["objects"]]
    check(len(faces) >= 1, "a face in " + photo)
    for face in faces:
        ents = [as_dict(e) for e in face["entities"]]
        check([(e["kind"], e["name"]) for e in ents] ==
              [("classes", "face"), ("namedpoints", "face-landmarks"), ("vector", "face-embeddings")],
              "per-face entities in the real order")
        check([k for k, _ in ents[1]["namedpoints"]] ==
              ["left-eye", "right-eye", "nose-tip", "mouth-left-corner", "mouth-right-corner"], "landmark names")
        check(len(ents[2]["vector"]) == 512, "512 values")

    # The same bytes as `faceverify embed --backend local`: same boxes, same embeddings.
    rc, out, err = faceverify("embed", "--backend", "local", photo)
    check(rc == 0, "embed --backend local: " + err)
    local_faces = json.loads(out.splitlines()[0])["faces"]
    served = json.loads(body)["results"][0]["entities"][0]["objects"]
    check(len(local_faces) == len(served), "same number of faces as embed --backend local")
    for lf, sf in zip(local_faces, served):
        check(max(abs(a - b) for a, b in zip(lf["box"], sf["box"])) < 1e-9, "same box")
        emb = lf["embedding"]
        check(max(abs(a - b) for a, b in zip(emb, sf["entities"][2]["vector"])) < 1e-6, "embeddings equal to 1e-6")

    # Python requests, as API4AI's sample.py writes it.
    url = s.url + "/v1/results"
    with open(photo, "rb") as f:
        r = requests.post(url, files={"image": f})
    check(r.status_code == 200 and r.json()["results"][0]["status"]["code"] == "ok", "requests files= gets ok")
    check(len(r.json()["results"][0]["entities"][0]["objects"][0]["entities"]) == 2,
          "no vector without embeddings=true")
    r = requests.post(url, files={"image": b"raw bytes, not an image"})
    check(r.status_code == 200 and r.json()["results"][0]["status"] == {"code": "failure", "message":
                                                                         "Can not load image."},
          "not an image: 200 failure 'Can not load image.'")
    check(r.json()["results"][0]["name"] == "image", "requests names a raw upload after its field")
    r = requests.post(url, files={"image": ("wall.png", flat_png(200, 150))})
    result = r.json()["results"][0]
    check(r.status_code == 200 and result["status"]["code"] == "ok" and
          result["entities"][0]["objects"] == [] and (result["width"], result["height"]) == (200, 150),
          "no face: 200, ok, zero objects: %s" % r.text[:200])
    r = requests.post(url, data={"url": "https://static.api4.ai/samples/face-analyzer-2.jpg"})
    msg = r.json()["results"][0]["status"]["message"]
    check(r.status_code == 200 and "--allow-url-fetch" in msg, "url input off by default: " + msg)
    r = requests.post(url, data={"nothing": "here"})
    check(r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "image"], "422 detail for no image")
    try:
        r = requests.post(url, files={"image": ("big.jpg", b"\xff\xd8\xff" + b"0" * (17 * 1024 * 1024))})
        check(r.status_code == 413, "requests gets the 413, not a reset: %d" % r.status_code)
    except requests.exceptions.ConnectionError as e:
        check(False, "requests got a connection error instead of 413: %s" % e)
    r = requests.get(s.url + "/face-analyzer/v1/version")
    check(r.status_code == 200 and re.fullmatch(r"v\d+\.\d+\.\d+", r.json() or ""), "version: " + r.text)
    r = requests.get(s.url + "/metrics")
    check("faceverify_requests_total" in r.text, "metrics")
    rc, _ = s.stop()
    check(rc == 0, "SIGTERM: exit 0, not %d" % rc)
    access = [l for l in s.lines if " POST /" in l]
    check(len(access) >= 6, "one access line per request: %d" % len(access))


def case_cli():
    s = Server("--workers", "2")
    rows = labels()
    same = [(a, b) for i, (a, ia) in enumerate(rows) for (b, ib) in rows[i + 1:] if ia == ib][:4]
    diff = [(a, b) for i, (a, ia) in enumerate(rows) for (b, ib) in rows[i + 1:] if ia != ib][:4]
    api = ["--api-url", s.url]
    for a, b in same + diff:
        rc_l, out_l, err_l = faceverify("--backend", "local", "--json", a, b)
        rc_s, out_s, err_s = faceverify(*api, "--json", a, b)
        check(rc_l == rc_s, "verify %s %s: exit %d through the server, %d local (%s)" %
              (os.path.basename(a), os.path.basename(b), rc_s, rc_l, err_s.strip()))
        if rc_l in (0, 1) and rc_s in (0, 1):
            jl, js = json.loads(out_l), json.loads(out_s)
            check(abs(jl["similarity"] - js["similarity"]) < 1e-6, "same similarity")
    photos = sorted({p for pair in same + diff for p in pair})
    tmp = tempfile.mkdtemp()
    rc, out_s, err = faceverify("embed", *api, *photos)
    check(rc == 0, "embed through the server: " + err)
    rc, out_l, err = faceverify("embed", "--backend", "local", *photos)
    check(rc == 0, "embed local: " + err)
    check(len(out_s.splitlines()) == len(photos) == len(out_l.splitlines()), "embed: one record per photo")
    for ls, ll in zip(sorted(out_s.splitlines()), sorted(out_l.splitlines())):
        rs, rl = json.loads(ls), json.loads(ll)
        check(rs["input"] == rl["input"] and len(rs["faces"]) == len(rl["faces"]), "embed: same faces")
        for fs, fl in zip(rs["faces"], rl["faces"]):
            check(max(abs(x - y) for x, y in zip(fs["embedding"], fl["embedding"])) < 1e-6,
                  "embed: equal embeddings")
    rc_s, out_s, err = faceverify("matrix", *api, "--format", "json", *photos[:4])
    rc_l, out_l, _ = faceverify("matrix", "--backend", "local", "--format", "json", *photos[:4])
    check(rc_s == rc_l == 0, "matrix: " + err)
    pairs = os.path.join(tmp, "pairs.csv")
    with open(pairs, "w") as f:
        for a, b in same + diff:
            f.write("%s,%s\n" % (a, b))
    rc_s, out_s, err_s = faceverify("pairs", *api, pairs)
    rc_l, out_l, err_l = faceverify("pairs", "--backend", "local", pairs)
    check(rc_s == rc_l, "pairs: exit %d through the server, %d local (%s)" % (rc_s, rc_l, err_s.strip()))
    vs = [json.loads(l).get("verdict") for l in out_s.splitlines()]
    vl = [json.loads(l).get("verdict") for l in out_l.splitlines()]
    check(vs == vl and len(vs) == len(same + diff), "pairs: same verdicts %s %s" % (vs, vl))
    labelled = os.path.join(tmp, "labels.csv")
    with open(labelled, "w") as f:
        f.write("file,identity\n")
        for path, ident in rows[:12]:
            f.write("%s,%s\n" % (path, ident))
    rc_s, out_s, err_s = faceverify("calibrate", *api, "--json", labelled)
    rc_l, out_l, err_l = faceverify("calibrate", "--backend", "local", "--json", labelled)
    check(rc_s == 0 and rc_l == 0, "calibrate: %s | %s" % (err_s.strip(), err_l.strip()))
    if rc_s == 0 and rc_l == 0:
        js, jl = json.loads(out_s), json.loads(out_l)
        check(abs(js.get("auc", 0) - jl.get("auc", 1)) < 1e-9, "calibrate: same AUC")
    # A local embedding file mixes with images analysed by the server (same model set).
    a, b = same[0]
    local_file = os.path.join(tmp, "a.jsonl")
    rc, out, err = faceverify("embed", "--backend", "local", a)
    check(rc == 0, "embed a: " + err)
    open(local_file, "w").write(out)
    rc_m, out_m, err_m = faceverify(*api, "--json", local_file, b)
    rc_l, out_l, err_l = faceverify("--backend", "local", "--json", a, b)
    check(rc_m == rc_l, "a local embedding file with a photo analysed by the server: exit %d, local %d (%s)" %
          (rc_m, rc_l, err_m.strip()))
    if rc_m in (0, 1):
        check(abs(json.loads(out_m)["similarity"] - json.loads(out_l)["similarity"]) < 1e-6, "mixed: same similarity")
        check(json.loads(out_m).get("backend") == "local", "mixed: the embeddings count as the local backend's")
    rc, _ = s.stop(signal.SIGINT)
    check(rc == 0, "SIGINT: exit 0, not %d" % rc)


def case_lifecycle():
    rc, out, err = faceverify("serve", "--listen", "127.0.0.1:0", "--models", "/nonexistent/models")
    check(rc == 2 and out == "" and len(err.splitlines()) == 1 and "install-models" in err,
          "missing models: exit 2, one line saying how to get them: %d %r" % (rc, err))
    s = Server("--workers", "1")
    port = s.url.rsplit(":", 1)[1]
    rc, out, err = faceverify("serve", "--listen", "127.0.0.1:" + port)
    check(rc == 2 and len(err.splitlines()) == 1 and "in use" in err, "port in use: exit 2, one line: %r" % err)
    # --healthcheck: a container's HEALTHCHECK without curl.
    rc, out, err = faceverify("serve", "--healthcheck", "--listen", "127.0.0.1:" + port)
    check((rc, out, err) == (0, "", ""), "--healthcheck of a running server: exit 0, silent: %d %r" % (rc, err))
    rc, out, err = faceverify("serve", "--healthcheck", "--listen", "0.0.0.0:" + port)
    check(rc == 0, "--healthcheck of 0.0.0.0 asks loopback: %d %r" % (rc, err))
    rc, _ = s.stop()
    rc, out, err = faceverify("serve", "--healthcheck", "--listen", "127.0.0.1:" + port)
    check(rc == 1 and out == "" and len(err.splitlines()) == 1 and
          err.startswith("faceverify: serve --healthcheck: http://127.0.0.1:%s/healthz: " % port),
          "--healthcheck of a stopped server: exit 1, one line naming the URL: %d %r" % (rc, err))
    rc, out, err = faceverify("serve", "--healthcheck", "--listen", "127.0.0.1:0")
    check(rc == 2 and ":0" in err, "--healthcheck needs a port: %d %r" % (rc, err))
    s = Server("--workers", "1")
    rc, _ = s.stop()
    check(rc == 0 and s.lines[-1] == "faceverify: stopped", "stopped: %s" % s.lines[-3:])
    log = os.path.join(tempfile.mkdtemp(), "access.log")
    s = Server("--workers", "1", "--access-log", log)
    requests.get(s.url + "/healthz?api_key=not-logged-123")
    s.stop()
    lines = open(log).read().splitlines()
    check(len(lines) == 1 and " GET /healthz 200 " in lines[0] and "not-logged" not in lines[0],
          "--access-log: one line per request, no query: %s" % lines)
    check(not any("GET /healthz" in l for l in s.lines), "with --access-log, no access lines on stderr")
    # A second signal stops at once, as after a default signal, even with a request half sent.
    import socket
    s = Server("--workers", "1")
    port = int(s.url.rsplit(":", 1)[1])
    half = socket.create_connection(("127.0.0.1", port))
    half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    start = time.time()
    rc, _ = s.stop(signal.SIGINT)
    check(rc == 130 and time.time() - start < 3, "a second signal: exit 130 at once, not %d after %.1f s" %
          (rc, time.time() - start))
    half.close()
    exposed = Server("--listen", "0.0.0.0:0")
    check(any("without --api-key-file" in l for l in exposed.lines), "a warning when exposed without keys")
    exposed.stop()
    keyfile = os.path.join(tempfile.mkdtemp(), "keys")
    with open(keyfile, "w") as f:
        f.write("first-key-abcdef\nsecond-key-123456\n")
    os.chmod(keyfile, 0o644)
    rc, out, err = faceverify("serve", "--listen", "127.0.0.1:0", "--api-key-file", keyfile)
    check(rc == 2 and "chmod 600" in err, "a key file others can read is refused: %r" % err)
    os.chmod(keyfile, 0o600)
    klog = os.path.join(tempfile.mkdtemp(), "access.log")
    k = Server("--api-key-file", keyfile, "--workers", "1", "--access-log", klog)
    photo = labels()[0][0]
    r = requests.post(k.url + "/v1/results", files={"image": open(photo, "rb")})
    check(r.status_code == 401 and "message" in r.json(), "no key: 401 message")
    # The standard library's client sends its whole body before it reads: the 401 must still reach it.
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(k.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("POST", "/v1/results", body=b"x" * (5 << 20), headers={"Content-Type": "application/octet-stream"})
        check(conn.getresponse().status == 401, "http.client gets the 401 after its 5 MB body")
    except OSError as e:
        check(False, "http.client got %s instead of the 401" % e)
    conn.close()
    r = requests.post(k.url + "/v1/results", files={"image": open(photo, "rb")},
                      headers={"X-API-KEY": "second-key-123456"})
    check(r.status_code == 200, "second key accepted")
    check(requests.get(k.url + "/").status_code == 200, "the page needs no key")
    rc, out, err = faceverify("--api-url", k.url, "--api", "api4ai", "--api-key-file", keyfile, photo, photo)
    check(rc == 0, "the CLI with a key through the server: %d %s" % (rc, err))
    requests.get(k.url + "/first-key-abcdef")  # a key sent by mistake in the path
    k.stop()
    for line in k.lines + open(klog).read().splitlines():
        check("first-key" not in line and "second-key" not in line, "no key in the log: " + line)


def case_urls():
    import http.server
    import threading
    photo = labels()[0][0]
    served = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            served.append(self.path)
            data = open(photo, "rb").read()
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    image_url = "http://127.0.0.1:%d/photo.jpg" % origin.server_address[1]
    # Fetching on, private targets off: a loopback URL is refused, never requested.
    s = Server("--allow-url-fetch", "--workers", "1")
    r = requests.post(s.url + "/v1/results", data={"url": image_url})
    result = r.json()["results"][0]
    check(r.status_code == 200 and result["status"]["code"] == "failure" and
          "--allow-private-urls" in result["status"]["message"], "a loopback URL is refused: %s" % r.text[:200])
    check(served == [], "the refused URL was never requested")
    s.stop()
    # Both on: the image is fetched and analysed like an upload.
    s = Server("--allow-url-fetch", "--allow-private-urls", "--workers", "1")
    r = requests.post(s.url + "/v1/results?embeddings=true", data={"url": image_url})
    result = r.json()["results"][0]
    check(result["status"]["code"] == "ok" and len(result["entities"][0]["objects"]) >= 1,
          "a fetched URL is analysed: %s" % r.text[:200])
    check(result["md5"] == hashlib.md5(open(photo, "rb").read()).hexdigest(), "md5 of the fetched bytes")
    rc, out, err = faceverify("--api-url", s.url, "--json", image_url, photo)
    check(rc == 0, "the CLI passes a URL through to the server: %d %s" % (rc, err))
    s.stop()
    rc, out, err = faceverify("serve", "--allow-private-urls")
    check(rc == 2 and "--allow-url-fetch" in err, "--allow-private-urls alone is a usage error: %r" % err)
    origin.shutdown()


{"protocol": case_protocol, "urls": case_urls, "cli": case_cli, "lifecycle": case_lifecycle}[CASE]()
if failures:
    print("%d check(s) failed; first: %s" % (len(failures), failures[0]))
    sys.exit(1)
print("ok")
