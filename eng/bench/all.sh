#!/usr/bin/env bash
# Reproduces docs/benchmarks.md: the codec benchmarks (BenchmarkDotNet), the TCP relay against HAProxy, the HTTP
# route and the middleware, SNI and Host routing against HAProxy, IMAP logins through the mail front against nginx
# mail, DNS over UDP through the UDP route against dnsdist, then the summary of every target. About 40 minutes on
# 2 cores.
#
#   ./eng/bench/all.sh           full runs; each script rewrites its own section of docs/benchmarks.md
#   ./eng/bench/all.sh --smoke   every script's smoke (writes artifacts/bench/*-smoke.md, leaves docs/ alone)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

args=()
if [[ "${1:-}" == "--smoke" ]]; then args=(--smoke); fi

bash eng/bench/run.sh "${args[@]}"
bash eng/bench/relay/run.sh "${args[@]}"
bash eng/bench/http/run.sh "${args[@]}"
bash eng/bench/routing/run.sh "${args[@]}"
bash eng/bench/mail/run.sh "${args[@]}"
bash eng/bench/udp/run.sh "${args[@]}"
if (( ${#args[@]} == 0 )); then
  python3 eng/bench/summary.py
fi
