-- Helpers shared by the wrk scripts: unique video ids, valid dates, a status histogram.
-- wrk runs one Lua state per thread; setup() hands each thread its number, and done()
-- gathers every thread's histogram and prints it as "STATUS <code> <count>" lines, which
-- the harness parses (wrk itself only counts non-2xx/3xx responses).

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

-- v as `width` base-64 digits of the YouTube id alphabet.
function b64(v, width)
  local s = {}
  for i = width, 1, -1 do
    local d = v % 64
    s[i] = alphabet:sub(d + 1, d + 1)
    v = math.floor(v / 64)
  end
  return table.concat(s)
end

-- A unique 11-character video id: 2 characters of run salt (one per wrk invocation),
-- 1 of thread number, 8 of per-thread counter.
function video_id(salt, tid, n)
  return salt .. b64(tid, 1) .. b64(n, 8)
end

-- Always a real calendar date between 1960 and 2020 (day ≤ 28).
function perf_date(n)
  return string.format("%04d-%02d-%02d", 1960 + n % 61, 1 + math.floor(n / 61) % 12,
                       1 + math.floor(n / 732) % 28)
end

function post_submission(contributor, salt, tid, n)
  local body = string.format(
    '{"contributor_id":"%s","raw_youtube_input":"https://youtu.be/%s","raw_date_input":"%s","title":"wrk %d"}',
    contributor, video_id(salt, tid, n), perf_date(n), n)
  return wrk.format("POST", "/submissions", {["Content-Type"] = "application/json"}, body)
end

threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

statuses = {}

-- A 201 is also what a *rejected* submission gets (bad id or date): count those apart, as
-- "201-rejected", so they are failures too.
function response(status, headers, body)
  local key = status
  if status == 201 and not body:find('"status"%s*:%s*"accepted"') then
    key = "201-rejected"
  end
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, count in pairs(s) do
      total[code] = (total[code] or 0) + count
    end
  end
  for code, count in pairs(total) do
    io.write(string.format("STATUS %s %d\n", tostring(code), count))
  end
end
