#!/usr/bin/env bash
# Relay benchmark: the Gateway sample's TCP route vs HAProxy `mode tcp` vs no relay ("direct"), on loopback.
#
#   ./eng/bench/relay/run.sh           3 interleaved rounds of 5 s steps; writes the "Relay vs HAProxy (TCP)"
#                                      section of docs/benchmarks.md and docs/benchmarks-relay.svg
#   ./eng/bench/relay/run.sh --smoke   1 round of 1 s steps; writes artifacts/bench/relay-smoke.md (+ .svg)
#
# Installs haproxy, iperf3, wrk and nginx with apt-get if missing, builds samples/Gateway in Release, starts
# iperf3 -s and nginx (return 200, keepalive_timeout 0) as backends, HAProxy and the gateway in front of each,
# then measures with iperf3 (-P1/-P4, both directions) and wrk (-t2 -c32, Connection: close).
# Every process started here is stopped on exit. Raw results stay in artifacts/bench/relay-raw*.jsonl.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
repo="$(pwd)"

smoke=0
if [[ "${1:-}" == "--smoke" ]]; then smoke=1; fi
if (( smoke )); then
  T=1; ROUNDS=1
  out_md=artifacts/bench/relay-smoke.md; out_svg=artifacts/bench/relay-smoke.svg
  raw=artifacts/bench/relay-raw-smoke.jsonl; cmdline="./eng/bench/relay/run.sh --smoke"
else
  T=5; ROUNDS=3
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

# ---------------------------------------------------------------- build
log "building samples/Gateway (Release)"
timeout 600 dotnet build samples/Gateway -c Release -nologo -v q >/dev/null
gateway_dir="$repo/samples/Gateway/bin/Release/net10.0"
[[ -f "$gateway_dir/Gateway.dll" ]] || { echo "Gateway.dll not found in $gateway_dir" >&2; exit 1; }

# ---------------------------------------------------------------- processes
work="$(mktemp -d /tmp/relay-bench.XXXXXX)"
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if (( rc != 0 )); then
    log "failed (exit $rc); process logs in $work"
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free loopback ports: bind to port 0 and release (all at once so they are distinct).
read -r P_IPERF P_NGINX H_IPERF H_HTTP G_IPERF G_HTTP < <(python3 - <<'PY'
import socket
socks = []
for _ in range(6):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(*[s.getsockname()[1] for s in socks])
for s in socks: s.close()
PY
)

wait_port() { # port name
  local deadline=$((SECONDS + 30))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    (( SECONDS < deadline )) || { echo "$2 did not listen on $1; log:" >&2; cat "$work/$2.log" >&2 || true; exit 1; }
    sleep 0.2
  done
}

log "iperf3 -s on $P_IPERF"
iperf3 -s -p "$P_IPERF" >"$work/iperf3.log" 2>&1 &
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
    listen 127.0.0.1:$P_NGINX;
    location / { return 200 "ok\n"; }
  }
}
EOF
log "nginx on $P_NGINX"
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' >"$work/nginx.log" 2>&1 &
pids+=($!)

cat >"$work/haproxy.cfg" <<EOF
global
  maxconn 8000
defaults
  mode tcp
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
  server s1 127.0.0.1:$P_NGINX
EOF
log "haproxy on $H_IPERF (iperf3) and $H_HTTP (nginx)"
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)

# The gateway as shipped (its appsettings.json is loaded from its own directory), plus this file.
# No ProxyProtocol metadata: iperf3 and nginx's plain listener do not read a PROXY header.
cat >"$work/gateway.json" <<EOF
{
  "Logging": { "LogLevel": { "Default": "Warning" } },
  "ReverseProxy": { "Clusters": {
    "iperf": { "Destinations": { "d1": { "Address": "tcp://127.0.0.1:$P_IPERF" } } },
    "http":  { "Destinations": { "d1": { "Address": "tcp://127.0.0.1:$P_NGINX" } } }
  } },
  "TcpProxy": {
    "DrainTimeout": "00:00:02",
    "Routes": {
      "smtp":  { "Listen": "127.0.0.1:0" },
      "iperf": { "Listen": "127.0.0.1:$G_IPERF", "ClusterId": "iperf" },
      "http":  { "Listen": "127.0.0.1:$G_HTTP", "ClusterId": "http" }
    }
  }
}
EOF
log "gateway on $G_IPERF (iperf3) and $G_HTTP (nginx)"
(cd "$gateway_dir" && exec dotnet Gateway.dll --urls http://127.0.0.1:0 --Admin:Urls http://127.0.0.1:0 \
  --config "$work/gateway.json") >"$work/gateway.log" 2>&1 &
