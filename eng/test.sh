#!/usr/bin/env bash
# Full set-up + all tests. Prints exactly one final line: "N passed, N failed".
# Exit code is non-zero if any test project failed, any test failed, or no test ran.
#
# Optional: TEST_FILTER="..." is passed to `dotnet test --filter`.
# Each test project runs once (its TRX: artifacts/test-results/<Project>/<Project>.trx); the final line sums them. The
# gateway's tests run on every TCP transport inside that one run: the test project makes one test case per transport
# (Sockets; Epoll on Linux), named `... [Epoll]` with the trait Transport=Epoll, so TEST_FILTER='Transport=Epoll' runs
# only that transport's cases; TcpProxy__Transport=Epoll in the environment makes only those too, next to the tests that
# do not depend on the transport (docs/transports.md, "Tests on both transports").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RESULTS_DIR=artifacts/test-results

bash eng/install-peers.sh haproxy nginx libnginx-mod-stream curl postfix swaks afl++ dovecot-imapd dovecot-pop3d unbound dnsdist dnsperf pdns-recursor
cmp -s eng/k8s/package-lock.json eng/k8s/node_modules/.installed-lock.json || { npm ci --prefix eng/k8s --no-audit --no-fund --loglevel=error && cp eng/k8s/package-lock.json eng/k8s/node_modules/.installed-lock.json; }
dotnet restore ProxyKestrel.sln
dotnet build ProxyKestrel.sln -c Release --no-restore

rm -rf "$RESULTS_DIR"
mkdir -p "$RESULTS_DIR"

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
  echo "==> dotnet test $proj"
  run_tests "$proj" "$name" "${TEST_FILTER:-}"
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
