#!/usr/bin/env bash
# Routing benchmark, on loopback: several routes on one listener, chosen from the client's first bytes.
#   A. SNI: the Gateway sample with two `Match: { Sni }` routes and a default on one listener vs HAProxy `mode tcp`
#      with `tcp-request inspect-delay 5s` and `use_backend ... if { req.ssl_sni -i ... }`, both relaying the TLS
#      bytes (never terminated) with a PROXY v2 header to nginx `listen ... ssl proxy_protocol`;
#   B. Host: the gateway with two `Match: { Host }` routes and a default (first request's Host, then an L4 relay) vs
#      HAProxy `mode http` with `use_backend ... if { hdr(host) -i ... }` and `send-proxy-v2`, both in front of
#      nginx `listen ... proxy_protocol`.
#
#   ./eng/bench/routing/run.sh           6 interleaved rounds of 5 s steps; writes the "Routing" section of
#                                        docs/benchmarks.md
#   ./eng/bench/routing/run.sh --smoke   1 round of 1 s steps; writes artifacts/bench/routing-smoke.md and never
#                                        touches docs/
#
# Installs haproxy, nginx and wrk with apt-get if missing, builds samples/Gateway in Release, makes a self-signed
# ECDSA certificate with openssl in the work directory, starts nginx, HAProxy and the gateway in the foreground on
# free loopback ports, checks that every route answers from the right backend, then measures with wrk:
#   - sni:        wrk -t2 -c32 Connection: close over https to a.example.com (every request a new TLS connection,
#                 a full handshake: nginx keeps no session cache and sends no tickets);
#   - host-ka:    wrk -t2 -c32 keep-alive, Host: a.example.com;
#   - host-close: wrk -t2 -c32 Connection: close, Host: a.example.com;
# and each proxy's CPU time from /proc/PID/stat around every step. Every process started here is stopped on exit.
# Raw results stay in artifacts/bench/routing-raw*.jsonl.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
repo="$(pwd)"
here="$repo/eng/bench/routing"

smoke=0
if [[ "${1:-}" == "--smoke" ]]; then smoke=1; fi
if (( smoke )); then
  T=1; ROUNDS=1; WARM=1
  out_md=artifacts/bench/routing-smoke.md
  raw=artifacts/bench/routing-raw-smoke.jsonl; cmdline="./eng/bench/routing/run.sh --smoke"
else
  T=5; ROUNDS=6; WARM=2
  out_md=docs/benchmarks.md
  raw=artifacts/bench/routing-raw.jsonl; cmdline="./eng/bench/routing/run.sh"
fi
mkdir -p artifacts/bench
: > "$raw"
started_at=$(date +%s)
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

