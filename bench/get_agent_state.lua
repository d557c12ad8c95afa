-- wrk script: GetAgentState for agent "Bench-1" over keep-alive connections.
wrk.method = "POST"
wrk.path = "/a2a"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"jsonrpc":"2.0","method":"GetAgentState","params":{"agent":"Bench-1"},"id":1}'
