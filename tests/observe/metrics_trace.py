#!/usr/bin/python3
"""End to end, on a 2-node cluster (SPEC 12):

- /metrics of both nodes parses with the Prometheus project's own parser
  (prometheus_client.parser) and shows the values known actions must give;
- a traceparent sent to node 1 for an agent on node 2 shows up in the task's
  GetTask and in the JSON log lines of both nodes, and every log line is one
  JSON object with ts, level, logger and msg.

Usage: metrics_trace.py <agentmesh binary>
"""

import json
import re
import shutil
import sys

from prometheus_client.parser import text_string_to_metric_families

import nodes as cluster_nodes

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = "00-%s-00f067aa0ba902b7-01" % TRACE
STD_TRACE = "0af7651916cd43dd8448eb211c80319c"


def scrape(node):
    status, headers, body = node.get("/metrics")
    assert status == 200, status
    ctype = headers.get("Content-Type")
    assert ctype.startswith("text/plain; version=0.0.4"), ctype
    samples = {}
    families = {}
    for family in text_string_to_metric_families(body):
        families[family.name] = family
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            samples[key] = s.value
    return families, samples


def value(samples, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, "no sample %s%s" % (name, labels)
    return samples[key]


def check_histogram(samples, name, **labels):
    """Buckets cumulative, +Inf == _count; returns _count."""
    buckets = []
    for (n, ls), v in samples.items():
        d = dict(ls)
        if n == name + "_bucket" and all(d.get(k) == v2
                                         for k, v2 in labels.items()):
            le = d["le"]
            buckets.append((float("inf") if le == "+Inf" else float(le), v))
    assert buckets, "no buckets of " + name
    buckets.sort()
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "%s buckets not cumulative: %s" % (
        name, counts)
    assert buckets[-1][0] == float("inf"), name + " has no +Inf bucket"
    count = value(samples, name + "_count", **labels)
    assert buckets[-1][1] == count, (name, buckets[-1][1], count)
    assert value(samples, name + "_sum", **labels) >= 0
    return count


def json_lines(node):
    """Every stderr line of the node as a JSON object (all must parse)."""
    result = []
    for line in node.log_text().splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise AssertionError("%s: not a JSON log line: %r" % (node.name,
                                                                 line))
        for k in ("ts", "level", "logger", "msg"):
            assert k in obj, "%s: %r lacks %s" % (node.name, line, k)
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$",
                        obj["ts"]), obj["ts"]
        result.append(obj)
    return result


