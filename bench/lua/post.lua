-- POST /submissions, every request a new video (so every answer should be 201 accepted).
-- args: contributor_id salt
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
require "common"

local n = 0

function init(args)
  contributor = args[1]
  salt = args[2]
end

function request()
  n = n + 1
  return post_submission(contributor, salt, tid, n)
end
