-- wrk script for Basalt's benchmarks: one workload per run, chosen by BENCH_MODE.
--   create: POST /classes/<class> with a small object
--   get:    GET /classes/<class>/<random id from BENCH_IDS>
--   query:  GET /classes/<class>?where={category, score ≥ …}&order=-score&limit=20
--   update: PUT /classes/<class>/<random id> with an Increment
-- Cloud code (bench/cloud/main.js):
--   fn-empty, fn-hello: POST /functions/empty, /functions/hello
--   plain:              GET /serverInfo with the master key (a route that runs no script and
--                       reads no database: what the function call is compared with)
--   cloud-create:       POST /classes/CloudBench, whose beforeSave sets a field
-- Logged in (BENCH_IDS holds "token objectId username userId" lines; each request is one owner's):
--   login:       POST /login as a random owner
--   user-create: POST with an ACL naming the owner
--   user-get:    GET of one of the owner's objects
--   user-query:  the query above, as the owner (sees only its own objects)
local mode = os.getenv("BENCH_MODE")
local base = os.getenv("BENCH_PATH")          -- e.g. /parse/classes/BenchItem
local ids = {}
local owners = {}

wrk.headers["X-Parse-Application-Id"] = os.getenv("BENCH_APP")
wrk.headers["X-Parse-REST-API-Key"] = os.getenv("BENCH_REST_KEY")
wrk.headers["Content-Type"] = "application/json"

local function load_ids()
  local f = io.open(os.getenv("BENCH_IDS"), "r")
  if f then
    for line in f:lines() do
      local token, id, name, uid = line:match("^(%S+) (%S+) (%S+) (%S+)$")
      if token then
        owners[#owners + 1] = { token = token, id = id, name = name, uid = uid }
      else
        ids[#ids + 1] = line
      end
    end
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

local function query_path()
  local where = string.format('{"category":"%s","score":{"$gte":%d}}', categories[math.random(#categories)], math.random(0, 900))
  return base .. "?where=" .. urlencode(where) .. "&order=-score&limit=20"
end

function request()
  if mode == "login" then
    local o = owners[math.random(#owners)]
    local pw = "pw-" .. o.name:sub(6)
    return wrk.format("POST", os.getenv("BENCH_MOUNT") .. "/login", nil,
      string.format('{"username":"%s","password":"%s"}', o.name, pw))
  elseif mode:sub(1, 5) == "user-" then
    local o = owners[math.random(#owners)]
    -- wrk.format sends only the headers it is given: repeat the common ones.
    local h = { ["X-Parse-Session-Token"] = o.token }
    for k, v in pairs(wrk.headers) do h[k] = v end
    if mode == "user-create" then
      local body = string.format('{"score":%d,"category":"%s","name":"bench","n":0,"ACL":{"%s":{"read":true,"write":true}}}',
        math.random(0, 999), categories[math.random(#categories)], o.uid)
      return wrk.format("POST", base, h, body)
    elseif mode == "user-get" then
      return wrk.format("GET", base .. "/" .. o.id, h)
    else
      return wrk.format("GET", query_path(), h)
    end
  elseif mode == "fn-empty" then
    return wrk.format("POST", os.getenv("BENCH_MOUNT") .. "/functions/empty", nil, "{}")
  elseif mode == "fn-hello" then
    return wrk.format("POST", os.getenv("BENCH_MOUNT") .. "/functions/hello", nil, '{"name":"bench"}')
  elseif mode == "plain" then
    local h = { ["X-Parse-Master-Key"] = os.getenv("BENCH_MASTER") }
    for k, v in pairs(wrk.headers) do h[k] = v end
    return wrk.format("GET", os.getenv("BENCH_MOUNT") .. "/serverInfo", h)
  elseif mode == "cloud-create" then
    return wrk.format("POST", os.getenv("BENCH_MOUNT") .. "/classes/CloudBench", nil, '{"name":" Bench Item "}')
  elseif mode == "create" then
    local body = string.format('{"score":%d,"category":"%s","name":"bench","n":0}',
      math.random(0, 999), categories[math.random(#categories)])
    return wrk.format("POST", base, nil, body)
  elseif mode == "get" then
    return wrk.format("GET", base .. "/" .. ids[math.random(#ids)])
  elseif mode == "query" then
    return wrk.format("GET", query_path())
  elseif mode == "update" then
    return wrk.format("PUT", base .. "/" .. ids[math.random(#ids)], nil, '{"n":{"__op":"Increment","amount":1}}')
  end
end

-- wrk counts answers of 400 and above in summary.errors.status.
function done(summary, latency, requests)
  io.write(string.format("NON2XX %d\n", summary.errors.status))
end
