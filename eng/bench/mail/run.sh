#!/usr/bin/env bash
# IMAP logins per second: the Gateway sample's mail front (an `Imap` route with `AuthHttp`) vs nginx's mail proxy,
# both asking the same auth_http server, both in front of the same Dovecot, on loopback; "direct" (no proxy) as
# the baseline.
#
#   ./eng/bench/mail/run.sh           10 s of warm-up per path, then 5 interleaved rounds of 10 s steps; rewrites
#                                     the section "IMAP logins: the gateway's mail front vs nginx mail" of
#                                     docs/benchmarks.md
#   ./eng/bench/mail/run.sh --smoke   1 s of warm-up, 1 round of 2 s steps; writes artifacts/bench/mail-smoke.md and
#                                     never touches docs/
#   TcpProxy__Transport=Sockets ./eng/bench/mail/run.sh
#                                     the gateway on its portable socket transport instead of the default (Auto)
#
# Installs nginx, libnginx-mod-mail and dovecot-imapd with apt-get if missing; builds samples/Gateway in Release;
# starts, each in the foreground on free loopback ports:
#   - Dovecot (`dovecot -F`, a config like tests/.../RealPeers/DovecotPeer.cs) with two IMAP listeners: one with
#     `haproxy = yes` for the gateway, which sends a PROXY v2 header, and one plain for nginx and "direct"; USERS
#     users u0001..uNNNN (password pNNNN) in a passwd-file;
#   - auth_http.py, one process for both proxies: GET /gateway answers the haproxy listener's port, /nginx the
#     plain one (Auth-Status: OK, Auth-Server: 127.0.0.1, Auth-Port);
#   - nginx with `mail { auth_http ...; server { listen ...; protocol imap; } }` (no `proxy_protocol on;`: nginx
#     sends its backend no PROXY header by default, and that default is what is measured);
#   - the gateway with an `Imap` route (`AuthHttp`, `AllowPlaintextLogin`) to a cluster with `ProxyProtocol` v2.
# Per round, each path in rotated order: imap_load.py (C=32 connections over 2 processes, from 127.0.0.2) for T
# seconds of whole sessions (connect, greeting, `a LOGIN`, `a OK`, `b LOGOUT`, close), and the CPU time of every
# process involved over the step. After the rounds, Dovecot's log shows which client address (rip) it saw per path.
# Every process started here is stopped on exit. Raw results stay in artifacts/bench/mail-raw*.jsonl.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
repo="$(pwd)"
here="$repo/eng/bench/mail"

smoke=0
if [[ "${1:-}" == "--smoke" ]]; then smoke=1; fi
if (( smoke )); then
  T=2; ROUNDS=1; WARM=1
  out_md=artifacts/bench/mail-smoke.md; raw=artifacts/bench/mail-raw-smoke.jsonl
  cmdline="./eng/bench/mail/run.sh --smoke"
else
  T=10; ROUNDS=5; WARM=10
  out_md=docs/benchmarks.md; raw=artifacts/bench/mail-raw.jsonl
  cmdline="./eng/bench/mail/run.sh"
fi
CONNS=32; PROCS=2; USERS=100; SOURCE=127.0.0.2
mkdir -p artifacts/bench
: > "$raw"
started_at=$(date +%s)

log() { echo "[mail-bench $(date +%H:%M:%S)] $*" >&2; }

