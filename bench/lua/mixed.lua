-- 90% reads / 10% writes. Per 10 requests: 1 POST /submissions (new video), 4 GET
-- /clips/{id}, 2 GET /submissions/{id}, 2 GET /clips?limit=50, 1 GET /clips one-year window.
-- Ids are drawn at random from the seeded set.
-- args: contributor_id salt ids_file year
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
require "common"

local n = 0
local clips, subs = {}, {}

function init(args)
  contributor = args[1]
  salt = args[2]
  for line in io.lines(args[3]) do
    local c, s = line:match("^(%S+) (%S+)$")
    if c then
      table.insert(clips, c)
      table.insert(subs, s)
    end
  end
  year = args[4]
  math.randomseed(os.time() + tid * 7919)
end

function request()
  n = n + 1
  local k = n % 10
  if k == 0 then
    return post_submission(contributor, salt, tid, n)
  elseif k <= 4 then
    return wrk.format("GET", "/clips/" .. clips[math.random(#clips)])
  elseif k <= 6 then
    return wrk.format("GET", "/submissions/" .. subs[math.random(#subs)])
  elseif k <= 8 then
    return wrk.format("GET", "/clips?limit=50")
  else
    return wrk.format("GET", "/clips?from=" .. year .. "-01-01&to=" .. year .. "-12-31")
  end
end
