# Shared scaffolding of the benchmark scripts (sourced by eng/bench/relay/run.sh and eng/bench/http/run.sh):
# a work directory, the processes started in it and their clean-up on exit, free loopback ports, waiting for a port.
# The sourcing script defines log() before calling these.

# bench_start PREFIX: creates $work (/tmp/PREFIX.XXXXXX) and $pids, and stops every pid in $pids on exit (TERM, then
# KILL after 5 s); keeps $work when the script fails so its process logs can be read.
bench_start() {
  work="$(mktemp -d "/tmp/$1.XXXXXX")"
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
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

# bench_free_ports N: prints N distinct free loopback ports (bound to port 0 all at once, then released).
bench_free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(*[s.getsockname()[1] for s in socks])
for s in socks: s.close()
PY
}

# wait_port PORT NAME: waits up to 30 s for a listener on 127.0.0.1:PORT; on failure prints $work/NAME.log and exits.
wait_port() {
  local deadline=$((SECONDS + 30))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    (( SECONDS < deadline )) || { echo "$2 did not listen on $1; log:" >&2; cat "$work/$2.log" >&2 || true; exit 1; }
    sleep 0.2
  done
}

# bench_free_udp_ports N: prints N distinct free loopback UDP ports (bound to port 0 all at once, then released).
bench_free_udp_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); socks.append(s)
print(*[s.getsockname()[1] for s in socks])
for s in socks: s.close()
PY
}

# wait_udp_port PORT NAME: waits up to 30 s for a UDP socket bound to 127.0.0.1:PORT (in /proc/net/udp: a UDP
# listener cannot be probed without a datagram it would have to answer); on failure prints $work/NAME.log and exits.
wait_udp_port() {
  local deadline=$((SECONDS + 30)) local_address
  local_address="$(printf '0100007F:%04X' "$1")"
  until awk -v a="$local_address" '$2 == a {f = 1} END {exit !f}' /proc/net/udp; do
    (( SECONDS < deadline )) || { echo "$2 did not bind UDP $1; log:" >&2; cat "$work/$2.log" >&2 || true; exit 1; }
    sleep 0.2
  done
}
