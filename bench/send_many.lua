-- wrk script: dialect SendMessage round-robin over AGENTS agents named
-- PREFIX0 .. PREFIX<AGENTS-1> (defaults: 50, "P-"). At the end prints
-- "not queued: N of M": replies without a task_id (an error such as a full
-- inbox, or not HTTP 200).
local agents = tonumber(os.getenv("AGENTS") or "50")
local prefix = os.getenv("PREFIX") or "P-"

wrk.method = "POST"
wrk.path = "/a2a"
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

sent, bad, checked = 0, 0, 0
function request()
  sent = sent + 1
  local body = '{"jsonrpc":"2.0","method":"SendMessage","params":{"agent":"'
    .. prefix .. (sent % agents) .. '","action":"search","params":{"query":"wrk"}},"id":'
    .. sent .. '}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 or not body:find('"task_id"', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad, total = 0, 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + thread:get("bad")
    total = total + thread:get("checked")
  end
  io.write(string.format("not queued: %d of %d\n", total_bad, total))
end
