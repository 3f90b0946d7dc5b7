-- wrk script for the loopback benchmarks (bench/lib/wrk.mjs): optional method and form body
-- from the environment, every answer counted by status, and a machine-readable summary line
-- (latencies in microseconds). Errors are results: the summary keeps wrk's socket errors
-- apart (connect, read, write, timeout) and the count of each status seen.
local method = os.getenv("BENCH_METHOD")
local body = os.getenv("BENCH_BODY")
if method and method ~= "" then wrk.method = method end
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

local threads = {}
setup = function(thread) table.insert(threads, thread) end

-- Per thread (each runs this script in its own Lua state); read back in `done`.
statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses") or {}) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do table.insert(parts, string.format('"%d":%d', status, n)) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"non_2xx_3xx":%d,"statuses":{%s},"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status, table.concat(parts, ","),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
