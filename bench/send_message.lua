-- wrk script: SendMessage to the agent named by the AGENT environment variable.
local agent = os.getenv("AGENT") or "Bench-1"
wrk.method = "POST"
wrk.path = "/a2a"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"jsonrpc":"2.0","method":"SendMessage","params":{"agent":"' .. agent
  .. '","action":"search","params":{"query":"wrk"}},"id":1}'
