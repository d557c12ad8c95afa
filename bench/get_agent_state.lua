-- wrk script: GetAgentState for the agent named by the AGENT environment
-- variable (default "Bench-1") over keep-alive connections.
local agent = os.getenv("AGENT") or "Bench-1"
wrk.method = "POST"
wrk.path = "/a2a"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"jsonrpc":"2.0","method":"GetAgentState","params":{"agent":"'
  .. agent .. '"},"id":1}'
