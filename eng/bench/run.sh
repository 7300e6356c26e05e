#!/usr/bin/env bash
# Runs the codec benchmarks (BenchmarkDotNet) and writes docs/benchmarks.md from the reports.
#
#   ./eng/bench/run.sh                  full run with the bounded job (3 warmup + 10 iterations), updates docs/benchmarks.md
#   ./eng/bench/run.sh --smoke          CI smoke run (--job dry): proves the harness builds and runs; writes
#                                       artifacts/bench/benchmarks-smoke.md and leaves docs/benchmarks.md alone
#   ./eng/bench/run.sh --job short      any other arguments go to BenchmarkDotNet after --filter '*'
#
# Raw reports: BenchmarkDotNet.Artifacts/results/*-report-github.md and *-report.csv.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

output=docs/benchmarks.md
bdn_args=()
if [[ "${1:-}" == "--smoke" ]]; then
  shift
  output=artifacts/bench/benchmarks-smoke.md
  bdn_args=(--job dry)
fi

results_dir=BenchmarkDotNet.Artifacts/results
rm -rf "$results_dir"

dotnet run -c Release --project eng/bench/ProxyKestrel.ProxyProtocol.Benchmarks -- --filter '*' "${bdn_args[@]}" "$@"

mkdir -p "$(dirname "$output")"

cpu_model="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | sed -n 1p)"
cpu_count="$(nproc)"
kernel="$(uname -r)"
dotnet_sdk="$(dotnet --version)"
command_line="./eng/bench/run.sh"
if [[ "$output" != docs/benchmarks.md ]]; then
  command_line="./eng/bench/run.sh --smoke"
fi

python3 - "$results_dir" "$output" "$cpu_model" "$cpu_count" "$kernel" "$dotnet_sdk" "$command_line" "$@" <<'PY'
import csv
import datetime
import glob
import os
import re
import sys

results_dir, output, cpu_model, cpu_count, kernel, dotnet_sdk, command_line, *extra = sys.argv[1:]
if extra:
    command_line += " " + " ".join(extra)

TARGET_NS = 50.0
TIME_TARGETS = ("ParseV1Tcp4", "ParseV2Tcp4")
UNITS = {"ns": 1.0, "us": 1e3, "μs": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9}

def to_ns(text):
    m = re.match(r"^\s*([\d.,]+)\s*(ns|us|μs|µs|ms|s)\s*$", text)
    if not m:
        return None
    return float(m.group(1).replace(",", "")) * UNITS[m.group(2)]

def is_zero_alloc(text):
    t = text.strip()
    return t in ("-", "0 B", "0") or t.startswith("0 B")

csv_files = sorted(glob.glob(os.path.join(results_dir, "*-report.csv")))
if not csv_files:
    sys.exit(f"run.sh: no BenchmarkDotNet CSV report in {results_dir}")

bdn_version = "unknown"
environment = ""
for md in sorted(glob.glob(os.path.join(results_dir, "*-report-github.md"))):
    text = open(md, encoding="utf-8").read()
    m = re.search(r"BenchmarkDotNet v([\w.\-+]+)", text)
    if m:
        bdn_version = m.group(1)
    m = re.search(r"```\n(.*?)```", text, re.S)
    if m:
        environment = m.group(1).strip("\n").rstrip()
    break

tables = []
rows_all = []
for path in csv_files:
    name = os.path.basename(path)[: -len("-report.csv")].rsplit(".", 1)[-1]
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    tables.append((name, rows))
    rows_all.extend(rows)

