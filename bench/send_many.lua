-- wrk script: dialect SendMessage round-robin over AGENTS agents named
-- PREFIX0 .. PREFIX<AGENTS-1> (defaults: 50, "P-"). At the end prints
-- "not queued: N of M": replies without a task_id (an error such as a full
-- inbox, or not HTTP 200).
local agents = tonumber(os.getenv("AGENTS") or "50")
local prefix = os.getenv("PREFIX") or "P-"

wrk.method = "POST"
wrk.path = "/a2a"
wrk.headers["Content-Type"] = "application/json"

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "checked.lua")

sent = 0
function request()
  sent = sent + 1
  local body = '{"jsonrpc":"2.0","method":"SendMessage","params":{"agent":"'
    .. prefix .. (sent % agents) .. '","action":"search","params":{"query":"wrk"}},"id":'
    .. sent .. '}'
  return wrk.format(nil, nil, nil, body)
end

check_replies("not queued", function(status, body)
  return status == 200 and body:find('"task_id"', 1, true)
end)
