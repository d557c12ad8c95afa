-- Shared by the wrk scripts that check every reply (loaded with dofile from
-- the script's own folder). check_replies(label, ok) counts, over all
-- threads, the replies for which ok(status, body) is false and prints
-- "<label>: N of M" at the end. Each thread also gets its number as `tid`.

-- Per-thread globals (wrk's thread:get reads globals).
bad, checked = 0, 0

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function check_replies(label, ok)
  function response(status, headers, body)
    checked = checked + 1
    if not ok(status, body) then
      bad = bad + 1
    end
  end

  function done(summary, latency, requests)
    local total_bad, total = 0, 0
    for _, thread in ipairs(threads) do
      total_bad = total_bad + thread:get("bad")
      total = total + thread:get("checked")
    end
    io.write(string.format("%s: %d of %d\n", label, total_bad, total))
  end
end
