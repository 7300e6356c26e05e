#!/usr/bin/env bash
# UDP benchmark (issue 16), on loopback: the Gateway sample's UDP route vs dnsdist 1.7 with `useProxyProtocol=true`,
# both in front of the same unbound, both adding a PROXY v2 header to every query datagram (replies come back
# without one); "direct" (dnsperf straight to a second, header-less unbound port) as the ceiling of the backend.
#
#   ./eng/bench/udp/run.sh           4 interleaved rounds of 8 s steps, then 10,000 sessions through each proxy;
#                                    rewrites the section "UDP: the gateway's UDP route vs dnsdist" of
#                                    docs/benchmarks.md
#   ./eng/bench/udp/run.sh --smoke   1 round of 1 s steps, then the same 10,000 sessions; writes artifacts/bench/udp-smoke.md and
#                                    never touches docs/
#
# Installs dnsdist, unbound and dnsperf with eng/install-peers.sh if missing; builds samples/Gateway in Release;
# starts, each in the foreground on free loopback ports:
#   - unbound (a config like tests/.../RealPeers/UnboundPeer.cs, one thread, no query log): one port with
#     `proxy-protocol-port` for both proxies, one plain port for "direct"; access control allows 127.0.0.1 (the
#     proxies' own address, which unbound checks as well) and 127.0.0.2 (the load's client address, which the
#     proxies name in the header) and refuses the rest of 127.0.0.0/8;
#   - dnsdist (`--supervised`, a config like DnsdistPeer.cs: `setLocal`, `newServer{useProxyProtocol=true,
#     checkName=...}`);
#   - the gateway with a UDP route to a cluster `udp://` with `ProxyProtocol` v2 (IdleTimeout 10 min, MaxSessions
#     100,000), its access log off.
# Checks that each path answers a query from 127.0.0.2 and that each proxy's answer to 127.0.0.3 is REFUSED (the
# header names the real client, which unbound refuses), then per round, each path in rotated order:
#   - max:   dnsperf -c32 -q256 for T seconds (as fast as unbound answers): queries/s;
#   - fixed: dnsperf -Q RATE -c32 -v for T seconds: every answer's latency, its p99;
# and each proxy's CPU time from /proc/PID/stat over every step (per 1,000 queries). Last, through each proxy,
# dnsclient.py sessions: COUNT sockets (COUNT distinct source ports) each send one query; the proxy's VmRSS before
# the first and after the last answer. Every process started here is stopped on exit. Raw results stay in
# artifacts/bench/udp-raw*.jsonl.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
repo="$(pwd)"
here="$repo/eng/bench/udp"

smoke=0
if [[ "${1:-}" == "--smoke" ]]; then smoke=1; fi
if (( smoke )); then
  T=1; ROUNDS=1; WARM=1; SESSIONS=10000
  out_md=artifacts/bench/udp-smoke.md; raw=artifacts/bench/udp-raw-smoke.jsonl
  sockets_txt=artifacts/bench/udp-gateway-sockets-smoke.txt
  cmdline="./eng/bench/udp/run.sh --smoke"
else
  T=8; ROUNDS=4; WARM=5; SESSIONS=10000
  out_md=docs/benchmarks.md; raw=artifacts/bench/udp-raw.jsonl
  sockets_txt=artifacts/bench/udp-gateway-sockets.txt
  cmdline="./eng/bench/udp/run.sh"
fi
# UDP_TRANSPORT=Sockets|Epoll|Auto (default Auto, which is Epoll on Linux): the gateway's UdpProxy:Transport. Only the
# default run rewrites docs/benchmarks.md; another transport's full run writes artifacts/bench/udp-TRANSPORT.md.
UDP_TRANSPORT="${UDP_TRANSPORT:-Auto}"
case "$UDP_TRANSPORT" in
  Auto) gw_transport=Epoll ;;
  Epoll|Sockets) gw_transport=$UDP_TRANSPORT ;;
  *) echo "UDP_TRANSPORT must be Auto, Epoll or Sockets, not '$UDP_TRANSPORT'" >&2; exit 2 ;;
esac
if (( ! smoke )) && [[ "$UDP_TRANSPORT" != Auto ]]; then
  out_md="artifacts/bench/udp-${UDP_TRANSPORT,,}.md"; raw="artifacts/bench/udp-raw-${UDP_TRANSPORT,,}.jsonl"
  sockets_txt="artifacts/bench/udp-gateway-sockets-${UDP_TRANSPORT,,}.txt"
  cmdline="UDP_TRANSPORT=$UDP_TRANSPORT ./eng/bench/udp/run.sh"
