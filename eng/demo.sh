#!/usr/bin/env bash
# The Postfix setup in one command: the gateway sample in front of a real Postfix postscreen, one mail through it.
#
#   ./eng/demo.sh          runs until Ctrl-C (both logs stream to stdout, prefixed "postfix |" and "gateway |")
#   ./eng/demo.sh --once   exits 0 once the mail is delivered; non-zero, saying what did not appear and showing the
#                          tail of both logs, if it does not happen within a bounded time
#
# Steps: installs Postfix and swaks when missing (eng/install-peers.sh, apt-get), builds samples/Gateway (Release),
# starts a throwaway Postfix (its own config, queue and data directories in a temporary directory,
# `postfix -c DIR start-fg`, maillog on stdout) with postscreen on 127.0.0.1:10024 and
# `postscreen_upstream_proxy_protocol = haproxy`, starts samples/Gateway as shipped (appsettings.json: TCP route
# 0.0.0.0:2525 -> 127.0.0.1:10024 with send-proxy v1, HTTP 127.0.0.1:5080, admin 0.0.0.0:8081), sends one mail with
# swaks from 127.0.0.2 through port 2525, and prints Postfix's `postscreen[...]: CONNECT from [127.0.0.2]:PORT` line
# and the gateway's access-log line for that connection (category ProxyKestrel.Gateway.AccessLog, HAProxy's tcplog
# fields; on in the sample as shipped).
#
# Only the gateway's console format is changed from the command line: one line per entry. TcpProxy__Transport
# (Sockets, Epoll) is passed on.
# Needs root (or sudo) for Postfix and apt-get, and the fixed ports 2525, 10024, 5080 and 8081 free. Everything
# started here is stopped on exit (also on Ctrl-C and SIGTERM), and the temporary directory is removed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$(pwd)"

once=0
case "${1:-}" in
  "") ;;
  --once) once=1 ;;
  -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "demo: unknown argument '$1' (usage: eng/demo.sh [--once])" >&2; exit 2 ;;
esac

CLIENT=127.0.0.2
SMTP_PORT=2525                  # samples/Gateway/appsettings.json, route "smtp"
POSTFIX_PORT=10024              # its cluster "postfix"
FIXED_PORTS=(2525 10024 5080 8081)
START_TIMEOUT=60                # seconds: Postfix and the gateway listening
MAIL_TIMEOUT=30                 # seconds: each of swaks, the CONNECT line, the delivery, the gateway's line

