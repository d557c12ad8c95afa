#!/usr/bin/python3
"""SIGTERM with many agents (SPEC 11 / issue 9): the node stops every agent
and exits by itself with status 0, well before its shutdown watchdog (which
would log "shutdown took longer" and exit 1). Before the fix, 100,000
agents took the node past the watchdog.

Usage: shutdown.py <agentmesh binary> [AGENTS]
"""

import json
import os
import signal
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "observe"))
import nodes as harness  # noqa: E402

BIN = sys.argv[1]
AGENTS = int(sys.argv[2]) if len(sys.argv) > 2 else 100000


def main():
    workdir = tempfile.mkdtemp(prefix="agentmesh-shutdown-")
    node = harness.Node(BIN, ["--node.name=\"big\"", "--http.port=0",
                              "--log.level=\"warning\""], workdir, "big")
    t0 = time.monotonic()
    for start in range(0, AGENTS, 1000):
        calls = [{"jsonrpc": "2.0", "method": "StartAgent",
                  "params": {"name": "agent-%07d" % i}, "id": i}
                 for i in range(start, min(AGENTS, start + 1000))]
        req = urllib.request.Request(node.url + "/a2a",
                                     data=json.dumps(calls).encode())
        with urllib.request.urlopen(req, timeout=60) as r:
            answers = json.loads(r.read().decode())
        assert all(a["result"]["status"] == "started" for a in answers)
    r = node.rpc("ListAgents", {"limit": 1})["result"]
    assert r["total"] == AGENTS, r
    print("%d agents started in %.1f s" % (AGENTS, time.monotonic() - t0))
    t0 = time.monotonic()
    node.proc.send_signal(signal.SIGTERM)
    code = node.proc.wait(timeout=120)
    took = time.monotonic() - t0
    print("SIGTERM -> exit %d after %.2f s" % (code, took))
    node.stop()
    log = node.log_text()
    assert "shutdown took longer" not in log, log[-2000:]
    assert code == 0, (code, log[-2000:])


if __name__ == "__main__":
    main()
