"""Headless Chromium driven over the DevTools protocol, for CI's browser checks.

Only the Debian `chromium` package and `websocket-client` (pip) are needed: no driver
download. `Browser` opens a page, records every request the page makes and every console
message, evaluates JavaScript and waits for conditions.

    python3 .ci/browser.py docs http://127.0.0.1:PORT

checks that Swagger UI at /docs renders every operation of /api/openapi.json with no request
to another origin and no Content-Security-Policy violation.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Browser:
    def __init__(self, width=1280, height=900):
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if not binary:
            raise SystemExit("chromium is missing: apt-get install chromium")
        self.profile = tempfile.mkdtemp(prefix="preciso-chromium-")
        port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking",
             f"--window-size={width},{height}", f"--remote-debugging-port={port}",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while True:
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2))
                page = next(t for t in targets if t["type"] == "page")
                break
            except Exception:
                if time.time() > deadline:
                    self.close()
                    raise SystemExit("chromium did not start its DevTools endpoint within 30 s")
                time.sleep(0.2)
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0
        self.requests = []
        self.console = []
        self.call("Network.enable")
        self.call("Runtime.enable")
        self.call("Log.enable")
        self.call("Page.enable")

    def _event(self, msg):
        method = msg.get("method")
        params = msg.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Log.entryAdded":
            self.console.append(params["entry"].get("text", ""))
        elif method == "Runtime.consoleAPICalled":
            self.console.append(" ".join(str(a.get("value", "")) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            self.console.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:500])

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def goto(self, url):
        self.call("Page.navigate", url=url)

    def eval(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expression, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.eval(expression):
                return True
            time.sleep(0.2)
        return False

    def close(self):
        try:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def check_docs(base):
    spec = json.load(urllib.request.urlopen(f"{base}/api/openapi.json", timeout=10))
    operations = sum(len(item) for item in spec["paths"].values())
    b = Browser()
    try:
        b.goto(f"{base}/docs/")
        rendered = b.wait_for(f"document.querySelectorAll('.opblock').length >= {operations}", 30)
        shown = b.eval("document.querySelectorAll('.opblock').length")
        title = b.eval("(document.querySelector('.info .title') || {}).textContent || ''")
        time.sleep(0.5)  # late requests (fonts, images) would show up here
        b.eval("1")
        foreign = [u for u in b.requests if not (u.startswith(base) or u.startswith("data:"))]
        csp = [m for m in b.console if "Content Security Policy" in m or "Refused to" in m]
        errors = [m for m in b.console if m.startswith("exception:")]
    finally:
        b.close()
    print(f"/docs: {shown} of {operations} operations rendered, title {title!r}, "
          f"{len(b.requests)} requests, all to {base}")
    problems = []
    if not rendered:
        problems.append(f"Swagger UI rendered {shown} of {operations} operations")
    if "Preciso API" not in title:
        problems.append(f"the page's title is {title!r}")
    if foreign:
        problems.append(f"requests to other origins: {foreign}")
    if csp:
        problems.append(f"Content-Security-Policy violations: {csp}")
    if errors:
        problems.append(f"script errors: {errors}")
    if problems:
        raise SystemExit("; ".join(problems))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "docs":
        raise SystemExit("usage: browser.py docs BASE_URL")
    check_docs(sys.argv[2].rstrip("/"))
