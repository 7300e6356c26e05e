#!/usr/bin/env bash
# Relay benchmark: the Gateway sample's TCP route vs HAProxy `mode tcp` vs no relay ("direct"), on loopback.
#
#   ./eng/bench/relay/run.sh           3 interleaved rounds of 5 s steps, 5,000 idle connections; writes the
#                                      "Relay vs HAProxy (TCP)" section of docs/benchmarks.md and docs/benchmarks-relay.svg
#   ./eng/bench/relay/run.sh --smoke   1 round of 1 s steps, 500 idle connections; writes artifacts/bench/relay-smoke.md
#                                      (+ .svg) and never touches docs/
#   TcpProxy__Transport=Sockets ./eng/bench/relay/run.sh
#                                      the gateway on its portable socket transport instead of the default (Auto)
#
# Installs haproxy, iperf3, wrk, nginx and nghttp2-client with apt-get if missing, and dotnet-gcdump into
# artifacts/tools; builds samples/Gateway in Release; starts iperf3 -s, nginx (three servers: `return 200` with
# keep-alive off, with keep-alive on, and a `proxy_protocol` listener) and a Python sink that holds connections as
# backends, HAProxy and the gateway in front of each. Per round, each relay in rotated order:
#   - iperf3 -P1/-P4 both directions (MB/s) and the proxy's CPU time over each step (CPU-s per GB);
#   - wrk -t2 -c32 Connection: close (new connections/s, p99) and the proxy's CPU time (CPU-s per 1,000 connections);
#   - wrk -t2 -c32 keep-alive paced by fixed-load.lua (~3,200 req/s): p50/p99/p99.9 at a fixed load;
#   - wrk Connection: close to the proxy_protocol listener, the relay sending a PROXY v2 header (direct: wrk sends it);
# and once, after the warm-up and before the rounds: memory per idle proxied connection (RSS, and for the gateway
# the managed heap after a full GC) while idle_conns.py holds N connections through the relay to the sink.
# Every process started here is stopped on exit. Raw results stay in artifacts/bench/relay-raw*.jsonl.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
repo="$(pwd)"
here="$repo/eng/bench/relay"

smoke=0
if [[ "${1:-}" == "--smoke" ]]; then smoke=1; fi
if (( smoke )); then
  T=1; ROUNDS=1; HOLD=500
  out_md=artifacts/bench/relay-smoke.md; out_svg=artifacts/bench/relay-smoke.svg
  raw=artifacts/bench/relay-raw-smoke.jsonl; cmdline="./eng/bench/relay/run.sh --smoke"
else
  T=5; ROUNDS=3; HOLD=5000
  out_md=docs/benchmarks.md; out_svg=docs/benchmarks-relay.svg
  raw=artifacts/bench/relay-raw.jsonl; cmdline="./eng/bench/relay/run.sh"
fi
mkdir -p artifacts/bench
: > "$raw"
started_at=$(date +%s)