now = datetime.datetime.now(datetime.timezone.utc)
out = []
out.append("## PROXY protocol codec (BenchmarkDotNet)")
out.append("")
out.append("Throughput and allocations of the PROXY protocol codec (`ProxyKestrel.ProxyProtocol`), measured with")
out.append("[BenchmarkDotNet](https://benchmarkdotnet.org/). The benchmarks live in")
out.append("`eng/bench/ProxyKestrel.ProxyProtocol.Benchmarks`: `ParseBenchmarks` parses complete headers (each followed by")
out.append("application bytes the parser must not consume, single- and multi-segment `ReadOnlySequence<byte>`), and")
out.append("`WriteBenchmarks` writes headers into a preallocated buffer. Every benchmark reads the parsed result (ports,")
out.append("length, TLVs) so nothing is optimized away. There are no timed unit tests; this section is the record.")
out.append("")
out.append("### Reproduce")
out.append("")
out.append("```sh")
out.append(command_line)
out.append("```")
out.append("")
out.append("The default job is bounded for a small shared machine: 1 process, 3 warmup and 10 measured iterations per")
out.append("benchmark, with the memory diagnoser. `./eng/bench/run.sh --smoke` runs every benchmark once (`--job dry`)")
out.append("to prove the harness still works and writes `artifacts/bench/benchmarks-smoke.md` instead of this section;")
out.append("other arguments are passed to BenchmarkDotNet (for example `--job short`). Raw reports are in")
out.append("`BenchmarkDotNet.Artifacts/results/`.")
out.append("")
out.append("### Machine")
out.append("")
out.append(f"- Date (UTC): {now.strftime('%Y-%m-%d %H:%M')}")
out.append(f"- CPU: {cpu_model}, {cpu_count} logical cores (shared)")
out.append(f"- Kernel: Linux {kernel}")
out.append(f"- .NET SDK: {dotnet_sdk}")
out.append(f"- BenchmarkDotNet: {bdn_version}")
if environment:
    out.append("")
    out.append("BenchmarkDotNet environment:")
    out.append("")
    out.append("```")
    out.append(environment)
    out.append("```")
out.append("")
out.append("### Results")
for name, rows in tables:
    out.append("")
    out.append(f"#### {name}")
    out.append("")
    out.append("| Method | Mean | Error | Allocated |")
    out.append("|---|---:|---:|---:|")
    for r in rows:
        out.append(f"| {r.get('Method', '?')} | {r.get('Mean', '?')} | {r.get('Error', '?')} | {r.get('Allocated', '?')} |")

out.append("")
out.append("### Targets")
out.append("")
out.append(f"Target: at most {TARGET_NS:g} ns per header for `ParseV1Tcp4` and `ParseV2Tcp4`; 0 bytes allocated for every")
out.append("parse and write (BenchmarkDotNet prints `-` for zero).")
if "--smoke" in command_line:
    out.append("")
    out.append("This is a smoke run (`--job dry`): each timing is a single cold-start invocation, so the time checks below")
    out.append("are expected to fail here; only a full run is comparable with the target. The allocation checks are valid.")
out.append("")
out.append("| Check | Measured | Met |")
out.append("|---|---:|:---:|")
by_method = {r.get("Method"): r for r in rows_all}
all_met = True
for method in TIME_TARGETS:
    r = by_method.get(method)
    if r is None:
        out.append(f"| `{method}` Mean ≤ {TARGET_NS:g} ns | not run | no |")
        all_met = False
        continue
    ns = to_ns(r.get("Mean", ""))
    met = ns is not None and ns <= TARGET_NS
    all_met &= met
    out.append(f"| `{method}` Mean ≤ {TARGET_NS:g} ns | {r.get('Mean')} | {'yes' if met else 'NO'} |")
for r in rows_all:
    alloc = r.get("Allocated", "")
    met = is_zero_alloc(alloc)
    all_met &= met
    out.append(f"| `{r.get('Method')}` allocates 0 B | {alloc} | {'yes' if met else 'NO'} |")
out.append("")
out.append(f"All targets met: **{'yes' if all_met else 'no'}**.")
out.append("")

sys.path.insert(0, os.path.join("eng", "bench"))
import sections
if output == "docs/benchmarks.md":
    # Only the codec's own section; the relay, HTTP and summary sections belong to their scripts.
    sections.replace(output, "codec", "\n".join(out))
else:
    with open(output, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
print(f"run.sh: wrote {output} (all targets met: {'yes' if all_met else 'no'})")
PY
