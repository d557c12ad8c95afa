-- wrk script: blocking standard A2A 1.0 SendMessage with one text part, a
-- unique messageId per request (agentmesh answers a resent messageId with the
-- task it already has, which would not be a new send).
-- Environment: A2A_PATH (default /a2a), A2A_TEXT (default "wrk"; plain text,
-- no quotes or backslashes).
-- At the end prints "not completed: N of M": replies that were not HTTP 200
-- with a TASK_STATE_COMPLETED task.
local path = os.getenv("A2A_PATH") or "/a2a"
local text = os.getenv("A2A_TEXT") or "wrk"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["A2A-Version"] = "1.0"

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "checked.lua")

-- Per-thread globals (wrk's thread:get reads globals).
prefix, sent = "", 0
function init(args)
  math.randomseed(os.time() * 1000 + tid)
  prefix = string.format("wrk-%d-%d-%06x", os.time(), tid, math.random(0, 0xffffff))
end

function request()
  sent = sent + 1
  local body = '{"jsonrpc":"2.0","id":' .. sent
    .. ',"method":"SendMessage","params":{"message":{"messageId":"' .. prefix .. "-" .. sent
    .. '","role":"ROLE_USER","parts":[{"text":"' .. text .. '"}]}}}'
  return wrk.format(nil, path, nil, body)
end

check_replies("not completed", function(status, body)
  return status == 200 and body:find('"TASK_STATE_COMPLETED"', 1, true)
end)