# Other benchmark scripts running now ("pid script" each, not this one nor a flock still waiting to start one),
# to say in the report that the machine was shared.
other_benches() {
  pgrep -af 'eng/bench/[a-z]+/run.sh' | awk '$2 !~ /flock$/ && !/eng\/bench\/mail\/run.sh/ {
    for (i = 2; i <= NF; i++) if ($i ~ /eng\/bench\/[a-z]+\/run.sh/) { printf "%s %s, ", $1, $i; break } }' || true
}
others_at_start="$(other_benches)"
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- tools
missing=()
command -v nginx >/dev/null || missing+=(nginx)
[[ -f /usr/lib/nginx/modules/ngx_mail_module.so ]] || missing+=(libnginx-mod-mail)
command -v dovecot >/dev/null || missing+=(dovecot-core)
[[ -x /usr/lib/dovecot/imap-login ]] || missing+=(dovecot-imapd)
if (( ${#missing[@]} )); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 600 apt-get install -y -qq "${missing[@]}" >/dev/null
  # Some images start the packaged services on install; we run our own instances.
  for svc in nginx dovecot; do
    timeout 30 service "$svc" stop >/dev/null 2>&1 || true
  done
fi
CLK_TCK="$(getconf CLK_TCK)"

# ---------------------------------------------------------------- build
log "building samples/Gateway (Release)"
timeout 600 dotnet build samples/Gateway -c Release -nologo -v q >/dev/null
gateway_dir="$repo/samples/Gateway/bin/Release/net10.0"
[[ -f "$gateway_dir/Gateway.dll" ]] || { echo "Gateway.dll not found in $gateway_dir" >&2; exit 1; }

# ---------------------------------------------------------------- processes
source "$repo/eng/bench/lib.sh"
bench_start mail-bench
chmod 755 "$work"

# D_HA Dovecot haproxy = yes, D_PLAIN Dovecot plain, AUTH auth_http, NGINX, GW gateway.
read -r D_HA D_PLAIN AUTH NGINX GW < <(bench_free_ports 5)

# Dovecot: login processes as dovenull, mail processes as dovecot; the tree traversable, mail and home writable.
dv="$work/dovecot"
mkdir -p "$dv/mail" "$dv/home"
chmod 755 "$dv"; chmod 777 "$dv/mail" "$dv/home"
for ((i = 1; i <= USERS; i++)); do printf 'u%04d:{PLAIN}p%04d::::::\n' "$i" "$i"; done >"$dv/users"
# As DovecotPeer's, plus Dovecot's "high-performance" login mode: imap-login with service_count = 0 (one
# long-lived login process per core serving many connections) and imap processes reused (service_count = 0).
# Dovecot's default, a new imap-login and a new imap process per connection, caps this machine at ~115 logins/s
# even without a proxy, which would hide any difference between the proxies. Every login is logged (info), the
# same for every path: the log is how the script checks which client address Dovecot saw.
cat >"$dv/dovecot.conf" <<EOF
instance_name = pk-mailbench
base_dir = $dv/run
state_dir = $dv/state
log_path = $work/dovecot-events.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_failure_delay = 0
default_login_user = dovenull
default_internal_user = dovecot
default_internal_group = dovecot
first_valid_uid = 1
mail_location = maildir:$dv/mail/%u
haproxy_trusted_networks = 127.0.0.1/32
mail_max_userip_connections = 1000
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l lport=%{lport}

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dv/users
}

userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$dv/home/%u
}

service imap-login {
  service_count = 0
  process_min_avail = 2
  client_limit = 1000
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 0
  }
  inet_listener imapha {
    address = 127.0.0.1
    port = $D_HA
    haproxy = yes
  }
  inet_listener imapplain {
    address = 127.0.0.1
    port = $D_PLAIN
  }
}

service imap {
  service_count = 0
  process_min_avail = 2
}

service auth {
  client_limit = 2000
}

# Not chrooted to base_dir/empty, so that nothing is shared with another instance.
service anvil {
  chroot =
}
EOF
log "dovecot on $D_HA (haproxy = yes) and $D_PLAIN (plain)"
dovecot -F -c "$dv/dovecot.conf" >"$work/dovecot.log" 2>&1 &
dovecot_pid=$!
pids+=($dovecot_pid)

log "auth_http on $AUTH"
python3 "$here/auth_http.py" "$AUTH" "$dv/users" "gateway=$D_HA" "nginx=$D_PLAIN" >"$work/auth.log" 2>&1 &
auth_pid=$!
pids+=($auth_pid)

# worker_processes auto = one worker per core (2 here), like the gateway's default transport (one event loop per
# core). error_log at warn: no line per session, as the gateway logs at Warning with its access log off.
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_mail_module.so;
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
mail {
  auth_http 127.0.0.1:$AUTH/nginx;
  server {
    listen 127.0.0.1:$NGINX;
    protocol imap;
  }
}
EOF
log "nginx mail on $NGINX"
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -g 'daemon off;' >"$work/nginx.log" 2>&1 &
nginx_pid=$!
pids+=($nginx_pid)

