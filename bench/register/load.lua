-- wrk script for the register service's load benchmark (bench/register).
--
--   wrk -t2 -c64 -d33s -s load.lua http://127.0.0.1:PORT -- LINES_FILE THREADS 30
--
-- Every request comes from one line of LINES_FILE, tab-separated:
--   METHOD  PATH  SESSION_TOKEN  CSRF_TOKEN  [BODY]
-- so each request carries the session cookie of the caseworker whose
-- council holds the child (a caseworker sees only their own council's
-- children). Thread k of n takes lines k, k+n, k+2n, ... and goes round
-- them in order, so no two threads ever send the same line: a write
-- changes an entry no other connection is changing at that moment. In a
-- body, "@V@" stands for the entry's version: 1 on the first pass over the
-- lines, 2 on the second, and so on, so a write is never made from a stale
-- version even when the lines run out and start again.
--
-- The last argument is the active time in seconds: after it, no request
-- is started (delay() holds every connection back) while those in flight
-- are answered, so when wrk stops, given a few seconds more than that,
-- nothing is cut off mid-request and the server has answered every
-- request wrk sent (a request cut off can be carried out, and audited, by
-- the server without its answer being logged).
--
-- done() prints one line, "WRK_JSON {...}", that bench.py reads: requests
-- completed, errors by kind, and latency percentiles in microseconds.

local ffi = require("ffi")
ffi.cdef [[
  struct bench_timespec { long tv_sec; long tv_nsec; };
  int clock_gettime(int clk, struct bench_timespec *tp);
]]
local ts = ffi.new("struct bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads, active = args[1], tonumber(args[2]), tonumber(args[3])
  reqs = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == tid then
      local m, p, token, csrf, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$")
      local h = { ["Cookie"] = "cnis_session=" .. token }
      if m ~= "GET" then
        h["X-CSRF-Token"] = csrf
        h["Content-Type"] = "application/json"
      end
      if body == "" then body = nil end
      local versioned = body ~= nil and body:find("@V@", 1, true) ~= nil
      local first = nil
      if versioned then
        first = wrk.format(m, p, h, (body:gsub("@V@", "1")))
      else
        first = wrk.format(m, p, h, body)
      end
      reqs[#reqs + 1] = { m, p, h, body, versioned, first }
    end
    i = i + 1
  end
  pos = 0
  pass = 1
  sent = 0
  span = active
end

function delay()
  -- The active time starts with the thread's first request, after its
  -- lines are read.
  if ends == nil then
    ends = now() + span
  end
  if now() >= ends then
    return 3600000
  end
  return 0
end

function request()
  if ends == nil then
    -- wrk's check of the script, before the run (delay() has not run
    -- yet): answer with the first line, unsent and not counted.
    return reqs[1][6]
  end
  pos = pos + 1
  if pos > #reqs then
    pos = 1
    pass = pass + 1
  end
  local r = reqs[pos]
  sent = sent + 1
  if pass == 1 or not r[5] then
    return r[6]
  end
  return wrk.format(r[1], r[2], r[3], (r[4]:gsub("@V@", tostring(pass))))
end

function done(summary, latency, requests)
  local e = summary.errors
  local made = 0
  for _, t in ipairs(threads) do
    made = made + t:get("sent")
  end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"sent":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, made, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
