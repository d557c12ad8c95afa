-- wrk script: GetTask for the task id in the TASK environment variable over
-- keep-alive connections. At the end prints "not found: N of M": replies
-- without that task (an error, or not HTTP 200).
local task = os.getenv("TASK") or ""
wrk.method = "POST"
wrk.path = "/a2a"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"jsonrpc":"2.0","method":"GetTask","params":{"task_id":"'
  .. task .. '"},"id":1}'

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "checked.lua")

check_replies("not found", function(status, body)
  return status == 200 and body:find('"task_id":"' .. task .. '"', 1, true)
end)
