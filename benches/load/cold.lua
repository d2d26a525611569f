-- wrk script for benches/load/run.sh's cold-token runs: every request carries a session cookie
-- no earlier request used, read from the file $COLD_COOKIES (one Cookie header value per line,
-- from seed.py) starting after its first $COLD_OFFSET lines. When the file runs out, requests go
-- to a path that answers 401 without a cookie, so the run reports non-2xx answers instead of
-- silently measuring warm tokens. Prints the same RESULT line as summary.lua.

local cookies = {}
local next_cookie = 0

init = function(args)
  local skip = tonumber(os.getenv("COLD_OFFSET") or "0")
  local n = 0
  for line in io.lines(os.getenv("COLD_COOKIES")) do
    n = n + 1
    if n > skip then cookies[#cookies + 1] = line end
  end
end

request = function()
  next_cookie = next_cookie + 1
  local cookie = cookies[next_cookie]
  if cookie == nil then
    return wrk.format("GET", "/cold-cookies-ran-out")
  end
  return wrk.format("GET", nil, { Cookie = cookie })
end

dofile(os.getenv("SUMMARY_LUA"))