# The gateway as shipped (its appsettings.json is loaded from its own directory), plus this file. The sample's
# "smtp" route is moved to a free port; logging at Warning and the access log off, as nginx logs nothing per
# session here.
cat >"$work/gateway.json" <<EOF
{
  "Logging": { "LogLevel": { "Default": "Warning", "ProxyKestrel": "Warning", "ProxyKestrel.Gateway.AccessLog": "None" } },
  "ReverseProxy": { "Clusters": {
    "dovecot": { "Metadata": { "ProxyProtocol": "v2" },
                 "Destinations": { "d1": { "Address": "tcp://127.0.0.1:$D_HA" } } }
  } },
  "TcpProxy": {
    "DrainTimeout": "00:00:02",
    "Routes": {
      "smtp": { "Listen": "127.0.0.1:0" },
      "imap": { "Listen": "127.0.0.1:$GW", "Protocol": "Imap", "ClusterId": "dovecot",
                "AuthHttp": "http://127.0.0.1:$AUTH/gateway", "AllowPlaintextLogin": true }
    }
  }
}
EOF
log "gateway on $GW"
(cd "$gateway_dir" && exec dotnet Gateway.dll --urls http://127.0.0.1:0 --Admin:Urls http://127.0.0.1:0 \
  --config "$work/gateway.json") >"$work/gateway.log" 2>&1 &
gateway_pid=$!
pids+=($gateway_pid)

# Dovecot's listeners are waited for in /proc/net/tcp, not probed: a probe of the haproxy = yes listener would be
# a failed connection in its log.
listening() { awk -v p="$(printf '0100007F:%04X' "$1")" '$2 == p && $4 == "0A" {f = 1} END {exit !f}' /proc/net/tcp; }
deadline=$((SECONDS + 30))
until listening "$D_HA" && listening "$D_PLAIN"; do
  (( SECONDS < deadline )) || { log "dovecot did not listen; log:"; cat "$work/dovecot.log" "$work/dovecot-events.log" >&2 || true; exit 1; }
  sleep 0.2
done
for p in "$AUTH:auth" "$NGINX:nginx" "$GW:gateway"; do
  wait_port "${p%%:*}" "${p#*:}"
done
sleep 1
nginx_workers="$(pgrep -P "$nginx_pid" | tr '\n' ' ')"

# ---------------------------------------------------------------- measure
declare -A port=([direct]=$D_PLAIN [nginx]=$NGINX [gateway]=$GW)
paths=(direct nginx gateway)

# CPU clock ticks (utime + stime, all threads) of processes; Dovecot: the master, its reaped children (cutime +
# cstime) and its live children (imap-login, imap, auth, log, ...).
ticks() { for p in "$@"; do sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null || true; done | awk '{s += $12 + $13} END {print s + 0}'; }
dovecot_ticks() {
  local children
  children="$(pgrep -P "$dovecot_pid" | tr '\n' ' ' || true)"
  # shellcheck disable=SC2086
  echo $(( $(sed 's/^.*) //' "/proc/$dovecot_pid/stat" | awk '{print $12 + $13 + $14 + $15}') + $(ticks $children) ))
}
proxy_ticks() {
  case "$1" in
    direct) echo 0 ;;
    # shellcheck disable=SC2086
    nginx) ticks "$nginx_pid" $nginx_workers ;;
    gateway) ticks "$gateway_pid" ;;
  esac
}
machine() { awk '/^cpu / {print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6}' /proc/stat; } # all cores: total, idle+iowait
alive() {
  kill -0 "$dovecot_pid" 2>/dev/null || { log "dovecot died; log:"; tail -n 20 "$work/dovecot.log" >&2; exit 1; }
  kill -0 "$auth_pid" 2>/dev/null || { log "auth_http died; log:"; tail -n 20 "$work/auth.log" >&2; exit 1; }
  kill -0 "$nginx_pid" 2>/dev/null || { log "nginx died; log:"; tail -n 20 "$work/nginx.log" >&2; exit 1; }
  kill -0 "$gateway_pid" 2>/dev/null || { log "gateway died; log:"; tail -n 40 "$work/gateway.log" >&2; exit 1; }
}

