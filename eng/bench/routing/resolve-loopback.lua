-- Connects to 127.0.0.1 whatever host the URL names, so that the URL's host is only the TLS server name (SNI) and
-- the Host header: `wrk -s resolve-loopback.lua https://a.example.com:PORT/` opens TLS to 127.0.0.1:PORT asking for
-- a.example.com, without /etc/hosts or DNS.
wrk.resolve = function(host, service)
  wrk.addrs = wrk.lookup("127.0.0.1", service)
end
