-- wrk script: POST one minimal data task as JSON (the same body for Taskyard and the baseline).
-- BENCH_API_KEY, when set, is sent as a Bearer key.
wrk.method = "POST"
wrk.body = '{"type":"data","priority":"normal","payload":{"input":{"records":[{"region":"eu","amount":10}]}}}'
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_API_KEY")
if key ~= nil and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
