-- wrk script for benches/load/run.sh: prints one machine-readable line at the end of a run.
-- It defines only done(), so wrk's request path (and its speed) is unchanged.
--
-- RESULT <requests> <duration_us> <p50_us> <p99_us> <mean_us> <status_errors> <socket_errors>
--
-- status_errors counts responses that were not 2xx/3xx; socket_errors is connect + read + write
-- + timeout.

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %.1f %d %d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.mean,
    e.status, e.connect + e.read + e.write + e.timeout))
end
