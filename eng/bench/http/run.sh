#!/usr/bin/env bash
# HTTP benchmark, on loopback:
#   A. the middleware: samples/WebApp behind HAProxy `mode tcp` + send-proxy-v2 (app with UseProxyProtocol) vs the
#      same app without the middleware (--WebApp:UseProxyProtocol=false) behind the same HAProxy without send-proxy;
#   B. the Gateway sample's HTTP route (YARP, cluster metadata "ProxyProtocol": "v2") vs HAProxy `mode http` +
#      send-proxy-v2, both in front of nginx `listen ... proxy_protocol`, and nginx without a proxy ("direct").
#
#   ./eng/bench/http/run.sh           4 interleaved rounds of 5 s steps; writes the "HTTP" section of
#                                     docs/benchmarks.md and docs/benchmarks-http.svg
#   ./eng/bench/http/run.sh --smoke   1 round of 1 s steps; writes artifacts/bench/http-smoke.md (+ .svg)
#
# Installs haproxy, nginx and wrk with apt-get if missing, builds samples/WebApp and samples/Gateway in Release,
# starts every process in the foreground on free loopback ports, measures with wrk (keep-alive -t2 -c64 and
# Connection: close -t2 -c32) and reads each measured process's CPU time from /proc/PID/stat around every step.
# Every process started here is stopped on exit. Raw results stay in artifacts/bench/http-raw*.jsonl.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
repo="$(pwd)"

smoke=0
if [[ "${1:-}" == "--smoke" ]]; then smoke=1; fi
if (( smoke )); then
  T=1; ROUNDS=1
  out_md=artifacts/bench/http-smoke.md; out_svg=artifacts/bench/http-smoke.svg
  raw=artifacts/bench/http-raw-smoke.jsonl; cmdline="./eng/bench/http/run.sh --smoke"
else
  T=5; ROUNDS=4
  out_md=docs/benchmarks.md; out_svg=docs/benchmarks-http.svg
  raw=artifacts/bench/http-raw.jsonl; cmdline="./eng/bench/http/run.sh"
fi
mkdir -p artifacts/bench
: > "$raw"
started_at=$(date +%s)

log() { echo "[http-bench $(date +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- tools
missing=()
command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
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
log "building samples/WebApp and samples/Gateway (Release)"
timeout 600 dotnet build samples/WebApp -c Release -nologo -v q >/dev/null
timeout 600 dotnet build samples/Gateway -c Release -nologo -v q >/dev/null
webapp_dir="$repo/samples/WebApp/bin/Release/net10.0"
gateway_dir="$repo/samples/Gateway/bin/Release/net10.0"
[[ -f "$webapp_dir/WebApp.dll" ]] || { echo "WebApp.dll not found in $webapp_dir" >&2; exit 1; }
[[ -f "$gateway_dir/Gateway.dll" ]] || { echo "Gateway.dll not found in $gateway_dir" >&2; exit 1; }

# ---------------------------------------------------------------- processes
source "$repo/eng/bench/lib.sh"
bench_start http-bench

# Free loopback ports: bind to port 0 and release (all at once so they are distinct).
read -r P_PP P_DIRECT APP_WITH APP_WITHOUT H_WITH H_WITHOUT H_HTTP G_HTTP < <(bench_free_ports 8)


# nginx: one listener that reads a PROXY header (behind HAProxy and the gateway), one plain ("direct").
# Keep-alive on, with no per-connection request limit, so the proxies keep their backend connections.
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
  server {
    listen 127.0.0.1:$P_PP proxy_protocol;
    location / { return 200 "ok\n"; }
  }
  server {
    listen 127.0.0.1:$P_DIRECT;
    location / { return 200 "ok\n"; }
  }
}
EOF
log "nginx on $P_PP (proxy_protocol) and $P_DIRECT (plain)"
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' >"$work/nginx.log" 2>&1 &
pids+=($!)

