#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Drives the page of faceverify serve in headless Chromium.

  check_serve_page.py BASE_URL PHOTO1 PHOTO2 PNG_OUT [EXPECTED_VERDICT_SUBSTRING]

Loads BASE_URL, puts PHOTO1 and PHOTO2 into the page's two file inputs, waits
(up to 60 s) until #verdict has text, prints the similarity and the verdict,
and writes a screenshot of the whole page to PNG_OUT (also on failure). The
browser has no DNS but for the server's host and a dead proxy, and the page
fails if it asks for anything that is not on its own server.
Exit: 0 done (and the verdict contains the expected text, when given);
      1 with one line on stderr saying what failed.
Chromium: $CHROMIUM, else chromium, chromium-browser, google-chrome on PATH.
It speaks the DevTools protocol over --remote-debugging-pipe (JSON messages
separated by NUL bytes on fds 3 and 4), so only the standard library is needed.
"""

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

VERDICT_TIMEOUT_S = 60.0
COMMAND_TIMEOUT_S = 30.0


class Failure(Exception):
    pass


def find_browser():
    candidates = [os.environ.get("CHROMIUM", "")] + ["chromium", "chromium-browser", "google-chrome",
                                                      "google-chrome-stable"]
    for candidate in candidates:
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


class Browser:
    """One Chromium process and the DevTools pipe to it."""

    def __init__(self, executable, profile, server_host):
        # Our ends: we write commands to to_browser, read replies from from_browser.
        child_in, self.to_browser = os.pipe()
        self.from_browser, child_out = os.pipe()

        def wire_fds():  # in the child: its fd 3 reads our commands, fd 4 writes its replies
            high_in = fcntl.fcntl(child_in, fcntl.F_DUPFD, 10)
            high_out = fcntl.fcntl(child_out, fcntl.F_DUPFD, 10)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        args = [executable, "--headless=new", "--remote-debugging-pipe", "--disable-gpu", "--hide-scrollbars",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-dev-shm-usage",
                "--disable-background-networking", "--user-data-dir=" + profile, "--window-size=1200,1000",
                # No DNS but for the server's own host, and a dead proxy (loopback
                # bypasses it): the page must work from its own server alone.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE " + server_host, "--proxy-server=127.0.0.1:9",
                "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox (CI containers)
        self.log = open(os.path.join(profile, "chromium.log"), "wb")
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                        preexec_fn=wire_fds, close_fds=False)
        # close_fds=False: closing would run after wire_fds and take fds 3 and 4
        # too; our own ends are close-on-exec (Python's default), so none leaks.
        os.close(child_in)
        os.close(child_out)
        self.next_id = 0
        self.buffer = b""
        self.requested = []  # every URL the page asked for (Network.requestWillBeSent)

    def send(self, method, params=None, session=None, timeout=COMMAND_TIMEOUT_S):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self.read_message(deadline, method)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise Failure(method + " failed: " + reply["error"].get("message", "unknown error"))
                return reply.get("result", {})
            if reply.get("method") == "Network.requestWillBeSent":
                self.requested.append(reply["params"]["request"]["url"])

    def read_message(self, deadline, waiting_for):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("Chromium did not answer " + waiting_for + " in time")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise Failure("Chromium closed the DevTools pipe (exit " + str(self.process.poll()) + ")")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except (Failure, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self.to_browser, self.from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()


def evaluate(browser, session, expression):
    result = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
    if "exceptionDetails" in result:
        raise Failure("the page's script failed: " + result["exceptionDetails"].get("text", "exception"))
    return result.get("result", {}).get("value")


def run(base_url, photos, png_out, expected):
    for photo in photos:
        if not os.path.isfile(photo):
            raise Failure("no such photo: " + photo)
    executable = find_browser()
    if not executable:
        raise Failure("Chromium not found (Debian: apt-get install chromium)")
    profile = tempfile.mkdtemp(prefix="faceverify-chromium-")
    browser = None
    try:
        host = urllib.parse.urlsplit(base_url).hostname
        if not host:
            raise Failure("not an http URL: " + base_url)
        browser = Browser(executable, profile, host)
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.send("Page.enable", session=session)
        browser.send("Network.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session)
        nav = browser.send("Page.navigate", {"url": base_url}, session)
        if nav.get("errorText"):
            raise Failure("cannot load " + base_url + ": " + nav["errorText"])

        deadline = time.monotonic() + VERDICT_TIMEOUT_S
        while evaluate(browser, session, "document.readyState") != "complete":
            if time.monotonic() > deadline:
                raise Failure("the page at " + base_url + " did not finish loading in time")
            time.sleep(0.1)
        if not evaluate(browser, session, "!!(document.getElementById('file1') && document.getElementById('file2'))"):
            raise Failure("the page at " + base_url + " has no #file1/#file2 inputs")

        root = browser.send("DOM.getDocument", {"depth": 0}, session)["root"]["nodeId"]
        for number, photo in enumerate(photos, start=1):
            node = browser.send("DOM.querySelector", {"nodeId": root, "selector": "#file%d" % number},
                                session)["nodeId"]
            browser.send("DOM.setFileInputFiles", {"nodeId": node, "files": [os.path.abspath(photo)]}, session)

        state_js = ("JSON.stringify({verdict: document.getElementById('verdict').textContent,"
                    " similarity: document.getElementById('similarity').textContent,"
                    " error: document.getElementById('error').textContent})")
        problem = None
        while True:
            state = json.loads(evaluate(browser, session, state_js))
            if state["verdict"].strip():
                break
            if state["error"].strip():
                problem = "the page shows an error: " + " / ".join(state["error"].split("\n"))
                break
            if time.monotonic() > deadline:
                problem = "no verdict after %d s (the page says: %s)" % (VERDICT_TIMEOUT_S, state["similarity"])
                break
            time.sleep(0.25)
        time.sleep(0.3)  # let the canvases and the bar's transition settle before the screenshot

        # The screenshot is written on failure too: it shows what went wrong.
        shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        os.makedirs(os.path.dirname(os.path.abspath(png_out)), exist_ok=True)
        with open(png_out, "wb") as out:
            out.write(base64.b64decode(shot["data"]))
        if problem:
            raise Failure(problem + " (screenshot: " + png_out + ")")

        origin = "%s://%s" % urllib.parse.urlsplit(base_url)[:2]
        for url in browser.requested:
            if not (url.startswith(origin + "/") or url.startswith("blob:") or url.startswith("data:")):
                raise Failure("the page asked for something not on its server: " + url)

        print(state["similarity"].strip() + " " + state["verdict"].strip())
        if expected and expected not in state["verdict"]:
            raise Failure("the verdict is %r, expected it to contain %r" % (state["verdict"].strip(), expected))
    finally:
        if browser:
            browser.close()
        shutil.rmtree(profile, ignore_errors=True)


def main(argv):
    if len(argv) not in (5, 6):
        print("usage: check_serve_page.py BASE_URL PHOTO1 PHOTO2 PNG_OUT [EXPECTED_VERDICT_SUBSTRING]",
              file=sys.stderr)
        return 1
    try:
        run(argv[1], argv[2:4], argv[4], argv[5] if len(argv) == 6 else None)
    except (Failure, OSError, ValueError, KeyError) as e:
        print("check_serve_page: " + str(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
