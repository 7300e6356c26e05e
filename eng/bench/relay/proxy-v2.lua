-- wrk script for eng/bench/relay/run.sh: the "direct" path of the PROXY header test. With
-- "Connection: close" every request is a new connection, so prefixing each request with a PROXY v2 header
-- (TCP over IPv4, 127.0.0.1:12345 -> 127.0.0.1:80) makes wrk itself send what a relay would send.
-- wrk checks the first request of its first thread with its HTTP parser, which rejects the binary prefix: that
-- one call (never sent) gets the plain request.

local header = string.char(
  0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, -- signature
  0x21,                                                                   -- version 2, PROXY
  0x11,                                                                   -- AF_INET, STREAM
  0x00, 0x0C,                                                             -- 12 address bytes
  127, 0, 0, 1, 127, 0, 0, 1,                                             -- source, destination
  0x30, 0x39, 0x00, 0x50)                                                 -- ports 12345, 80
local threads = 0
local plain, req

function setup(thread)
  threads = threads + 1
  thread:set("checked", threads == 1)
end

function init(args)
  plain = wrk.format()
  req = header .. plain
end

function request()
  if checked then
    checked = false
    return plain
  end
  return req
end
