#!/usr/bin/env bash
# Coverage-guided fuzzing of the PROXY protocol codec: SharpFuzz 2.3.0 instruments ProxyKestrel.ProxyProtocol.dll,
# AFL++ (Debian's afl++, 4.04c) drives the harness eng/fuzz/ProxyKestrel.ProxyProtocol.Fuzz (target logic:
# tests/ProxyKestrel.ProxyProtocol.Tests/Fuzzing/CodecFuzzTarget.cs).
#
# Usage: eng/fuzz/run.sh [--target codec|datagram] [--seconds N | --executions N | --smoke]
#   --target T      codec (default: CodecFuzzTarget, seeds eng/fuzz/corpus) or datagram (DatagramFuzzTarget:
#                   ProxyDatagramReceiver.Receive on each input, seeds eng/fuzz/corpus-datagram + corpus)
#   --seconds N     fuzz for N seconds (afl-fuzz -V N)
#   --executions N  fuzz for about N executions (afl-fuzz -E N), bounded by --max-seconds (default 3600)
#   --smoke         a fixed 60-second budget (what CI runs)
# Default: --seconds 600. FUZZ_WORK_DIR (default artifacts/fuzz) holds pub/, in/, out/, findings/, afl.log and
# summary.txt; give concurrent runs (the CI smoke and a long run) different ones.
#
# Installs afl++ (apt) and the sharpfuzz tool (artifacts/tools) when missing, publishes the harness to
# artifacts/fuzz/pub, instruments the codec, runs afl-fuzz from eng/fuzz/corpus + eng/fuzz/regressions with the
# dictionary eng/fuzz/proxy.dict, appends one row to artifacts/reliability/results.jsonl, copies crash/hang inputs
# to artifacts/fuzz/findings/ and exits non-zero when there is any crash or hang (or when afl-fuzz failed).
# Long runs are measurements: wrap them in `flock /tmp/proxykestrel-bench.lock ...`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$(pwd)

mode=seconds
budget=600
max_seconds=3600
scale=full
target=codec
original_args="$*"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) mode=seconds; budget="$2"; shift 2 ;;
    --executions) mode=executions; budget="$2"; shift 2 ;;
    --max-seconds) max_seconds="$2"; shift 2 ;;
    --smoke) mode=seconds; budget=60; scale=smoke; shift ;;
    --target) target="$2"; shift 2 ;;
    *) echo "usage: $0 [--target codec|datagram] [--seconds N | --executions N [--max-seconds N] | --smoke]" >&2; exit 2 ;;
  esac
done
[[ "$target" == codec || "$target" == datagram ]] || { echo "fuzz: --target is codec or datagram" >&2; exit 2; }
[[ "$budget" =~ ^[0-9]+$ && "$budget" -gt 0 ]] || { echo "fuzz: the budget must be a positive integer" >&2; exit 2; }

SHARPFUZZ_VERSION=2.3.0
TOOLS="$ROOT/artifacts/tools"
default_work="$ROOT/artifacts/fuzz"
[[ "$target" == codec ]] || default_work="$ROOT/artifacts/fuzz-$target"
WORK="${FUZZ_WORK_DIR:-$default_work}"
PUB="$WORK/pub"
IN="$WORK/in"
OUT="$WORK/out"
FINDINGS="$WORK/findings"
HARNESS="$ROOT/eng/fuzz/ProxyKestrel.ProxyProtocol.Fuzz/ProxyKestrel.ProxyProtocol.Fuzz.csproj"
RESULTS="$ROOT/artifacts/reliability/results.jsonl"

# 1. Tools.
if ! command -v afl-fuzz >/dev/null 2>&1; then
  bash eng/install-peers.sh afl++
fi
if [[ ! -x "$TOOLS/sharpfuzz" ]]; then
  dotnet tool install --tool-path "$TOOLS" SharpFuzz.CommandLine --version "$SHARPFUZZ_VERSION"
fi
afl_version=$(afl-fuzz -h 2>&1 | head -1 | sed -e 's/\x1b\[[0-9;]*m//g' | grep -o '[0-9][0-9.]*[a-z]*' | head -1 || true)

# 2. Fresh publish + instrumentation (sharpfuzz refuses an already instrumented assembly).
rm -rf "$PUB" "$OUT" "$IN"
mkdir -p "$WORK" "$IN" "$FINDINGS"
dotnet publish "$HARNESS" -c Release -o "$PUB" --nologo -v quiet
"$TOOLS/sharpfuzz" "$PUB/ProxyKestrel.ProxyProtocol.dll"

