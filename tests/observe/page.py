#!/usr/bin/python3
"""The live page (GET /) in headless Chromium against a 2-node cluster: the
rendered DOM shows both nodes and the agents of both, including one started
after the page loaded, without a reload. Drives Chromium over the DevTools
protocol on a pipe (--remote-debugging-pipe: NUL-separated JSON on fds 3
and 4), so nothing beyond Debian's chromium is needed. Saves a screenshot.

Usage: page.py <agentmesh binary> <screenshot.png>
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import nodes as cluster_nodes


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="agentmesh-chromium-")
        # Our ends: we write commands to `cmd_w` (Chromium's fd 3) and read
        # answers from `res_r` (Chromium's fd 4).
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()

        def fds():
            cluster_nodes._child_setup()
            # Through numbers above 4 first: a pipe end may already be 3 or 4.
            a, b = os.dup(cmd_r), os.dup(res_w)
            a, b = os.dup2(a, 100), os.dup2(b, 101)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = ["chromium", "--headless=new", "--remote-debugging-pipe",
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--user-data-dir=" + self.profile,
                "--window-size=1280,900", "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=fds, pass_fds=(3, 4),
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        cluster_nodes._running.append(self.proc)
        os.close(cmd_r)
        os.close(res_w)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def call(self, method, params=None, timeout=30.0):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self.next_id:
                    if "error" in answer:
                        raise RuntimeError("%s: %s" % (method,
                                                       answer["error"]))
                    return answer["result"]
            if time.monotonic() > deadline:
                raise AssertionError("Chromium did not answer " + method)
            chunk = os.read(self.res_r, 1 << 20)
            if not chunk:
                raise AssertionError("Chromium exited")
            self.buf += chunk

    def open(self, url):
        target = self.call("Target.createTarget", {"url": "about:blank"})
        self.session = self.call("Target.attachToTarget", {
            "targetId": target["targetId"], "flatten": True})["sessionId"]
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", {
            "width": 1280, "height": 900, "deviceScaleFactor": 1,
            "mobile": False})
        self.call("Page.navigate", {"url": url})

    def eval(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression,
                                           "returnByValue": True})
        if "exceptionDetails" in r:
            return None
        return r["result"].get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


# What the page shows: the nodes table's rows and, per agent row, its node
# (from its table) and its cells.
SNAPSHOT = """(() => {
  const nodes = {};
  document.querySelectorAll('#nodes tbody tr[data-node]').forEach(tr => {
    nodes[tr.dataset.node] = Array.from(tr.cells).map(c => c.textContent);
  });
  const agents = {};
  document.querySelectorAll('#agents table[data-node]').forEach(t => {
    t.querySelectorAll('tr[data-agent]').forEach(tr => {
      agents[tr.dataset.agent] = {node: t.dataset.node,
        cells: Array.from(tr.cells).map(c => c.textContent)};
    });
  });
  const events = Array.from(document.querySelectorAll('#events li'))
    .map(li => li.textContent);
  const stream = document.getElementById('stream-state');
  return {nodes, agents, events, stream: stream && stream.textContent,
          self: (document.getElementById('self-node') || {}).textContent};
})()"""


def main():
    binary, shot = sys.argv[1], sys.argv[2]
    nodes, workdir = cluster_nodes.cluster(binary, 2)
    n1, n2 = nodes
    browser = None
    try:
        assert n1.rpc("StartAgent", {"name": "alpha"})["result"]["node"] == \
            n1.name
        assert n2.rpc("StartAgent", {"name": "beta"})["result"]["node"] == \
            n2.name
        n2.rpc("SendMessage", {"agent": "beta", "action": "search",
                               "params": {"query": "q"}})
        cluster_nodes.poll(lambda: n1.rpc("ListAgents")["result"]["count"] == 2,
                           "node 1 lists both agents")
        status, headers, page = n1.get("/")
        assert status == 200 and headers["Content-Type"].startswith(
            "text/html"), (status, headers)
        for outside in ("http://", "https://", "//cdn"):
            assert outside not in page.replace("http://' +", ""), \
                "the page refers to " + outside

        browser = Browser()
        browser.open(n1.url + "/")
        state = {}

        def shows(names):
            state.update(browser.eval(SNAPSHOT) or {})
            return (set([n1.name, n2.name]) <= set(state.get("nodes", {}))
                    and set(names) <= set(state.get("agents", {}))
                    and state.get("stream") == "live")

        cluster_nodes.poll(lambda: shows(["alpha", "beta"]),
                           "the page shows both nodes and their agents",
                           timeout=30, interval=0.2)
        assert state["self"] == n1.name, state
        assert state["agents"]["alpha"]["node"] == n1.name, state
        assert state["agents"]["beta"]["node"] == n2.name, state
        # beta's inbox holds the task sent above.
        assert "1" in state["agents"]["beta"]["cells"][2:], state
        for name in (n1.name, n2.name):
            assert "up" in state["nodes"][name], state["nodes"]

        # Started after the page loaded, on the other node: it appears
        # without a reload, and so does its event.
        assert n2.rpc("StartAgent", {"name": "gamma"})["result"]["node"] == \
            n2.name
        cluster_nodes.poll(lambda: shows(["alpha", "beta", "gamma"]),
                           "the page shows the agent started after it loaded",
                           timeout=15, interval=0.1)
        assert state["agents"]["gamma"]["node"] == n2.name, state
        assert any("agent_started" in e and "gamma" in e
                   for e in state["events"]), state["events"]
        # Tasks run now count in the page's rates and totals.
        for i in range(3):
            n1.rpc("SendMessage", {"agent": "gamma", "action": "search",
                                   "params": {"query": "rate %d" % i}})
            n1.rpc("ProcessNext", {"agent": "gamma"})
        totals = lambda: browser.eval(
            "document.getElementById('task-totals').textContent") or ""
        cluster_nodes.poll(lambda: "3 received, 3 completed" in totals(),
                           "the page counts the 3 tasks (%r)" % totals(),
                           timeout=15, interval=0.1)
        cluster_nodes.poll(lambda: shows(["gamma"]) and
                           state["agents"]["gamma"]["cells"][3] == "3",
                           "gamma shows 3 processed", timeout=15)
        # ... and in the task rates of the node that ran them.
        cluster_nodes.poll(lambda: shows(["gamma"]) and
                           float(state["nodes"][n2.name][4]) > 0,
                           "node 2 shows a completion rate", timeout=15)
        assert float(state["nodes"][n1.name][4]) == 0, state["nodes"]
        assert browser.eval("performance.getEntriesByType('navigation')"
                            ".length") == 1, "the page reloaded"
        browser.screenshot(shot)
        assert os.path.getsize(shot) > 10000, "screenshot too small"
        print("live page: ok, screenshot " + shot)
    finally:
        if browser:
            browser.close()
        for n in nodes:
            n.stop()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
