"""Real agentmesh processes for the observability tests: ephemeral ports,
readiness polls, and nothing left running (process groups are killed on
exit, and a node dies with the test if the test is killed)."""

import atexit
import ctypes
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import sanitizers

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_running = []


def _child_setup():
    os.setpgid(0, 0)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill_all():
    for p in _running:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


atexit.register(_kill_all)
signal.signal(signal.SIGTERM, lambda *_: (_kill_all(), os._exit(1)))


def check_sanitizers(name, text):
    """Sanitizer builds: a report in a node's stderr fails the test."""
    found = sanitizers.report(text)
    if found:
        raise AssertionError("%s: sanitizer report:\n%s" % (name, found))


def start_process(args, stdout=subprocess.PIPE, stderr=None, env=None):
    p = subprocess.Popen(args, stdout=stdout, stderr=stderr,
                         env=sanitizers.child_env(env),
                         preexec_fn=_child_setup)
    _running.append(p)
    return p


class Node:
    """One agentmesh process; `url` once its start-up line was read."""

    def __init__(self, binary, args, workdir, name):
        self.log_path = os.path.join(workdir, name + ".stderr")
        self._log = open(self.log_path, "wb")
        env = dict(os.environ)
        env.pop("PORT", None)
        self.proc = start_process([binary] + args, stderr=self._log, env=env)
        # "agentmesh <v> node <name> http://<host>:<port> cluster <h:p|off>"
        line = self.proc.stdout.readline().decode()
        words = line.split()
        if len(words) < 7 or words[0] != "agentmesh":
            raise RuntimeError("%s did not start: %r (stderr: %s)" %
                               (name, line, self.log_text()))
        self.name = words[3]
        self.url = words[4]
        self.cluster = words[6]
        # Requests this test sent, to check the node's counts against.
        self.rpc_calls = 0

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        check_sanitizers(self.name, self.log_text())

    # -- HTTP ---------------------------------------------------------------

    def get(self, path, headers=None):
        """Returns (status, headers, body text)."""
        req = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def rpc(self, method, params=None, headers=None, path="/a2a"):
        """The JSON-RPC answer of one call (the whole response object)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": params or {}}).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=body, headers=h)
        self.rpc_calls += path == "/a2a"
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode())


def cluster(binary, count, extra_args=()):
    """Starts `count` clustered nodes on ephemeral ports, the later ones
    seeded with the first, and waits until every node sees every other."""
    workdir = tempfile.mkdtemp(prefix="agentmesh-observe-")
    nodes = []
    for i in range(count):
        args = ["--node.name=\"o%d\"" % (i + 1), "--http.port=0",
                "--cluster.enabled", "--cluster.port=0",
                "--cluster.cookie=\"observe\""]
        if nodes:
            args.append("--cluster.seeds=[\"%s\"]" % nodes[0].cluster)
        args += list(extra_args)
        args = [a.replace("{workdir}", workdir).replace("{i}", str(i + 1))
                for a in args]
        nodes.append(Node(binary, args, workdir, "o%d" % (i + 1)))
    poll(lambda: all(n.rpc("GetClusterInfo")["result"]["total_nodes"] == count
                     for n in nodes), "every node sees %d members" % count)
    return nodes, workdir


def poll(check, what, timeout=20.0, interval=0.05):
    """Waits until `check()` is true; fails naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting until " + what)
        time.sleep(interval)
