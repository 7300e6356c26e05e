-- wrk script for eng/bench/relay/run.sh: a fixed load below saturation on keep-alive connections.
-- Each connection waits 5-15 ms (uniform, 10 ms on average) before each request, so -c32 offers about
-- 32 / 10 ms = 3,200 requests/s whatever the relay (wrk measures latency from the write, without the pause).
-- done() prints one parseable line with the achieved rate and the latency percentiles in microseconds.

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(os.time() + (seed or 0))
end

function delay()
  return math.random(5, 15)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "FIXED requests=%.0f duration_us=%.0f p50_us=%.0f p99_us=%.0f p999_us=%.0f errors=%.0f\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), e.connect + e.read + e.write + e.status + e.timeout))
end
