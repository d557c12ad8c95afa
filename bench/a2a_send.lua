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

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- Per-thread globals (wrk's thread:get reads globals).
prefix, sent, bad, checked = "", 0, 0, 0
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

function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 or not body:find('"TASK_STATE_COMPLETED"', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad, total = 0, 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + thread:get("bad")
    total = total + thread:get("checked")
  end
  io.write(string.format("not completed: %d of %d\n", total_bad, total))
end
