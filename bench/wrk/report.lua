-- wrk script of cio's side-by-side benchmark (bench/harness.py).
--
-- Pipelining: with CIO_BENCH_PIPELINE=N (N > 1) in the environment, every write carries N
-- GET requests and wrk waits for the N responses before the next write (wrk counts the
-- requests of a batch when it checks the script). Without it the script defines no request()
-- function, so wrk keeps its static request and pays no Lua call per request.
--
-- At the end, one machine-readable line on stdout (after wrk's own report):
--   CIO_BENCH requests=R duration_us=D errors=E p50_us=X p99_us=Y
-- errors sums connect, read, write, timeout and non-2xx responses. With pipelining, wrk's
-- latency is that of a whole batch: from its write to the batch's last response.

local depth = tonumber(os.getenv("CIO_BENCH_PIPELINE") or "1") or 1
local batch = nil

if depth > 1 then
   init = function(args)
      local r = {}
      for i = 1, depth do
         r[i] = wrk.format(nil, wrk.path)
      end
      batch = table.concat(r)
   end

   request = function()
      return batch
   end
end

-- wrk "corrects for coordinated omission" at the end of a run: it adds samples below every slow
-- one, spaced by the mean time between responses on a connection. With pipelining that spacing
-- is taken per response, not per batch, and part of the added samples land below the lowest
-- recorded value, where latency:percentile() never looks while still counting them; its high
-- percentiles then come out as 0 ("99% 0.00us"). So the percentiles here are those of the
-- samples it can see: the fraction of them is found by bisection first.
local function percentile(stats, p)
   if stats:percentile(100) > 0 then
      return stats:percentile(p)
   end
   local lo, hi = 0, 100 -- percentile(lo) > 0, percentile(hi) == 0
   for _ = 1, 40 do
      local mid = (lo + hi) / 2
      if stats:percentile(mid) > 0 then
         lo = mid
      else
         hi = mid
      end
   end
   return stats:percentile(p * lo / 100)
end

done = function(summary, latency, requests)
   local e = summary.errors
   local errors = e.connect + e.read + e.write + e.timeout + e.status
   io.write(string.format("CIO_BENCH requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
      summary.requests, summary.duration, errors,
      percentile(latency, 50), percentile(latency, 99)))
end