def main():
    binary = sys.argv[1]
    nodes, workdir = cluster_nodes.cluster(
        binary, 2, ["--log.format=\"json\"", "--store.path=\"{workdir}/s{i}\""])
    n1, n2 = nodes
    try:
        # Known actions: one agent per node; a task for the agent on node 2
        # sent to node 1 with a traceparent, run there; on node 1 two tasks,
        # one run and one cancelled.
        assert n1.rpc("StartAgent", {"name": "a1"})["result"]["node"] == n1.name
        assert n2.rpc("StartAgent", {"name": "b1"})["result"]["node"] == n2.name
        cluster_nodes.poll(lambda: n1.rpc("ListAgents")["result"]["count"] == 2,
                           "node 1 lists both agents")
        sent = n1.rpc("SendMessage", {"agent": "b1", "action": "search",
                                      "params": {"query": "traced"}},
                      headers={"traceparent": TRACEPARENT})["result"]
        assert sent["node"] == n2.name, sent
        traced = sent["task_id"]
        done = n1.rpc("ProcessNext", {"agent": "b1"})["result"]
        assert done["task_id"] == traced and done["status"] == "completed"
        t1 = n1.rpc("SendMessage", {"agent": "a1", "action": "analyze",
                                    "params": {"data": "x"}})["result"]
        t2 = n1.rpc("SendMessage", {"agent": "a1", "action": "analyze",
                                    "params": {"data": "y"}},
                    headers={"traceparent": "00-XYZ-bad-01"})["result"]
        assert n1.rpc("ProcessNext", {"agent": "a1"})["result"]["task_id"] == \
            t1["task_id"]
        cancelled = n1.rpc("CancelTask", {"agent": "a1",
                                          "task_id": t2["task_id"]})
        assert cancelled["result"]["status"] == "cancelled", cancelled
        # A standard A2A task keeps its trace too.
        std = n2.rpc("SendMessage", {"message": {
            "messageId": "m-1", "role": "ROLE_USER",
            "parts": [{"text": "hello"}]}},
            headers={"traceparent": "00-%s-b7ad6b7169203331-00" % STD_TRACE,
                     "A2A-Version": "1.0"},
            path="/agents/b1/a2a")["result"]
        std_task = std["task"] if "task" in std else std
        assert std_task["metadata"]["trace_id"] == STD_TRACE, std

        # -- trace ids in GetTask ---------------------------------------------
        view = n1.rpc("GetTask", {"task_id": traced})["result"]
        assert view["trace_id"] == TRACE, view
        fresh = n1.rpc("GetTask", {"task_id": t1["task_id"]})["result"]
        assert re.match(r"^[0-9a-f]{32}$", fresh["trace_id"]), fresh
        assert fresh["trace_id"] != TRACE
        bad = n1.rpc("GetTask", {"task_id": t2["task_id"]})["result"]
        assert re.match(r"^[0-9a-f]{32}$", bad["trace_id"]), bad
        assert bad["trace_id"] != fresh["trace_id"]
        std_view = n1.rpc("GetTask", {"id": std_task["id"]},
                          headers={"A2A-Version": "1.0"})["result"]
        assert std_view["metadata"]["trace_id"] == STD_TRACE, std_view

        # -- metrics ------------------------------------------------------------
        cluster_nodes.poll(
            lambda: value(scrape(n2)[1], "agentmesh_tasks_total",
                          status="completed") == 2,
            "node 2 counts its 2 completed tasks")
        rpc1 = n1.rpc_calls
        fam1, s1 = scrape(n1)
        fam2, s2 = scrape(n2)
        for fam, name in ((fam1, n1.name), (fam2, n2.name)):
            for f in ("agentmesh_agents", "agentmesh_cluster_nodes",
                      "agentmesh_tasks", "agentmesh_http_requests",
                      "agentmesh_http_request_duration_seconds",
                      "agentmesh_agent_restarts", "agentmesh_events_published",
                      "agentmesh_store_commit_seconds",
                      "process_resident_memory_bytes"):
                assert f in fam, "%s: no family %s" % (name, f)
            assert fam["agentmesh_tasks"].type == "counter"
            assert fam["agentmesh_http_request_duration_seconds"].type == \
                "histogram"
        assert value(s1, "agentmesh_agents") == 1
        assert value(s2, "agentmesh_agents") == 1
        assert value(s1, "agentmesh_cluster_nodes") == 2
        assert value(s2, "agentmesh_cluster_nodes") == 2
        assert value(s1, "agentmesh_tasks_total", status="completed") == 1
        assert value(s1, "agentmesh_tasks_total", status="cancelled") == 1
        assert value(s1, "agentmesh_tasks_total", status="failed") == 0
        assert value(s1, "agentmesh_tasks_created_total") == 2
        assert value(s2, "agentmesh_tasks_total", status="completed") == 2
        assert value(s2, "agentmesh_tasks_created_total") == 2
        assert value(s1, "agentmesh_agent_restarts_total") == 0
        # a1: started, 2 received, 1 completed; b1 on node 2: started,
        # 2 received, 2 completed; and each node's node_up.
        assert value(s1, "agentmesh_events_published_total") >= 5
        assert value(s2, "agentmesh_events_published_total") >= 6
        # Every JSON-RPC call this test sent to node 1 was counted, with its
        # latency.
        assert value(s1, "agentmesh_http_requests_total", route="/a2a",
                     code="200") == rpc1, (s1, rpc1)
        assert check_histogram(s1, "agentmesh_http_request_duration_seconds",
                               route="/a2a") == rpc1
        assert value(s2, "agentmesh_http_requests_total",
                     route="/agents/{name}/a2a", code="200") == 1
        assert check_histogram(s1, "agentmesh_store_commit_seconds") > 0
        assert check_histogram(s2, "agentmesh_store_commit_seconds") > 0
        assert value(s1, "process_resident_memory_bytes") > 1e6
        # A 404 is counted by route "unknown"; the scrape counts itself next
        # time.
        assert n1.get("/nope")[0] == 404
        _, s1b = scrape(n1)
        assert value(s1b, "agentmesh_http_requests_total", route="unknown",
                     code="404") == 1
        assert value(s1b, "agentmesh_http_requests_total", route="/metrics",
                     code="200") == 1

        # -- JSON logs ------------------------------------------------------------
        for node in (n1, n2):
            lines = json_lines(node)
            traced_lines = [x for x in lines if x.get("trace_id") == TRACE]
            kinds = sorted(x["event"] for x in traced_lines)
            assert kinds == ["task_completed", "task_received"], (
                node.name, kinds)
            for x in traced_lines:
                assert x["logger"] == "AgentEventLogger"
                assert x["agent"] == "b1" and x["node"] == n2.name
                assert x["msg"] == "%s: b1 on %s" % (x["event"], n2.name)
            assert any(x.get("event") == "node_up" for x in lines), node.name
        print("metrics and traces: ok (%d calls to node 1)" % rpc1)
    finally:
        for n in nodes:
            n.stop()
    # The nodes' last lines (shutdown) must be JSON too.
    for n in nodes:
        json_lines(n)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