fi
# The fixed rate: well below what both proxies hold on this machine (about a third of the slower one's maximum).
RATE="${UDP_BENCH_RATE:-10000}"
CLIENTS=32; OUTSTANDING=256; SOURCE=127.0.0.2
mkdir -p artifacts/bench
# The previous full run's samples, so that the report can show how much two runs differ.
previous=""
if (( ! smoke )) && [[ -s "$raw" ]]; then previous="${raw%.jsonl}-previous.jsonl"; cp "$raw" "$previous"; fi
: > "$raw"
started_at=$(date +%s)
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

log() { echo "[udp-bench $(date +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- tools
missing=()
command -v dnsdist >/dev/null || missing+=(dnsdist)
command -v unbound >/dev/null || [[ -x /usr/sbin/unbound ]] || missing+=(unbound)
command -v dnsperf >/dev/null || missing+=(dnsperf)
if (( ${#missing[@]} )); then
  log "installing ${missing[*]}"
  timeout 900 bash "$repo/eng/install-peers.sh" "${missing[@]}" >&2
fi
export PATH="$PATH:/usr/sbin:/sbin"
# 10,000 sockets in the session step, as many in the gateway (one backend socket per session).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(( $(ulimit -n) > SESSIONS + 1000 )) || { echo "open files limit $(ulimit -n) is too low for $SESSIONS sessions" >&2; exit 1; }

# ---------------------------------------------------------------- build
log "building samples/Gateway (Release)"
timeout 600 dotnet build samples/Gateway -c Release -nologo -v q >/dev/null
gateway_dir="$repo/samples/Gateway/bin/Release/net10.0"
[[ -f "$gateway_dir/Gateway.dll" ]] || { echo "Gateway.dll not found in $gateway_dir" >&2; exit 1; }

# ---------------------------------------------------------------- processes
source "$repo/eng/bench/lib.sh"
bench_start udp-bench

# U_PP unbound with proxy-protocol-port, U_PLAIN unbound without, DD dnsdist, GW the gateway's UDP route.
read -r U_PP U_PLAIN DD GW < <(bench_free_udp_ports 4)

cat >"$work/unbound.conf" <<EOF
server:
  interface: 127.0.0.1@$U_PP
  interface: 127.0.0.1@$U_PLAIN
  port: $U_PP
  proxy-protocol-port: $U_PP
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "$work"
  pidfile: "$work/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  do-ip6: no
  do-tcp: no
  module-config: "iterator"
  access-control: 127.0.0.0/8 refuse
  access-control: 127.0.0.1/32 allow
  access-control: $SOURCE/32 allow
  local-zone: "pk.test." static
  local-data: "hello.pk.test. 60 IN A 192.0.2.77"
remote-control:
  control-enable: no
EOF
log "unbound on $U_PP (proxy-protocol-port) and $U_PLAIN (plain)"
unbound -d -c "$work/unbound.conf" >"$work/unbound.log" 2>&1 &
pids+=($!); pid_unbound=$!

# dnsdist's defaults otherwise: one UDP listener thread, one responder thread for the backend, no packet cache.
cat >"$work/dnsdist.conf" <<EOF
setLocal("127.0.0.1:$DD")
newServer({address="127.0.0.1:$U_PP", useProxyProtocol=true, checkName="hello.pk.test."})
setSecurityPollSuffix("")
EOF
log "dnsdist on $DD"
dnsdist --supervised --disable-syslog -C "$work/dnsdist.conf" >"$work/dnsdist.log" 2>&1 &
pids+=($!); pid_dnsdist=$!

# The gateway as shipped (its appsettings.json is loaded from its own directory, so the sample's SMTP route is moved
# to a free port), plus one UDP route; logging at Warning and the access log off, as dnsdist logs nothing per query.
cat >"$work/gateway.json" <<EOF
{
  "Logging": { "LogLevel": { "Default": "Warning", "ProxyKestrel": "Warning", "ProxyKestrel.Gateway.AccessLog": "None" } },
  "ReverseProxy": { "Clusters": {
    "unbound": { "Metadata": { "ProxyProtocol": "v2" },
                 "Destinations": { "d1": { "Address": "udp://127.0.0.1:$U_PP" } } }
  } },
  "TcpProxy": { "DrainTimeout": "00:00:02", "Routes": { "smtp": { "Listen": "127.0.0.1:0" } } },
  "UdpProxy": {
    "DrainTimeout": "00:00:01",
    "Transport": "$UDP_TRANSPORT",
    "Routes": {
      "dns": { "Listen": [ "127.0.0.1:$GW" ], "ClusterId": "unbound", "IdleTimeout": "00:10:00", "MaxSessions": 100000 }
    }
  }
}
EOF
log "gateway on $GW (UdpProxy:Transport $UDP_TRANSPORT)"
(cd "$gateway_dir" && exec dotnet Gateway.dll --urls http://127.0.0.1:0 --Admin:Urls http://127.0.0.1:0 \
  --config "$work/gateway.json") >"$work/gateway.log" 2>&1 &
pids+=($!); pid_gateway=$!

declare -A port=([direct]=$U_PLAIN [dnsdist]=$DD [gateway]=$GW)
declare -A cpu_pid=([dnsdist]=$pid_dnsdist [gateway]=$pid_gateway)
alive() {
  kill -0 "$pid_unbound" 2>/dev/null || { log "unbound died; log:"; tail -n 20 "$work/unbound.log" >&2; exit 1; }
  kill -0 "$pid_dnsdist" 2>/dev/null || { log "dnsdist died; log:"; tail -n 20 "$work/dnsdist.log" >&2; exit 1; }
  kill -0 "$pid_gateway" 2>/dev/null || { log "gateway died; log:"; tail -n 40 "$work/gateway.log" >&2; exit 1; }
}
for p in "$U_PP:unbound" "$U_PLAIN:unbound" "$DD:dnsdist" "$GW:gateway"; do
  wait_udp_port "${p%%:*}" "${p#*:}"
done
alive

# ---------------------------------------------------------------- checks
# Every path answers the load's client; through each proxy a client that unbound refuses (127.0.0.3) gets REFUSED,
# so the header reached unbound and named the real client (a datagram without one would be dropped on U_PP).
client="$here/dnsclient.py"
for p in direct dnsdist gateway; do
  out="$(timeout 60 python3 "$client" check "${port[$p]}" "$SOURCE" noerror)" \
    || { echo "$p: $out; logs in $work" >&2; exit 1; }
done
for p in dnsdist gateway; do
  out="$(timeout 60 python3 "$client" check "${port[$p]}" 127.0.0.3 refused)" \
    || { echo "$p: $out; logs in $work" >&2; exit 1; }
done
log "every path answers $SOURCE; both proxies pass the client on in a PROXY v2 header (127.0.0.3 is refused)"

cpu_ticks() { # pid -> utime+stime in clock ticks (every thread)
  local stat; stat="$(<"/proc/$1/stat")"; stat="${stat##*) }"
  local f; read -r -a f <<<"$stat"
  echo $(( f[11] + f[12] ))
}
clk_tck="$(getconf CLK_TCK)"

# ---------------------------------------------------------------- measure
echo "hello.pk.test. A" >"$work/queries.txt"
paths=(direct dnsdist gateway)
tests=(max fixed)

run_dnsperf() { # file path test seconds
  local args=(-s 127.0.0.1 -p "${port[$2]}" -a "$SOURCE" -d "$work/queries.txt" -l "$4" -c "$CLIENTS" -t 2)
  case "$3" in
    max) args+=(-q "$OUTSTANDING") ;;
    fixed) args+=(-q "$OUTSTANDING" -Q "$RATE" -v) ;;
  esac
  timeout $(($4 + 30)) dnsperf "${args[@]}" >"$1" 2>"$1.err"
}

# A warm-up through each path (JIT, pools, unbound's cache of the one name), not recorded.
for p in "${paths[@]}"; do
  for test in "${tests[@]}"; do run_dnsperf "$work/warmup.txt" "$p" "$test" "$WARM" || true; done
done
alive

for ((round = 0; round < ROUNDS; round++)); do
  for test in "${tests[@]}"; do
    for ((i = 0; i < 3; i++)); do
      p=${paths[$(((i + round) % 3))]}
      log "round $((round + 1))/$ROUNDS $test via $p"
      f="$work/dnsperf-$round-$test-$p.txt"
      before=0; [[ "$p" != direct ]] && before=$(cpu_ticks "${cpu_pid[$p]}")
      if run_dnsperf "$f" "$p" "$test" "$T"; then
        after=0; [[ "$p" != direct ]] && after=$(cpu_ticks "${cpu_pid[$p]}")
        python3 "$here/report.py" parse-dnsperf "$f" "$p" "$round" "$test" $((after - before)) "$clk_tck" >>"$raw"
      else
        log "dnsperf $test via $p failed: $(tail -n 3 "$f.err" | tr '\n' ' ')"
      fi
      sleep 0.3
    done
  done
  alive
done

# ---------------------------------------------------------------- sessions
# Last, so that the sessions' memory stays out of the rounds: COUNT new client ports through each proxy.
for p in dnsdist gateway; do
  log "$SESSIONS sessions via $p"
  if timeout 120 python3 "$client" sessions "${port[$p]}" "$SOURCE" "$SESSIONS" "${cpu_pid[$p]}" \
      >"$work/sessions-$p.json" 2>"$work/sessions-$p.err"; then
    python3 "$here/report.py" parse-sessions "$work/sessions-$p.json" "$p" >>"$raw"
  else
    log "sessions via $p failed: $(cat "$work/sessions-$p.json" "$work/sessions-$p.err" | tail -n 3 | tr '\n' ' ')"
    # What the proxy's sockets hold (unread datagrams: Recv-Q; drops: skmem d), for the failure's analysis.
    ss -uanmp | grep -A1 "pid=${cpu_pid[$p]}," >"artifacts/bench/udp-sessions-$p-sockets.txt" || true
    [[ -s "$work/sessions-$p.json" ]] && python3 "$here/report.py" parse-sessions "$work/sessions-$p.json" "$p" >>"$raw"
  fi
  alive
done

# The gateway's sockets with datagrams waiting unread (Recv-Q > 0) now that no query is in flight: sessions whose
# reply loop has stopped reading ("stuck SOCKETS").
gw_unread="$(ss -uanp | awk -v p="pid=$pid_gateway," 'index($0, p) {n++; if ($2 > 0) s++} END {print s + 0, n + 0}')"
ss -uanmp | grep -A1 "pid=$pid_gateway," >"$sockets_txt" || true

# ---------------------------------------------------------------- report
cpu_model="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | sed -n 1p)"
ver_dnsdist="$(dnsdist --version 2>&1 | sed -n 1p)"
ver_unbound="$(unbound -V 2>&1 | sed -n 's/^Version /unbound /p' | sed -n 1p)"
ver_dnsperf="$(dnsperf -h 2>&1 | sed -n 's/^Version /dnsperf /p' | sed -n 1p)"
ver_dotnet="$(dotnet --version)"
gw_rss_kb="$(awk '/^VmHWM/ {print $2}' "/proc/$pid_gateway/status" 2>/dev/null || echo "")"
dd_rss_kb="$(awk '/^VmHWM/ {print $2}' "/proc/$pid_dnsdist/status" 2>/dev/null || echo "")"

cp "$work/gateway.log" "${sockets_txt%.txt}.log" 2>/dev/null || true
python3 "$here/report.py" report \
  --raw "$raw" --out "$out_md" --smoke "$smoke" \
  --date "$(date -u '+%Y-%m-%d %H:%M')" --cpu "$cpu_model" --cores "$(nproc)" --kernel "$(uname -r)" \
  --dnsdist "$ver_dnsdist" --unbound "$ver_unbound" --dnsperf "$ver_dnsperf" --dotnet "$ver_dotnet" \
  --command "$cmdline" --seconds "$T" --rounds "$ROUNDS" --rate "$RATE" --clients "$CLIENTS" \
  --outstanding "$OUTSTANDING" --sessions "$SESSIONS" --source "$SOURCE" --gateway-peak-rss-kb "$gw_rss_kb" \
  --dnsdist-peak-rss-kb "$dd_rss_kb" --wall "$(( $(date +%s) - started_at ))" --load-before "$load_before" \
  --load-after "$(cut -d' ' -f1-3 /proc/loadavg)" --previous "$previous" --gateway-unread "$gw_unread" \
  --transport "$gw_transport"
log "wrote $out_md in $(( $(date +%s) - started_at )) s (raw: $raw)"