log() { echo "[relay-bench $(date +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- tools
missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
command -v iperf3 >/dev/null || missing+=(iperf3)
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx)
command -v h2load >/dev/null || missing+=(nghttp2-client)
if (( ${#missing[@]} )); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 600 apt-get install -y -qq "${missing[@]}" >/dev/null
  # Some images start the packaged services on install; we run our own instances.
  for svc in haproxy nginx iperf3; do
    timeout 30 service "$svc" stop >/dev/null 2>&1 || true
  done
fi
gcdump="$repo/artifacts/tools/dotnet-gcdump"
if [[ ! -x "$gcdump" ]]; then
  log "installing dotnet-gcdump into artifacts/tools"
  timeout 300 dotnet tool install --tool-path artifacts/tools dotnet-gcdump --version 10.0.750501 >/dev/null
fi
CLK_TCK="$(getconf CLK_TCK)"

# ---------------------------------------------------------------- build
log "building samples/Gateway (Release)"
timeout 600 dotnet build samples/Gateway -c Release -nologo -v q >/dev/null
gateway_dir="$repo/samples/Gateway/bin/Release/net10.0"
[[ -f "$gateway_dir/Gateway.dll" ]] || { echo "Gateway.dll not found in $gateway_dir" >&2; exit 1; }

# ---------------------------------------------------------------- processes
source "$repo/eng/bench/lib.sh"
bench_start relay-bench

# Free loopback ports: bind to port 0 and release (all at once so they are distinct).
# P_* backends, H_* HAProxy, G_* gateway; IPERF throughput, HTTP close, KA keep-alive, PP proxy_protocol, SINK idle.
read -r P_IPERF P_HTTP P_KA P_PP P_SINK H_IPERF H_HTTP H_KA H_PP H_SINK G_IPERF G_HTTP G_KA G_PP G_SINK < <(bench_free_ports 15)


log "iperf3 -s on $P_IPERF"
iperf3 -s -p "$P_IPERF" >"$work/iperf3.log" 2>&1 &
pids+=($!)

log "idle-connection sink on $P_SINK"
python3 "$here/idle_conns.py" sink "$P_SINK" >"$work/sink.log" 2>&1 &
pids+=($!)

mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_timeout 0;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$P_HTTP;
    location / { return 200 "ok\n"; }
  }
  server {
    listen 127.0.0.1:$P_KA;
    keepalive_timeout 65s;
    keepalive_requests 10000000;
    location / { return 200 "ok\n"; }
  }
  server {
    listen 127.0.0.1:$P_PP proxy_protocol;
    location / { return 200 "ok \$proxy_protocol_addr\n"; }
  }
}
EOF
log "nginx on $P_HTTP (close), $P_KA (keep-alive), $P_PP (proxy_protocol)"
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' >"$work/nginx.log" 2>&1 &
pids+=($!)

# maxconn 8000 (global and per frontend): room for the idle-connection test; 2 fds per connection stays under the
# 20,000 open files this machine allows per process.
cat >"$work/haproxy.cfg" <<EOF
global
  maxconn 8000
defaults
  mode tcp
  maxconn 8000
  timeout connect 5s
  timeout client 1m
  timeout server 1m
frontend iperf
  bind 127.0.0.1:$H_IPERF
  default_backend iperf
backend iperf
  server s1 127.0.0.1:$P_IPERF
frontend http
  bind 127.0.0.1:$H_HTTP
  default_backend http
backend http
  server s1 127.0.0.1:$P_HTTP
frontend ka
  bind 127.0.0.1:$H_KA
  default_backend ka
backend ka
  server s1 127.0.0.1:$P_KA
frontend pp
  bind 127.0.0.1:$H_PP
  default_backend pp
backend pp
  server s1 127.0.0.1:$P_PP send-proxy-v2
frontend sink
  bind 127.0.0.1:$H_SINK
  default_backend sink
backend sink
  server s1 127.0.0.1:$P_SINK
EOF
log "haproxy on $H_IPERF $H_HTTP $H_KA $H_PP $H_SINK"
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
haproxy_pid=$!
pids+=($haproxy_pid)

# The gateway as shipped (its appsettings.json is loaded from its own directory), plus this file.
# Only the "pp" cluster has ProxyProtocol metadata: the other backends do not read a PROXY header.
# The access log is off, as HAProxy here logs nothing (no "log" line): both relays do the same work per connection.
cat >"$work/gateway.json" <<EOF
{
  "Logging": { "LogLevel": { "Default": "Warning", "ProxyKestrel.Gateway.AccessLog": "None" } },
  "ReverseProxy": { "Clusters": {
    "iperf": { "Destinations": { "d1": { "Address": "tcp://127.0.0.1:$P_IPERF" } } },
    "http":  { "Destinations": { "d1": { "Address": "tcp://127.0.0.1:$P_HTTP" } } },
    "ka":    { "Destinations": { "d1": { "Address": "tcp://127.0.0.1:$P_KA" } } },
    "pp":    { "Metadata": { "ProxyProtocol": "v2" },
               "Destinations": { "d1": { "Address": "tcp://127.0.0.1:$P_PP" } } },
    "sink":  { "Destinations": { "d1": { "Address": "tcp://127.0.0.1:$P_SINK" } } }
  } },
  "TcpProxy": {
    "DrainTimeout": "00:00:02",
    "Routes": {
      "smtp":  { "Listen": "127.0.0.1:0" },
      "iperf": { "Listen": "127.0.0.1:$G_IPERF", "ClusterId": "iperf" },
      "http":  { "Listen": "127.0.0.1:$G_HTTP", "ClusterId": "http" },
      "ka":    { "Listen": "127.0.0.1:$G_KA", "ClusterId": "ka" },
      "pp":    { "Listen": "127.0.0.1:$G_PP", "ClusterId": "pp" },
      "sink":  { "Listen": "127.0.0.1:$G_SINK", "ClusterId": "sink" }
    }
  }
}
EOF
log "gateway on $G_IPERF $G_HTTP $G_KA $G_PP $G_SINK"
(cd "$gateway_dir" && exec dotnet Gateway.dll --urls http://127.0.0.1:0 --Admin:Urls http://127.0.0.1:0 \
  --config "$work/gateway.json") >"$work/gateway.log" 2>&1 &
gateway_pid=$!
pids+=($gateway_pid)

for p in "$P_IPERF:iperf3" "$P_SINK:sink" "$P_HTTP:nginx" "$P_KA:nginx" "$P_PP:nginx" \
         "$H_IPERF:haproxy" "$H_HTTP:haproxy" "$H_KA:haproxy" "$H_PP:haproxy" "$H_SINK:haproxy" \
         "$G_IPERF:gateway" "$G_HTTP:gateway" "$G_KA:gateway" "$G_PP:gateway" "$G_SINK:gateway"; do
  wait_port "${p%%:*}" "${p#*:}"
done
sleep 1

# ---------------------------------------------------------------- measure
declare -A iperf_port=([direct]=$P_IPERF [haproxy]=$H_IPERF [gateway]=$G_IPERF)
declare -A http_port=([direct]=$P_HTTP [haproxy]=$H_HTTP [gateway]=$G_HTTP)
declare -A ka_port=([direct]=$P_KA [haproxy]=$H_KA [gateway]=$G_KA)
declare -A pp_port=([direct]=$P_PP [haproxy]=$H_PP [gateway]=$G_PP)
declare -A sink_port=([haproxy]=$H_SINK [gateway]=$G_SINK)
declare -A proxy_pid=([direct]="" [haproxy]=$haproxy_pid [gateway]=$gateway_pid)
relays=(direct haproxy gateway)
tests=("up-P1:-P1" "up-P4:-P4" "down-P1:-P1 -R" "down-P4:-P4 -R" "conn" "fixed" "pp")

# CPU clock ticks (utime + stime, all threads) of a relay's process; 0 for "direct" (no relay process).
ticks() {
  local pid="${proxy_pid[$1]}"
  if [[ -z "$pid" ]]; then echo 0; return; fi
  sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'
}
alive() {
  kill -0 "$haproxy_pid" 2>/dev/null || { log "haproxy died; log:"; tail -n 20 "$work/haproxy.log" >&2; exit 1; }
  kill -0 "$gateway_pid" 2>/dev/null || { log "gateway died; log:"; tail -n 40 "$work/gateway.log" >&2; exit 1; }
}

# A short warm-up through each relay (JIT, connection pools), not recorded.
for r in "${relays[@]}"; do
  timeout 20 iperf3 -c 127.0.0.1 -p "${iperf_port[$r]}" -t 1 >/dev/null 2>&1 || true
  timeout 20 wrk -t2 -c32 -d1s -H "Connection: close" "http://127.0.0.1:${http_port[$r]}/" >/dev/null 2>&1 || true
  timeout 20 wrk -t2 -c32 -d1s "http://127.0.0.1:${ka_port[$r]}/" >/dev/null 2>&1 || true
  timeout 20 wrk -t2 -c32 -d1s -H "Connection: close" -s "$here/proxy-v2.lua" \
    "http://127.0.0.1:${pp_port[$r]}/" >/dev/null 2>&1 || true
done
alive

report_py="$here/report.py"

# ---------------------------------------------------------------- memory per idle connection
# Once, after the warm-up and before the rounds: the relays are warmed up (JIT, pools) but their heaps have not yet
# grown under the throughput tests, whose free, still-resident memory would otherwise absorb the held connections
# without any change in RSS; neither has held this many connections before. Gateway: a gcdump (which forces a full, blocking GC) before each RSS reading, so
# RSS and managed heap are both read right after a full GC.
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
heap_bytes() { # pid label -> "GC Heap bytes" of a gcdump (collecting it forces a full GC)
  local out="$work/$2.gcdump"
  timeout 120 "$gcdump" collect -p "$1" -o "$out" >"$work/$2.gcdump.log" 2>&1 \
    || { log "dotnet-gcdump collect failed: $(tail -n 3 "$work/$2.gcdump.log" | tr '\n' ' ')"; exit 1; }
  timeout 120 "$gcdump" report "$out" 2>/dev/null | awk '/GC Heap bytes/ {gsub(",", "", $1); print $1; exit}'
}
for r in haproxy gateway; do
  pid="${proxy_pid[$r]}"
  log "memory: $HOLD idle connections via $r"
  sleep 1
  heap0=""; heap1=""
  [[ "$r" == gateway ]] && heap0=$(heap_bytes "$pid" "$r-base")
  rss0=$(rss_kb "$pid"); fd0=$(fds "$pid")
  st="$work/hold-$r.status"; rel="$work/hold-$r.release"
  python3 "$here/idle_conns.py" hold --port "${sink_port[$r]}" --count "$HOLD" --status "$st" --release "$rel" \
    --sources 4 --timeout 90 >"$work/hold-$r.log" 2>&1 &
  holder=$!
  pids+=($holder)
  for _ in $(seq 1 1000); do
    [[ -f "$st" ]] && break
    kill -0 "$holder" 2>/dev/null || break
    sleep 0.1
  done
  [[ -f "$st" ]] || { log "holder via $r did not get $HOLD echoes: $(tail -n 3 "$work/hold-$r.log" | tr '\n' ' ')"; exit 1; }
  sleep 1
  [[ "$r" == gateway ]] && heap1=$(heap_bytes "$pid" "$r-hold")
  rss1=$(rss_kb "$pid"); fd1=$(fds "$pid")
  touch "$rel"
  wait "$holder" || { log "holder via $r failed: $(tail -n 3 "$work/hold-$r.log" | tr '\n' ' ')"; exit 1; }
  fd2=$fd1
  for _ in $(seq 1 100); do
    fd2=$(fds "$pid")
    (( fd2 <= fd0 + 2 )) && break
    sleep 0.1
  done
  python3 "$report_py" mem "$r" "$HOLD" "$rss0" "$rss1" "$fd0" "$fd1" "$fd2" "$heap0" "$heap1" >>"$raw"
done
alive

for ((round = 0; round < ROUNDS; round++)); do
  for test in "${tests[@]}"; do
    for ((i = 0; i < 3; i++)); do
      r=${relays[$(((i + round) % 3))]}
      case "$test" in
        conn)
          log "round $((round + 1))/$ROUNDS wrk Connection: close via $r"
          f="$work/conn-$round-$r.txt"
          t0=$(ticks "$r")
          if timeout $((T + 30)) wrk -t2 -c32 -d"${T}s" --latency -H "Connection: close" \
               "http://127.0.0.1:${http_port[$r]}/" >"$f" 2>&1; then
            t1=$(ticks "$r")
            python3 "$report_py" parse-wrk "$f" "$r" "$round" conn $((t1 - t0)) "$CLK_TCK" >>"$raw"
          else
            log "wrk via $r failed: $(tail -n 3 "$f" | tr '\n' ' ')"
          fi
          ;;
        fixed)
          log "round $((round + 1))/$ROUNDS wrk fixed load (keep-alive, paced) via $r"
          f="$work/fixed-$round-$r.txt"
          if timeout $((T + 30)) wrk -t2 -c32 -d"${T}s" -s "$here/fixed-load.lua" \
               "http://127.0.0.1:${ka_port[$r]}/" >"$f" 2>&1; then
            python3 "$report_py" parse-fixed "$f" "$r" "$round" >>"$raw"
          else
            log "wrk fixed via $r failed: $(tail -n 3 "$f" | tr '\n' ' ')"
          fi
          ;;
        pp)
          log "round $((round + 1))/$ROUNDS wrk Connection: close with a PROXY v2 header via $r"
          f="$work/pp-$round-$r.txt"
          script=()
          [[ "$r" == direct ]] && script=(-s "$here/proxy-v2.lua")
          if timeout $((T + 30)) wrk -t2 -c32 -d"${T}s" --latency -H "Connection: close" "${script[@]}" \
               "http://127.0.0.1:${pp_port[$r]}/" >"$f" 2>&1; then
            python3 "$report_py" parse-wrk "$f" "$r" "$round" pp >>"$raw"
          else
            log "wrk pp via $r failed: $(tail -n 3 "$f" | tr '\n' ' ')"
          fi
          ;;
        *)
          name=${test%%:*}; args=${test#*:}
          log "round $((round + 1))/$ROUNDS iperf3 $name via $r"
          f="$work/iperf-$round-$name-$r.json"
          t0=$(ticks "$r")
          # shellcheck disable=SC2086
          if timeout $((T + 30)) iperf3 -c 127.0.0.1 -p "${iperf_port[$r]}" -t "$T" -J $args >"$f" 2>&1; then
            t1=$(ticks "$r")
            python3 "$report_py" parse-iperf "$f" "$r" "$round" "$name" $((t1 - t0)) "$CLK_TCK" >>"$raw"
          else
            log "iperf3 $name via $r failed: $(head -c 300 "$f" | tr '\n' ' ')"
          fi
          sleep 0.3
          ;;
      esac
    done
  done
  alive
done

# ---------------------------------------------------------------- report
cpu_model="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | sed -n 1p)"
ver_haproxy="$(haproxy -v | sed -n 1p)"
ver_nginx="$(nginx -v 2>&1 | sed -n 1p)"
ver_dotnet="$(dotnet --version)"
ver_iperf="$(iperf3 --version | sed -n 1p)"
ver_wrk="$( (wrk -v 2>&1 || true) | sed -n 1p)"
ver_gcdump="$("$gcdump" --version 2>/dev/null | sed -n 1p)"
gw_rss_kb="$(awk '/^VmHWM/ {print $2}' "/proc/$gateway_pid/status" 2>/dev/null || echo "")"

python3 "$report_py" report \
  --raw "$raw" --out "$out_md" --svg "$out_svg" --smoke "$smoke" \
  --date "$(date -u '+%Y-%m-%d %H:%M')" --cpu "$cpu_model" --cores "$(nproc)" --kernel "$(uname -r)" \
  --haproxy "$ver_haproxy" --nginx "$ver_nginx" --dotnet "$ver_dotnet" --iperf "$ver_iperf" --wrk "$ver_wrk" \
  --gcdump "$ver_gcdump" --command "$cmdline" --seconds "$T" --rounds "$ROUNDS" --hold "$HOLD" \
  --gateway-peak-rss-kb "$gw_rss_kb" --wall "$(( $(date +%s) - started_at ))" \
  --transport "${TcpProxy__Transport:-Auto}"
log "wrote $out_md and $out_svg in $(( $(date +%s) - started_at )) s (raw: $raw)"