# The WebApp twice, as shipped except logging at Warning: with the middleware (trusting loopback, its default) and
# without it (--WebApp:UseProxyProtocol=false).
webapp_args=(--Logging:LogLevel:Default=Warning --Logging:LogLevel:ProxyKestrel=Warning)
log "WebApp with the middleware on $APP_WITH, without on $APP_WITHOUT"
(cd "$webapp_dir" && ASPNETCORE_ENVIRONMENT=Production exec dotnet WebApp.dll --urls "http://127.0.0.1:$APP_WITH" \
  "${webapp_args[@]}") >"$work/webapp-with.log" 2>&1 &
pids+=($!); pid_app_with=$!
(cd "$webapp_dir" && ASPNETCORE_ENVIRONMENT=Production exec dotnet WebApp.dll --urls "http://127.0.0.1:$APP_WITHOUT" \
  "${webapp_args[@]}" --WebApp:UseProxyProtocol=false) >"$work/webapp-without.log" 2>&1 &
pids+=($!); pid_app_without=$!

cat >"$work/haproxy.cfg" <<EOF
global
  maxconn 8000
defaults
  timeout connect 5s
  timeout client 1m
  timeout server 1m
frontend with
  mode tcp
  bind 127.0.0.1:$H_WITH
  default_backend with
backend with
  mode tcp
  server s1 127.0.0.1:$APP_WITH send-proxy-v2
frontend without
  mode tcp
  bind 127.0.0.1:$H_WITHOUT
  default_backend without
backend without
  mode tcp
  server s1 127.0.0.1:$APP_WITHOUT
frontend http
  mode http
  bind 127.0.0.1:$H_HTTP
  default_backend http
backend http
  mode http
  server s1 127.0.0.1:$P_PP send-proxy-v2
EOF
log "haproxy: mode tcp on $H_WITH (send-proxy-v2) and $H_WITHOUT, mode http on $H_HTTP (send-proxy-v2)"
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!); pid_haproxy=$!

# The gateway as shipped (its appsettings.json is loaded from its own directory), plus this file: one HTTP route to
# nginx's proxy_protocol listener with a v2 header; the shipped TCP route moved to a free port.
cat >"$work/gateway.json" <<EOF
{
  "Logging": { "LogLevel": { "Default": "Warning" } },
  "ReverseProxy": {
    "Routes": { "web": { "ClusterId": "web", "Match": { "Path": "{**catch-all}" } } },
    "Clusters": { "web": {
      "Metadata": { "ProxyProtocol": "v2" },
      "Destinations": { "d1": { "Address": "http://127.0.0.1:$P_PP" } }
    } }
  },
  "TcpProxy": { "DrainTimeout": "00:00:02", "Routes": { "smtp": { "Listen": "127.0.0.1:0" } } }
}
EOF
log "gateway HTTP route on $G_HTTP"
(cd "$gateway_dir" && exec dotnet Gateway.dll --urls "http://127.0.0.1:$G_HTTP" --Admin:Urls http://127.0.0.1:0 \
  --config "$work/gateway.json") >"$work/gateway.log" 2>&1 &
pids+=($!); pid_gateway=$!

wait_port "$P_PP" nginx; wait_port "$P_DIRECT" nginx
wait_port "$APP_WITH" webapp-with; wait_port "$APP_WITHOUT" webapp-without
wait_port "$H_WITH" haproxy; wait_port "$H_WITHOUT" haproxy; wait_port "$H_HTTP" haproxy
wait_port "$G_HTTP" gateway
sleep 1

# Each path must answer 200 before anything is measured (a wrong PROXY setup answers nothing or 400).
declare -A port=([with]=$H_WITH [without]=$H_WITHOUT [direct]=$P_DIRECT [haproxy]=$H_HTTP [gateway]=$G_HTTP)
# The process whose CPU time is recorded for a path ("-": none).
declare -A cpu_pid=([with]=$pid_app_with [without]=$pid_app_without [direct]=- [haproxy]=$pid_haproxy [gateway]=$pid_gateway)
for p in with without direct haproxy gateway; do
  code="$(timeout 10 python3 - "${port[$p]}" <<'PY' || true
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request("GET", "/")
print(c.getresponse().status)
PY
)"
  [[ "$code" == 200 ]] || { echo "path $p (port ${port[$p]}) answered '${code}' instead of 200; logs in $work" >&2; exit 1; }