log() { echo "[routing-bench $(date +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- tools
missing=()
command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
if (( ${#missing[@]} )); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 600 apt-get install -y -qq "${missing[@]}" >/dev/null
  # Some images start the packaged services on install; we run our own instances.
  for svc in haproxy nginx; do
    timeout 30 service "$svc" stop >/dev/null 2>&1 || true
  done
fi
export PATH="$PATH:/usr/sbin:/sbin"

# ---------------------------------------------------------------- build
log "building samples/Gateway (Release)"
timeout 600 dotnet build samples/Gateway -c Release -nologo -v q >/dev/null
gateway_dir="$repo/samples/Gateway/bin/Release/net10.0"
[[ -f "$gateway_dir/Gateway.dll" ]] || { echo "Gateway.dll not found in $gateway_dir" >&2; exit 1; }

# ---------------------------------------------------------------- processes
source "$repo/eng/bench/lib.sh"
bench_start routing-bench

# Free loopback ports: bind to port 0 and release (all at once so they are distinct).
# nginx: S_* TLS listeners (SNI test), W_* HTTP listeners (Host test); the proxies: one listener each per test.
read -r S_A S_B S_DEF W_A W_B W_DEF H_SNI H_HOST G_SNI G_HOST < <(bench_free_ports 10)

# One self-signed ECDSA P-256 certificate for every name the test asks for (the client does not verify it).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=example.com" \
  -addext "subjectAltName=DNS:a.example.com,DNS:b.example.com,DNS:other.example.com" \
  -keyout "$work/key.pem" -out "$work/cert.pem" >"$work/openssl.log" 2>&1

# nginx: every listener reads a PROXY header and answers with its own name and the client address from the header,
# so the checks below see both the route taken and the header. TLS: no session cache and no tickets, so every new
# connection is a full handshake. Keep-alive on, with no request limit per connection.
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_timeout 75s;
  keepalive_requests 10000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  ssl_certificate $work/cert.pem;
  ssl_certificate_key $work/key.pem;
  ssl_session_cache off;
  ssl_session_tickets off;
  server { listen 127.0.0.1:$S_A ssl proxy_protocol;   location / { return 200 "tls-a \$proxy_protocol_addr\n"; } }
  server { listen 127.0.0.1:$S_B ssl proxy_protocol;   location / { return 200 "tls-b \$proxy_protocol_addr\n"; } }
  server { listen 127.0.0.1:$S_DEF ssl proxy_protocol; location / { return 200 "tls-d \$proxy_protocol_addr\n"; } }
  server { listen 127.0.0.1:$W_A proxy_protocol;       location / { return 200 "web-a \$proxy_protocol_addr\n"; } }
  server { listen 127.0.0.1:$W_B proxy_protocol;       location / { return 200 "web-b \$proxy_protocol_addr\n"; } }
  server { listen 127.0.0.1:$W_DEF proxy_protocol;     location / { return 200 "web-d \$proxy_protocol_addr\n"; } }
}
EOF
log "nginx: TLS on $S_A $S_B $S_DEF, HTTP on $W_A $W_B $W_DEF (all proxy_protocol)"
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' >"$work/nginx.log" 2>&1 &
pids+=($!)

cat >"$work/haproxy.cfg" <<EOF
global
  maxconn 8000
defaults
  timeout connect 5s
  timeout client 1m
  timeout server 1m
frontend sni
  mode tcp
  bind 127.0.0.1:$H_SNI
  tcp-request inspect-delay 5s
  tcp-request content accept if { req.ssl_hello_type 1 }
  use_backend tls-a if { req.ssl_sni -i a.example.com }
  use_backend tls-b if { req.ssl_sni -i b.example.com }
  default_backend tls-d
backend tls-a
  mode tcp
  server s1 127.0.0.1:$S_A send-proxy-v2
backend tls-b
  mode tcp
  server s1 127.0.0.1:$S_B send-proxy-v2
backend tls-d
  mode tcp
  server s1 127.0.0.1:$S_DEF send-proxy-v2
frontend host
  mode http
  bind 127.0.0.1:$H_HOST
  use_backend web-a if { hdr(host) -i a.example.com }
  use_backend web-b if { hdr(host) -i b.example.com }
  default_backend web-d
backend web-a
  mode http
  server s1 127.0.0.1:$W_A send-proxy-v2
backend web-b
  mode http
  server s1 127.0.0.1:$W_B send-proxy-v2
backend web-d
  mode http
  server s1 127.0.0.1:$W_DEF send-proxy-v2
EOF
log "haproxy: SNI (mode tcp) on $H_SNI, Host (mode http) on $H_HOST"
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!); pid_haproxy=$!

# The gateway as shipped (its appsettings.json is loaded from its own directory, its transport the default), plus
# this file: three routes on each of two listeners; the shipped SMTP route moved to a free port. The access log is
# off, as HAProxy here logs nothing (no "log" line).
cluster() { # name port
  echo "\"$1\": { \"Metadata\": { \"ProxyProtocol\": \"v2\" }, \"Destinations\": { \"d1\": { \"Address\": \"tcp://127.0.0.1:$2\" } } }"
}
cat >"$work/gateway.json" <<EOF
{
  "Logging": { "LogLevel": { "Default": "Warning", "ProxyKestrel.Gateway.AccessLog": "None" } },
  "ReverseProxy": { "Clusters": {
    $(cluster tls-a "$S_A"), $(cluster tls-b "$S_B"), $(cluster tls-d "$S_DEF"),
    $(cluster web-a "$W_A"), $(cluster web-b "$W_B"), $(cluster web-d "$W_DEF")
  } },
  "TcpProxy": {
    "DrainTimeout": "00:00:02",
    "Routes": {
      "smtp":  { "Listen": "127.0.0.1:0" },
      "tls-a": { "Listen": "127.0.0.1:$G_SNI", "Match": { "Sni": [ "a.example.com" ] }, "ClusterId": "tls-a" },
      "tls-b": { "Listen": "127.0.0.1:$G_SNI", "Match": { "Sni": [ "b.example.com" ] }, "ClusterId": "tls-b" },
      "tls-d": { "Listen": "127.0.0.1:$G_SNI", "ClusterId": "tls-d" },
      "web-a": { "Listen": "127.0.0.1:$G_HOST", "Match": { "Host": [ "a.example.com" ] }, "ClusterId": "web-a" },
      "web-b": { "Listen": "127.0.0.1:$G_HOST", "Match": { "Host": [ "b.example.com" ] }, "ClusterId": "web-b" },
      "web-d": { "Listen": "127.0.0.1:$G_HOST", "ClusterId": "web-d" }
    }
  }
}
EOF
log "gateway: SNI routes on $G_SNI, Host routes on $G_HOST"
(cd "$gateway_dir" && exec dotnet Gateway.dll --urls http://127.0.0.1:0 --Admin:Urls http://127.0.0.1:0 \
  --config "$work/gateway.json") >"$work/gateway.log" 2>&1 &
pids+=($!); pid_gateway=$!

for p in "$S_A:nginx" "$S_B:nginx" "$S_DEF:nginx" "$W_A:nginx" "$W_B:nginx" "$W_DEF:nginx" \
         "$H_SNI:haproxy" "$H_HOST:haproxy" "$G_SNI:gateway" "$G_HOST:gateway"; do
  wait_port "${p%%:*}" "${p#*:}"
done
sleep 1

# ---------------------------------------------------------------- checks
# Every route of both proxies must answer from its own backend, with the client address from the PROXY header,
# before anything is measured (a wrong route, or a missing header, fails here).
declare -A sni_port=([haproxy]=$H_SNI [gateway]=$G_SNI)
declare -A host_port=([haproxy]=$H_HOST [gateway]=$G_HOST)
declare -A cpu_pid=([haproxy]=$pid_haproxy [gateway]=$pid_gateway)
check() { # what expected curl-arguments...
  local what="$1" expected="$2"; shift 2
  local got
  got="$(timeout 10 curl -sS -k --max-time 5 "$@" 2>&1 || true)"
  [[ "$got" == "$expected" ]] || { echo "$what answered '$got' instead of '$expected'; logs in $work" >&2; exit 1; }
}
for p in haproxy gateway; do
  sp=${sni_port[$p]}; hp=${host_port[$p]}
  for name in a b other; do
    want=tls-d; [[ "$name" != other ]] && want="tls-$name"
    check "$p SNI $name.example.com" "$want 127.0.0.1" \
      --resolve "$name.example.com:$sp:127.0.0.1" "https://$name.example.com:$sp/"
    want=web-d; [[ "$name" != other ]] && want="web-$name"
    check "$p Host $name.example.com" "$want 127.0.0.1" -H "Host: $name.example.com" "http://127.0.0.1:$hp/"
  done
  check "$p TLS without SNI" "tls-d 127.0.0.1" "https://127.0.0.1:$sp/"
done
log "every route of both proxies answers from its own backend with a PROXY v2 header"

cpu_ticks() { # pid -> utime+stime in clock ticks
  # Field 2 (comm) may hold spaces: cut everything up to the last ')'.
  local stat; stat="$(<"/proc/$1/stat")"; stat="${stat##*) }"
  local f; read -r -a f <<<"$stat"
  echo $(( f[11] + f[12] ))
}
clk_tck="$(getconf CLK_TCK)"
alive() {
  kill -0 "$pid_haproxy" 2>/dev/null || { log "haproxy died; log:"; tail -n 20 "$work/haproxy.log" >&2; exit 1; }
  kill -0 "$pid_gateway" 2>/dev/null || { log "gateway died; log:"; tail -n 40 "$work/gateway.log" >&2; exit 1; }
}

# ---------------------------------------------------------------- measure
tests=(sni host-ka host-close)
proxies=(haproxy gateway)

run_wrk() { # file proxy test seconds
  local args=(-t2 -c32 -d"${4}s" --latency)
  case "$3" in
    sni) args+=(-H "Connection: close" -s "$here/resolve-loopback.lua" "https://a.example.com:${sni_port[$2]}/") ;;
    host-ka) args+=(-H "Host: a.example.com" "http://127.0.0.1:${host_port[$2]}/") ;;
    host-close) args+=(-H "Host: a.example.com" -H "Connection: close" "http://127.0.0.1:${host_port[$2]}/") ;;
  esac
  timeout $(($4 + 30)) wrk "${args[@]}" >"$1" 2>&1
}