# 3. Seeds: the codec test vectors plus every regression input.
cp eng/fuzz/corpus/* "$IN/"
if [[ "$target" == datagram ]]; then
  cp eng/fuzz/corpus-datagram/* "$IN/"
fi
find eng/fuzz/regressions -maxdepth 1 -type f ! -name '*.md' -exec cp {} "$IN/" \;

# 4. Fuzz.
limit_args=(-V "$budget")
wall=$((budget + 300))
if [[ "$mode" == executions ]]; then
  limit_args=(-E "$budget")
  wall=$max_seconds
fi

afl_pid=
cleanup() {
  if [[ -n "$afl_pid" ]] && kill -0 "$afl_pid" 2>/dev/null; then
    kill -INT "$afl_pid" 2>/dev/null || true
    sleep 2
    kill -KILL "$afl_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

echo "fuzz: afl-fuzz ${limit_args[*]} (wall-clock bound ${wall}s), seeds: $(ls "$IN" | wc -l)"
start=$(date +%s)
set +e
AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
  timeout --signal=INT --kill-after=30 "$wall" \
  afl-fuzz -i "$IN" -o "$OUT" -x eng/fuzz/proxy.dict -t 5000 -m none "${limit_args[@]}" \
  -- dotnet "$PUB/ProxyKestrel.ProxyProtocol.Fuzz.dll" --target "$target" > "$WORK/afl.log" 2>&1 &
afl_pid=$!
wait "$afl_pid"
afl_rc=$?
afl_pid=
set -e
elapsed=$(( $(date +%s) - start ))

# 5. Findings.
rm -f "$FINDINGS"/*
for kind in crashes hangs; do
  if [[ -d "$OUT/default/$kind" ]]; then
    find "$OUT/default/$kind" -maxdepth 1 -type f -name 'id*' -exec sh -c 'cp "$1" "$2/'"$kind"'-$(basename "$1" | tr ",:" "__")"' _ {} "$FINDINGS" \;
  fi
done

# 6. Stats → results row + summary.
status=0
python3 - "$OUT/default/fuzzer_stats" "$RESULTS" "$scale" "bash eng/fuzz/run.sh $original_args" "$afl_rc" "$elapsed" "${afl_version:-unknown}" "$SHARPFUZZ_VERSION" "$WORK/summary.txt" "$target" <<'PY' || status=$?
import datetime, json, os, platform, sys
stats_path, results, scale, command, afl_rc, elapsed, afl_version, sharpfuzz_version, summary_path, target = sys.argv[1:]
stats = {}
if os.path.exists(stats_path):
    with open(stats_path) as f:
        for line in f:
            if ":" in line:
                k, v = line.split(":", 1)
                stats[k.strip()] = v.strip()

def num(*keys):
    for k in keys:
        if k in stats:
            try:
                return int(float(stats[k].rstrip("%")))
            except ValueError:
                pass
    return None

execs = num("execs_done")
paths = num("corpus_count", "paths_total")
crashes = num("saved_crashes", "unique_crashes")
hangs = num("saved_hangs", "unique_hangs")
stability = stats.get("stability", "n/a")
speed = stats.get("execs_per_sec", "n/a")
ok_run = execs is not None and execs > 0 and crashes is not None and hangs is not None
passed = bool(ok_run and crashes == 0 and hangs == 0)
cpu = "?"
try:
    with open("/proc/cpuinfo") as f:
        models = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
    cpu = f"{len(models)} vCPU {models[0]}" if models else cpu
except OSError:
    pass
details = (f"{paths} paths, {crashes} crashes, {hangs} hangs, stability {stability}; "
           f"{speed} execs/s over {elapsed} s; AFL++ {afl_version} + SharpFuzz {sharpfuzz_version}, "
           f"1 afl-fuzz instance, {cpu}" + ("" if ok_run else f"; afl-fuzz failed (exit {afl_rc}), see artifacts/fuzz/afl.log"))
row = {
    "section": "fuzz", "scenario": f"{target}-afl", "scale": scale,
    "title": "Coverage-guided fuzzing of the codec: v1/v2 detect+parse (contiguous, split, prefix), TLV walk, typed readers, receiver Evaluate, writer round trips"
             if target == "codec" else "Coverage-guided fuzzing of ProxyDatagramReceiver.Receive: verdict vs parser, payload = suffix after the header, trust and modes",
    "inputs": execs, "connections": None, "bytes_verified": None, "faults": None,
    "lost": 0, "corrupted": 0, "spoofed": None,
    "details": details, "command": command,
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
    "passed": passed,
}
os.makedirs(os.path.dirname(results), exist_ok=True)
with open(results, "a") as f:
    f.write(json.dumps(row) + "\n")
summary = (f"execs_done={execs}\npaths={paths}\ncrashes={crashes}\nhangs={hangs}\nstability={stability}\n"
           f"execs_per_sec={speed}\nelapsed_s={elapsed}\npassed={str(passed).lower()}\n")
with open(summary_path, "w") as f:
    f.write(summary)
print("fuzz summary:\n" + summary + "details: " + details)
sys.exit(0 if passed else 1)
PY
if ls "$FINDINGS"/* >/dev/null 2>&1; then
  echo "fuzz: findings copied to $FINDINGS:"
  ls -1 "$FINDINGS"
fi
exit $status
