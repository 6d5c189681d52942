-- wrk script for Basalt's benchmarks: one workload per run, chosen by BENCH_MODE.
--   create: POST /classes/<class> with a small object
--   get:    GET /classes/<class>/<random id from BENCH_IDS>
--   query:  GET /classes/<class>?where={category, score ≥ …}&order=-score&limit=20
--   update: PUT /classes/<class>/<random id> with an Increment
local mode = os.getenv("BENCH_MODE")
local base = os.getenv("BENCH_PATH")          -- e.g. /parse/classes/BenchItem
local ids = {}

wrk.headers["X-Parse-Application-Id"] = os.getenv("BENCH_APP")
wrk.headers["X-Parse-REST-API-Key"] = os.getenv("BENCH_REST_KEY")
wrk.headers["Content-Type"] = "application/json"

local function load_ids()
  local f = io.open(os.getenv("BENCH_IDS"), "r")
  if f then
    for line in f:lines() do ids[#ids + 1] = line end
    f:close()
  end
end

function init(args)
  load_ids()
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

local categories = { "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9" }

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  if mode == "create" then
    local body = string.format('{"score":%d,"category":"%s","name":"bench","n":0}',
      math.random(0, 999), categories[math.random(#categories)])
    return wrk.format("POST", base, nil, body)
  elseif mode == "get" then
    return wrk.format("GET", base .. "/" .. ids[math.random(#ids)])
  elseif mode == "query" then
    local where = string.format('{"category":"%s","score":{"$gte":%d}}', categories[math.random(#categories)], math.random(0, 900))
    return wrk.format("GET", base .. "?where=" .. urlencode(where) .. "&order=-score&limit=20")
  elseif mode == "update" then
    return wrk.format("PUT", base .. "/" .. ids[math.random(#ids)], nil, '{"n":{"__op":"Increment","amount":1}}')
  end
end

-- wrk counts answers of 400 and above in summary.errors.status.
function done(summary, latency, requests)
  io.write(string.format("NON2XX %d\n", summary.errors.status))
end