done

cpu_ticks() { # pid -> utime+stime in clock ticks
  [[ "$1" == - ]] && { echo 0; return; }
  # Field 2 (comm) may hold spaces: cut everything up to the last ')'.
  local stat; stat="$(<"/proc/$1/stat")"; stat="${stat##*) }"
  local f; read -r -a f <<<"$stat"
  echo $(( f[11] + f[12] ))
}
clk_tck="$(getconf CLK_TCK)"

# ---------------------------------------------------------------- measure
# test: name, wrk arguments
declare -A wrk_args=([ka]="-t2 -c64" [close]="-t2 -c32")
parts=(mw http)
declare -A part_paths=([mw]="with without" [http]="direct haproxy gateway")

run_wrk() { # file path test seconds
  local extra=()
  [[ "$3" == close ]] && extra=(-H "Connection: close")
  # shellcheck disable=SC2086
  timeout $(($4 + 30)) wrk ${wrk_args[$3]} -d"${4}s" --latency "${extra[@]}" "http://127.0.0.1:${port[$2]}/" >"$1" 2>&1
}

# A short warm-up through each path (JIT, connection pools), not recorded.
warm=$(( smoke ? 1 : 2 ))
for p in with without direct haproxy gateway; do
  run_wrk "$work/warmup.txt" "$p" ka "$warm" || true
  run_wrk "$work/warmup.txt" "$p" close "$warm" || true
done

for ((round = 0; round < ROUNDS; round++)); do
  for part in "${parts[@]}"; do
    read -r -a paths <<<"${part_paths[$part]}"
    n=${#paths[@]}
    for test in ka close; do
      for ((i = 0; i < n; i++)); do
        p=${paths[$(((i + round) % n))]}
        log "round $((round + 1))/$ROUNDS $part $test via $p"
        f="$work/wrk-$round-$part-$test-$p.txt"
        before=$(cpu_ticks "${cpu_pid[$p]}")
        if run_wrk "$f" "$p" "$test" "$T"; then
          after=$(cpu_ticks "${cpu_pid[$p]}")
          cpu="-"
          [[ "${cpu_pid[$p]}" != - ]] && cpu=$(( after - before ))
          python3 "$repo/eng/bench/http/report.py" parse-wrk "$f" "$part" "$p" "$round" "$test" "$cpu" "$clk_tck" >>"$raw"
        else
          log "wrk $part $test via $p failed: $(tail -n 3 "$f" | tr '\n' ' ')"
        fi
        sleep 0.3
      done
    done
  done
done

# ---------------------------------------------------------------- report
cpu_model="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | sed -n 1p)"
ver_haproxy="$(haproxy -v | sed -n 1p)"
ver_nginx="$(nginx -v 2>&1 | sed -n 1p)"
ver_dotnet="$(dotnet --version)"
ver_wrk="$( (wrk -v 2>&1 || true) | sed -n 1p)"
gw_rss_kb="$(awk '/^VmHWM/ {print $2}' "/proc/$pid_gateway/status" 2>/dev/null || echo "")"

python3 eng/bench/http/report.py report \
  --raw "$raw" --out "$out_md" --svg "$out_svg" --smoke "$smoke" \
  --date "$(date -u '+%Y-%m-%d %H:%M')" --cpu "$cpu_model" --cores "$(nproc)" --kernel "$(uname -r)" \
  --haproxy "$ver_haproxy" --nginx "$ver_nginx" --dotnet "$ver_dotnet" --wrk "$ver_wrk" \
  --command "$cmdline" --seconds "$T" --rounds "$ROUNDS" --gateway-peak-rss-kb "$gw_rss_kb" \
  --wall "$(( $(date +%s) - started_at ))"
log "wrote $out_md and $out_svg in $(( $(date +%s) - started_at )) s (raw: $raw)"
