-- clerksync bench: wrk replays a pre-generated list of raw requests, each
-- exactly once. Run with as many threads as connections (-t C -c C), so
-- request() and response() alternate on each thread:
--   wrk -t C -c C -d 600s -s bench/replay.lua URL -- REQDIR OUTDIR
-- Thread k reads REQDIR/req.k ("<length>\n<raw request>" records) and,
-- after its last response, writes OUTDIR/res.k and stops; the driver
-- (bench/run.mjs) waits for all of them and then ends wrk with SIGINT.
-- res.k: "first_send_us last_recv_us count" (CLOCK_MONOTONIC), then
-- "s <status> <n>" and "o <outcome> <n>" lines, then "<latency> <end>"
-- (us) per request. wrk's own latency figures are not used: it stretches the run to
-- -d and "corrects" latencies for coordinated omission.
-- SPDX-License-Identifier: ISC

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
]]
local tsbuf = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, tsbuf)  -- CLOCK_MONOTONIC
  return tonumber(tsbuf.tv_sec) * 1000000 + tonumber(tsbuf.tv_nsec) / 1000
end

local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local reqs, lat, fin, statuses, outcomes = {}, {}, {}, {}, {}
local done, t_req, first_send, outdir = 0, 0, nil, nil
-- Only if asked for more than the list holds (it should not be): a GET
-- that lighttpd answers 404 without reaching clerksync, so it shows.
local extra = "GET /bench-extra HTTP/1.1\r\nHost: x\r\n\r\n"

function init(args)
  local f = assert(io.open(args[1] .. "/req." .. tid, "rb"))
  local data = f:read("*a")
  f:close()
  outdir = args[2]
  local pos = 1
  while pos <= #data do
    local nl = data:find("\n", pos, true)
    local len = tonumber(data:sub(pos, nl - 1))
    reqs[#reqs + 1] = data:sub(nl + 1, nl + len)
    pos = nl + 1 + len
  end
end

-- Indexed by responses received: wrk's start-up check on thread 0 and a
-- reconnect both ask again for the request not yet answered.
function request()
  t_req = now_us()
  return reqs[done + 1] or extra
end

local function count(t, k)
  t[k] = (t[k] or 0) + 1
end

function response(status, headers, body)
  local t = now_us()
  if first_send == nil then first_send = t_req end
  done = done + 1
  lat[done] = t - t_req
  fin[done] = t
  count(statuses, status)
  count(outcomes, body:match('"status":"([%w_]+)"') or body:match('"error":"([%w_]+)"') or "other")
  if done == #reqs then
    local name = outdir .. "/res." .. tid
    local f = assert(io.open(name .. ".tmp", "wb"))
    f:write(string.format("%.0f %.0f %d\n", first_send, t, done))
    for k, v in pairs(statuses) do f:write(string.format("s %s %d\n", k, v)) end
    for k, v in pairs(outcomes) do f:write(string.format("o %s %d\n", k, v)) end
    for i = 1, done do f:write(string.format("%.0f %.0f\n", lat[i], fin[i])) end
    f:close()
    os.rename(name .. ".tmp", name)
    wrk.thread:stop()
  end
end