log() { echo "demo: $*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || fail "Postfix must be started as root: run as root or install sudo."
  SUDO=(sudo)
  sudo -v || fail "sudo refused: Postfix must be started as root."
fi

# ---------------------------------------------------------------- set-up and build
bash eng/install-peers.sh postfix swaks
command -v dotnet >/dev/null 2>&1 || fail "dotnet not found: install the .NET SDK named in global.json."
id postfix >/dev/null 2>&1 || fail "user 'postfix' missing (the Debian package postfix creates it)."
getent group postdrop >/dev/null 2>&1 || fail "group 'postdrop' missing (the Debian package postfix creates it)."

# listening PORT: true when something listens on TCP PORT (any address). Reads /proc, never connects: a probe of
# 2525 would be relayed to Postfix, a probe of 10024 would make postscreen log a missing PROXY header.
listening() {
  local hex
  hex="$(printf ':%04X' "$1")"
  awk -v p="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

busy=()
for port in "${FIXED_PORTS[@]}"; do
  if listening "$port"; then busy+=("$port"); fi
done
(( ${#busy[@]} == 0 )) || fail "port(s) ${busy[*]} already in use (the demo needs ${FIXED_PORTS[*]}; another demo running?)."

log "building samples/Gateway (Release)"
# No build servers (MSBuild nodes, VBCSCompiler): nothing outlives the demo or holds its stdout open.
dotnet build samples/Gateway -c Release -nologo -v q --disable-build-servers
gateway_dir="$repo/samples/Gateway/bin/Release/net10.0"
[[ -f "$gateway_dir/Gateway.dll" ]] || fail "$gateway_dir/Gateway.dll not found after the build."

# ---------------------------------------------------------------- clean-up
work="$(mktemp -d "${TMPDIR:-/tmp}/proxykestrel-demo.XXXXXX")"
postfix_started=0
postfix_pid=""
gateway_pid=""

# wait_pid PID SECONDS: waits for a child to exit, at most SECONDS; false if it is still running.
wait_pid() {
  local deadline=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null; do
    (( SECONDS < deadline )) || return 1
    sleep 0.1
  done
  wait "$1" 2>/dev/null || true
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$gateway_pid" ]] && kill -0 "$gateway_pid" 2>/dev/null; then
    kill -TERM "$gateway_pid" 2>/dev/null || true
    wait_pid "$gateway_pid" 15 || { kill -KILL "$gateway_pid" 2>/dev/null || true; wait_pid "$gateway_pid" 5 || true; }
  fi
  if (( postfix_started )); then
    # The master outlives its start-fg process: stop it through its own config.
    "${SUDO[@]}" postfix -c "$work/etc" stop >/dev/null 2>&1 || true
    if [[ -n "$postfix_pid" ]]; then
      wait_pid "$postfix_pid" 15 || { kill -KILL "$postfix_pid" 2>/dev/null || true; wait_pid "$postfix_pid" 5 || true; }
    fi
  fi
  "${SUDO[@]}" rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# show_tails: the last lines of both logs (on failure).
show_tails() {
  echo "--- last 40 lines of Postfix's log ---" >&2
  tail -n 40 "$work/postfix.log" >&2 2>/dev/null || true
  echo "--- last 40 lines of the gateway's log ---" >&2
  tail -n 40 "$work/gateway.log" >&2 2>/dev/null || true
}

# fail_with_logs MESSAGE: fails, showing the tail of both logs.
fail_with_logs() {
  echo "demo: FAILED: $*" >&2
  show_tails
  exit 1
}

# wait_until SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds (true) or SECONDS pass (false).
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    (( SECONDS < deadline )) || return 1
    sleep 0.1
  done
}

# ---------------------------------------------------------------- Postfix
# A throwaway instance: its own main.cf/master.cf, queue and data directories under $work; postscreen on
# 127.0.0.1:10024 expecting the PROXY header (HAProxy's format, which the gateway's send-proxy v1 writes), smtpd
# behind it; mail for @localhost is accepted and discarded.
chmod 0755 "$work"                      # the Postfix daemons (user postfix) traverse it
mkdir -p "$work/etc" "$work/queue" "$work/data"
"${SUDO[@]}" chown postfix "$work/data"
{ echo "queue_directory = $work/queue"; echo "data_directory = $work/data"; grep -v '^#' eng/postfix/main-settings.cf; } >"$work/etc/main.cf"
{ echo "127.0.0.1:$POSTFIX_PORT inet n - n - 1 postscreen"; grep -v '^#' eng/postfix/master-services.cf; } >"$work/etc/master.cf"
"${SUDO[@]}" postfix -c "$work/etc" check || fail "postfix check refused the demo's configuration in $work/etc."

: >"$work/postfix.log"
: >"$work/gateway.log"
log "starting Postfix: postscreen on 127.0.0.1:$POSTFIX_PORT (config $work/etc)"
postfix_started=1
# stdout is a pipe (maillog_file = /dev/stdout), copied to postfix.log and shown prefixed.
"${SUDO[@]}" postfix -c "$work/etc" start-fg \
  > >(tee -a "$work/postfix.log" | sed -u 's/^/postfix | /') 2>&1 &
postfix_pid=$!

postfix_up() {
  kill -0 "$postfix_pid" 2>/dev/null || fail_with_logs "Postfix exited before listening on 127.0.0.1:$POSTFIX_PORT."
  listening "$POSTFIX_PORT"
}
wait_until "$START_TIMEOUT" postfix_up \
  || fail_with_logs "Postfix did not listen on 127.0.0.1:$POSTFIX_PORT within ${START_TIMEOUT} s."

# ---------------------------------------------------------------- the gateway
log "starting samples/Gateway as shipped (TcpProxy__Transport=${TcpProxy__Transport:-<unset>: Auto})"
(cd "$gateway_dir" && exec dotnet Gateway.dll \
    --Logging:Console:FormatterName=simple \
    --Logging:Console:FormatterOptions:SingleLine=true) \
  > >(tee -a "$work/gateway.log" | sed -u 's/^/gateway | /') 2>&1 &
gateway_pid=$!

gateway_up() {
  kill -0 "$gateway_pid" 2>/dev/null || fail_with_logs "the gateway exited before listening on port $SMTP_PORT."
  listening "$SMTP_PORT"
}
wait_until "$START_TIMEOUT" gateway_up || fail_with_logs "the gateway did not listen on port $SMTP_PORT within ${START_TIMEOUT} s."

# ---------------------------------------------------------------- one mail
log "sending one mail with swaks from $CLIENT through 127.0.0.1:$SMTP_PORT"
swaks_status=0
timeout $((MAIL_TIMEOUT + 5)) swaks --server 127.0.0.1 --port "$SMTP_PORT" --local-interface "$CLIENT" \
  --timeout "$MAIL_TIMEOUT" --from demo@localhost --to postmaster@localhost \
  --header "Subject: ProxyKestrel demo" --body "Sent by eng/demo.sh through samples/Gateway." \
  >"$work/swaks.log" 2>&1 || swaks_status=$?
sed 's/^/swaks   | /' "$work/swaks.log"
queue_id="$(sed -n 's/^<-  250 [0-9.]* Ok: queued as \([0-9A-Za-z]*\).*/\1/p' "$work/swaks.log" | head -n 1)"
if (( swaks_status != 0 )) || [[ -z "$queue_id" ]]; then
  fail_with_logs "the mail was not accepted: swaks exited with $swaks_status and Postfix's 'Ok: queued as ID' did not appear in its transcript (above)."
fi

# find_line FILE ERE: the first line of FILE matching ERE (and true), else nothing (and false).
find_line() { grep -m 1 -E -- "$2" "$1"; }
found() { find_line "$@" >/dev/null; }

client_re="${CLIENT//./\\.}"
connect_re="postscreen\[[0-9]+\]: CONNECT from \[$client_re\]:[0-9]+"
wait_until "$MAIL_TIMEOUT" found "$work/postfix.log" "$connect_re" \
  || fail_with_logs "Postfix did not log 'postscreen[...]: CONNECT from [$CLIENT]:PORT' within ${MAIL_TIMEOUT} s: the client address did not arrive in the PROXY header."
connect_line="$(find_line "$work/postfix.log" "$connect_re")"
client_port="$(sed -E "s/.*CONNECT from \[$client_re\]:([0-9]+).*/\1/" <<<"$connect_line")"

delivered_re="$queue_id: to=<postmaster@localhost>.* status=sent"
wait_until "$MAIL_TIMEOUT" found "$work/postfix.log" "$delivered_re" \
  || fail_with_logs "the mail was not delivered: Postfix did not log '$queue_id: to=<postmaster@localhost>, ... status=sent' within ${MAIL_TIMEOUT} s."

# The gateway's access-log line for that connection, found by the client's address and port (as Postfix saw them):
# written when the connection ends.
gateway_client_re="(^|[^0-9])$client_re:$client_port \\["
access_re="ProxyKestrel\.Gateway\.AccessLog\[113\].*$gateway_client_re"
wait_until "$MAIL_TIMEOUT" found "$work/gateway.log" "$access_re" \
  || fail_with_logs "the gateway logged no access-log line for $CLIENT:$client_port within ${MAIL_TIMEOUT} s."
gateway_line="$(find_line "$work/gateway.log" "$access_re")"

echo
echo "==> Postfix saw the client's address, sent by the gateway in the PROXY header:"
echo "$connect_line"
echo "==> The gateway's access-log line for that connection (HAProxy tcplog fields):"
echo "$gateway_line"
echo "==> Mail $queue_id delivered (discarded by Postfix's local transport)."
echo

if (( once )); then
  log "--once: done"
  exit 0
fi

log "running: the gateway on port $SMTP_PORT, Postfix on 127.0.0.1:$POSTFIX_PORT; Ctrl-C stops both."
log "try: swaks --server 127.0.0.1 --port $SMTP_PORT --local-interface 127.0.0.3 --to postmaster@localhost"
status=0
wait -n "$gateway_pid" "$postfix_pid" || status=$?
fail_with_logs "$(kill -0 "$gateway_pid" 2>/dev/null && echo Postfix || echo "the gateway") exited (status $status)."
