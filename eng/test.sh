#!/usr/bin/env bash
# Full set-up + all tests. Prints exactly one final line: "N passed, N failed".
# Exit code is non-zero if any test project failed, any test failed, or no test ran.
#
# Optional: TEST_FILTER="..." is passed to `dotnet test --filter`.
# The gateway test project runs once per TCP transport (TcpProxy__Transport=Sockets, then Epoll); each pass writes its
# own TRX (artifacts/test-results/ProxyKestrel.Gateway.Tests.<Transport>/) and the final line sums every pass.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RESULTS_DIR=artifacts/test-results

bash eng/install-peers.sh haproxy nginx libnginx-mod-stream curl postfix swaks afl++
cmp -s eng/k8s/package-lock.json eng/k8s/node_modules/.installed-lock.json || { npm ci --prefix eng/k8s --no-audit --no-fund --loglevel=error && cp eng/k8s/package-lock.json eng/k8s/node_modules/.installed-lock.json; }
dotnet restore ProxyKestrel.sln
dotnet build ProxyKestrel.sln -c Release --no-restore

rm -rf "$RESULTS_DIR"
mkdir -p "$RESULTS_DIR"

# The gateway's tests run once per TCP transport: the environment variable TcpProxy__Transport reaches the in-process
# gateway (tests/ProxyKestrel.Gateway.Tests/Infrastructure/GatewayHost.cs) and samples/Gateway started as a child
# process (ASP.NET's environment-variable configuration; the children inherit the test process's environment).
GATEWAY_PROJECT=ProxyKestrel.Gateway.Tests
TRANSPORTS=(Sockets Epoll)
# Left out of every pass after the first, as they do not depend on the TCP transport:
# - Kubernetes: renders the manifests and validates their gateway.json offline; no gateway, no socket.
# - Benchmarks: the relay/HTTP smokes check that eng/bench/*/run.sh writes every figure of its report; each takes
#   minutes and waits for the shared benchmark lock; the benchmarks themselves choose what they compare.
# - Relay.Epoll: the epoll transport's own tests pin it (or start no gateway), whatever the environment says.
REPEAT_PASS_EXCLUDE='FullyQualifiedName!~ProxyKestrel.Gateway.Tests.Kubernetes.&FullyQualifiedName!~ProxyKestrel.Gateway.Tests.Benchmarks.&FullyQualifiedName!~ProxyKestrel.Gateway.Tests.Relay.Epoll.'

shopt -s nullglob
projects=(tests/*/*.Tests.csproj)
shopt -u nullglob

failed_projects=()

# run_tests PROJECT NAME FILTER: one `dotnet test`, its TRX at $RESULTS_DIR/NAME/NAME.trx.
run_tests() {
  local proj="$1" name="$2" filter="$3"
  local args=()
  if [[ -n "$filter" ]]; then
    args=(--filter "$filter")
  fi
  if ! dotnet test "$proj" -c Release --no-build \
      --logger "trx;LogFileName=${name}.trx" \
      --results-directory "$RESULTS_DIR/$name" \
      "${args[@]}"; then
    failed_projects+=("$name")
  fi
}

for proj in "${projects[@]}"; do
  name="$(basename "$proj" .csproj)"
  if [[ "$name" != "$GATEWAY_PROJECT" ]]; then
    echo "==> dotnet test $proj"
    run_tests "$proj" "$name" "${TEST_FILTER:-}"
    continue
  fi

  for transport in "${TRANSPORTS[@]}"; do
    filter="${TEST_FILTER:-}"
    if [[ $transport != "${TRANSPORTS[0]}" ]]; then
      filter="${filter:+($filter)&}$REPEAT_PASS_EXCLUDE"
    fi
    echo "==> dotnet test $proj (transport: $transport)"
    TcpProxy__Transport="$transport" run_tests "$proj" "$name.$transport" "$filter"
  done
done

# Sum <Counters passed="N" failed="N" .../> over every TRX file.
passed=0
failed=0
read -r passed failed < <(python3 - "$RESULTS_DIR" <<'PY'
import glob, os, re, sys
passed = failed = 0
for path in glob.glob(os.path.join(sys.argv[1], "**", "*.trx"), recursive=True):
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        text = f.read()
    m = re.search(r"<Counters\b[^>]*>", text)
    if not m:
        continue
    tag = m.group(0)
    def attr(n):
        a = re.search(r'\b' + n + r'="(\d+)"', tag)
        return int(a.group(1)) if a else 0
    passed += attr("passed")
    failed += attr("failed") + attr("error") + attr("timeout") + attr("aborted")
print(passed, failed)
PY
) || true
passed=${passed:-0}
failed=${failed:-0}

echo "TRX files: $(pwd)/$RESULTS_DIR"
if [[ ${#failed_projects[@]} -gt 0 ]]; then
  echo "Failing test projects: ${failed_projects[*]}"
fi
if [[ ${#projects[@]} -eq 0 ]]; then
  echo "No test projects found under tests/."
elif [[ $((passed + failed)) -eq 0 ]]; then
  echo "No tests ran."
fi

echo "${passed} passed, ${failed} failed"

if [[ ${#failed_projects[@]} -gt 0 || $failed -gt 0 || $((passed + failed)) -eq 0 ]]; then
  exit 1
fi