pids+=($!)

wait_port "$P_IPERF" iperf3; wait_port "$P_NGINX" nginx
wait_port "$H_IPERF" haproxy; wait_port "$H_HTTP" haproxy
wait_port "$G_IPERF" gateway; wait_port "$G_HTTP" gateway
sleep 1

# ---------------------------------------------------------------- measure
declare -A iperf_port=([direct]=$P_IPERF [haproxy]=$H_IPERF [gateway]=$G_IPERF)
declare -A http_port=([direct]=$P_NGINX [haproxy]=$H_HTTP [gateway]=$G_HTTP)
relays=(direct haproxy gateway)
tests=("up-P1:-P1" "up-P4:-P4" "down-P1:-P1 -R" "down-P4:-P4 -R" "http")

# A short warm-up through each relay (JIT, connection pools), not recorded.
for r in "${relays[@]}"; do
  timeout 20 iperf3 -c 127.0.0.1 -p "${iperf_port[$r]}" -t 1 >/dev/null 2>&1 || true
  timeout 20 wrk -t2 -c32 -d1s -H "Connection: close" "http://127.0.0.1:${http_port[$r]}/" >/dev/null 2>&1 || true
done

for ((round = 0; round < ROUNDS; round++)); do
  for test in "${tests[@]}"; do
    for ((i = 0; i < 3; i++)); do
      r=${relays[$(((i + round) % 3))]}
      if [[ "$test" == http ]]; then
        log "round $((round + 1))/$ROUNDS wrk via $r"
        f="$work/wrk-$round-$r.txt"
        if timeout $((T + 30)) wrk -t2 -c32 -d"${T}s" --latency -H "Connection: close" \
             "http://127.0.0.1:${http_port[$r]}/" >"$f" 2>&1; then
          python3 "$repo/eng/bench/relay/report.py" parse-wrk "$f" "$r" "$round" >>"$raw"
        else
          log "wrk via $r failed: $(tail -n 3 "$f" | tr '\n' ' ')"
        fi
      else
        name=${test%%:*}; args=${test#*:}
        log "round $((round + 1))/$ROUNDS iperf3 $name via $r"
        f="$work/iperf-$round-$name-$r.json"
        # shellcheck disable=SC2086
        if timeout $((T + 30)) iperf3 -c 127.0.0.1 -p "${iperf_port[$r]}" -t "$T" -J $args >"$f" 2>&1; then
          python3 "$repo/eng/bench/relay/report.py" parse-iperf "$f" "$r" "$round" "$name" >>"$raw"
        else
          log "iperf3 $name via $r failed: $(head -c 300 "$f" | tr '\n' ' ')"
        fi
        sleep 0.3
      fi
    done
  done
done

# ---------------------------------------------------------------- report
cpu_model="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
ver_haproxy="$(haproxy -v | head -n 1)"
ver_dotnet="$(dotnet --version)"
ver_iperf="$(iperf3 --version | head -n 1)"
ver_wrk="$( (wrk -v 2>&1 || true) | head -n 1)"
gw_rss_kb="$(awk '/^VmHWM/ {print $2}' "/proc/${pids[3]}/status" 2>/dev/null || echo "")"

python3 eng/bench/relay/report.py report \
  --raw "$raw" --out "$out_md" --svg "$out_svg" --smoke "$smoke" \
  --date "$(date -u '+%Y-%m-%d %H:%M')" --cpu "$cpu_model" --cores "$(nproc)" --kernel "$(uname -r)" \
  --haproxy "$ver_haproxy" --dotnet "$ver_dotnet" --iperf "$ver_iperf" --wrk "$ver_wrk" \
  --command "$cmdline" --seconds "$T" --rounds "$ROUNDS" --gateway-peak-rss-kb "$gw_rss_kb" \
  --wall "$(( $(date +%s) - started_at ))"
log "wrote $out_md and $out_svg in $(( $(date +%s) - started_at )) s (raw: $raw)"
