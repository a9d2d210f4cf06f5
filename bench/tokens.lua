-- wrk script for the token endpoint: each request carries the next pre-signed
-- client_credentials body from the file given after `--`, so no client assertion (jti) is
-- sent twice; answers are counted by status and printed at the end.
local threads = {}
local bodies = {}
local next_body = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  issued, refused, exhausted = 0, 0, 0
end

function request()
  next_body = next_body + 1
  if next_body > #bodies then
    exhausted = exhausted + 1
    next_body = 1
  end
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"},
    bodies[next_body])
end

function response(status)
  if status == 200 then issued = issued + 1 else refused = refused + 1 end
end

function done()
  local i, r, e = 0, 0, 0
  for _, t in ipairs(threads) do
    i, r, e = i + t:get("issued"), r + t:get("refused"), e + t:get("exhausted")
  end
  io.write(string.format("TOKENS issued=%d refused=%d exhausted=%d\n", i, r, e))
end
