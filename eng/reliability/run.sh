#!/usr/bin/env bash
# The long runs of docs/reliability.md: coverage-guided fuzzing of the codec (at least 10^7 executions), then every
# reliability scenario (tests marked Category=Reliability) at full scale, then the page itself.
#
#   ./eng/reliability/run.sh                       everything (about 40 minutes on 2 cores)
#   ./eng/reliability/run.sh --skip-fuzz           only the scenarios
#   ./eng/reliability/run.sh --filter EXPR         only the scenarios matching EXPR (a dotnet test filter term,
#                                                  e.g. "FullyQualifiedName~SlowlorisTests"), no fuzzing
#   ./eng/reliability/run.sh --report              only rewrite docs/reliability.md from the recorded results
#
# The short versions of the same scenarios run in CI with every ./eng/test.sh. Results are appended to
# artifacts/reliability/results.jsonl; docs/reliability.md shows the newest full-scale row of each scenario.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

fuzz=1; filter=""; report_only=0
while (( $# )); do
  case "$1" in
    --skip-fuzz) fuzz=0 ;;
    --filter) fuzz=0; filter="$2"; shift ;;
    --report) report_only=1 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

machine="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | sed -n 1p), $(nproc) logical cores (shared); Linux $(uname -r); .NET SDK $(dotnet --version); open files limit $(ulimit -n)"
status=0
if (( ! report_only )); then
  bash eng/install-peers.sh haproxy nginx libnginx-mod-stream curl
  dotnet build ProxyKestrel.sln -c Release -nologo -v q
  if (( fuzz )); then
    bash eng/fuzz/run.sh --executions 10000000 || status=1
  fi
  for proj in tests/*/*.Tests.csproj; do
    expr="Category=Reliability"
    if [[ -n "$filter" ]]; then expr="$expr&$filter"; fi
    echo "==> full-scale reliability scenarios in $proj"
    PROXYKESTREL_RELIABILITY=full dotnet test "$proj" -c Release --no-build --filter "$expr" \
      --logger "console;verbosity=normal" || status=1
  done
fi
python3 eng/reliability/report.py --machine "$machine"
exit $status