# A short warm-up through each proxy (JIT, pools), not recorded.
for p in "${proxies[@]}"; do
  for test in "${tests[@]}"; do run_wrk "$work/warmup.txt" "$p" "$test" "$WARM" || true; done
done
alive

for ((round = 0; round < ROUNDS; round++)); do
  for test in "${tests[@]}"; do
    for ((i = 0; i < 2; i++)); do
      p=${proxies[$(((i + round) % 2))]}
      log "round $((round + 1))/$ROUNDS $test via $p"
      f="$work/wrk-$round-$test-$p.txt"
      before=$(cpu_ticks "${cpu_pid[$p]}")
      if run_wrk "$f" "$p" "$test" "$T"; then
        after=$(cpu_ticks "${cpu_pid[$p]}")
        python3 "$here/report.py" parse-wrk "$f" "$p" "$round" "$test" $((after - before)) "$clk_tck" >>"$raw"
      else
        log "wrk $test via $p failed: $(tail -n 3 "$f" | tr '\n' ' ')"
      fi
      sleep 0.3
    done
  done
  alive
done

# ---------------------------------------------------------------- report
cpu_model="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | sed -n 1p)"
ver_haproxy="$(haproxy -v | sed -n 1p)"
ver_nginx="$(nginx -v 2>&1 | sed -n 1p)"
ver_openssl="$(openssl version)"
ver_dotnet="$(dotnet --version)"
ver_wrk="$( (wrk -v 2>&1 || true) | sed -n 1p)"
gw_rss_kb="$(awk '/^VmHWM/ {print $2}' "/proc/$pid_gateway/status" 2>/dev/null || echo "")"

python3 "$here/report.py" report \
  --raw "$raw" --out "$out_md" --smoke "$smoke" \
  --date "$(date -u '+%Y-%m-%d %H:%M')" --cpu "$cpu_model" --cores "$(nproc)" --kernel "$(uname -r)" \
  --haproxy "$ver_haproxy" --nginx "$ver_nginx" --openssl "$ver_openssl" --dotnet "$ver_dotnet" --wrk "$ver_wrk" \
  --command "$cmdline" --seconds "$T" --rounds "$ROUNDS" --gateway-peak-rss-kb "$gw_rss_kb" \
  --wall "$(( $(date +%s) - started_at ))" --load-before "$load_before" \
  --load-after "$(cut -d' ' -f1-3 /proc/loadavg)" --transport "${TcpProxy__Transport:-Auto}"
log "wrote $out_md in $(( $(date +%s) - started_at )) s (raw: $raw)"
