-- wrk script for bench/ingress.py: POST one image as multipart/form-data with an API key, and
-- count the responses by status code (printed as one JSON line by done()).
-- usage: wrk -s bench/wrk_post.lua URL -- API_KEY IMAGE_PATH
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[2], "rb"))
  local image = file:read("*a")
  file:close()
  local boundary = "cutout-bench-boundary"
  local body = "--" .. boundary .. "\r\n"
    .. 'Content-Disposition: form-data; name="image"; filename="photo.jpg"\r\n'
    .. "Content-Type: image/jpeg\r\n\r\n" .. image .. "\r\n--" .. boundary .. "--\r\n"
  local headers = {
    ["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
    ["X-API-Key"] = args[1],
  }
  prepared = wrk.format("POST", nil, headers, body)
  counts = {}
end

function request()
  return prepared
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  io.write(string.format(
    'WRK_JSON {"duration_s": %.3f, "requests": %d, "errors": %d, "p50_ms": %.2f, '
      .. '"p99_ms": %.2f, "status": {%s}}\n',
    summary.duration / 1e6, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, table.concat(parts, ", ")))
end