load() { # path seconds output
  timeout $(( ${2%.*} + 60 )) python3 "$here/imap_load.py" --port "${port[$1]}" --conns "$CONNS" --procs "$PROCS" \
    --seconds "$2" --users "$USERS" --source "$SOURCE" --label "$1" >"$3" 2>"$3.err"
}

# A warm-up through each path, not recorded: Dovecot's processes and maildirs, and the gateway's JIT (under this
# load its tiered compilation keeps a thread busy for the first ~10 s).
for r in "${paths[@]}"; do
  log "warm-up via $r"
  load "$r" "$WARM" "$work/warm-$r.json" || { log "warm-up via $r failed: $(tail -c 600 "$work/warm-$r.json.err")"; exit 1; }
done
alive

report_py="$here/report.py"
for ((round = 0; round < ROUNDS; round++)); do
  for ((i = 0; i < 3; i++)); do
    r=${paths[$(((i + round) % 3))]}
    log "round $((round + 1))/$ROUNDS: $T s of sessions via $r"
    f="$work/load-$round-$r.json"
    read -r m0 idle0 < <(machine)
    p0=$(proxy_ticks "$r"); a0=$(ticks "$auth_pid"); d0=$(dovecot_ticks); n0=$(proxy_ticks nginx); g0=$(proxy_ticks gateway)
    if load "$r" "$T" "$f"; then
      p1=$(proxy_ticks "$r"); a1=$(ticks "$auth_pid"); d1=$(dovecot_ticks); n1=$(proxy_ticks nginx); g1=$(proxy_ticks gateway)
      read -r m1 idle1 < <(machine)
      python3 "$report_py" step "$f" "$r" "$round" $((p1 - p0)) $((a1 - a0)) $((d1 - d0)) $((n1 - n0 + g1 - g0)) \
        $((m1 - m0)) $((idle1 - idle0)) "$CLK_TCK" "$(nproc)" >>"$raw"
    else
      log "load via $r failed: $(tail -c 600 "$f.err" | tr '\n' ' ')"
    fi
    sleep 0.5
  done
  alive
done

# ---------------------------------------------------------------- what Dovecot saw, what auth_http was asked
auth_stats="$(curl -s --max-time 5 "http://127.0.0.1:$AUTH/stats")"
# "rip lport count" per combination, from Dovecot's "Login:" lines.
seen="$(sed -n 's/.* imap-login: Info: Login: .* rip=\([0-9.]*\), lip=[0-9.]*, lport=\([0-9]*\).*/\1 \2/p' \
  "$work/dovecot-events.log" | sort | uniq -c | awk '{print $2, $3, $1}' | tr '\n' ';')"
refused="$(grep -c -E 'imap-login: Info: (Aborted login|Disconnected)' "$work/dovecot-events.log" || true)"

# ---------------------------------------------------------------- report
cpu_model="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | sed -n 1p)"
ver_nginx="$(nginx -v 2>&1 | sed -n 1p)"
ver_dovecot="$(dovecot --version | sed -n 1p)"
ver_dotnet="$(dotnet --version)"
ver_python="$(python3 --version 2>&1)"
others_at_end="$(other_benches)"

python3 "$report_py" report \
  --raw "$raw" --out "$out_md" --smoke "$smoke" \
  --date "$(date -u '+%Y-%m-%d %H:%M')" --cpu "$cpu_model" --cores "$(nproc)" --kernel "$(uname -r)" \
  --nginx "$ver_nginx" --dovecot "$ver_dovecot" --dotnet "$ver_dotnet" --python "$ver_python" \
  --command "$cmdline" --seconds "$T" --rounds "$ROUNDS" --warm "$WARM" --conns "$CONNS" --procs "$PROCS" --users "$USERS" \
  --source "$SOURCE" --wall "$(( $(date +%s) - started_at ))" --transport "${TcpProxy__Transport:-Auto}" \
  --port-direct "$D_PLAIN" --port-gateway "$GW" --seen "$seen" --dovecot-refused "$refused" \
  --auth-stats "$auth_stats" --others-start "$others_at_start" --others-end "$others_at_end" \
  --load-start "$load_at_start"
log "wrote $out_md in $(( $(date +%s) - started_at )) s (raw: $raw)"
