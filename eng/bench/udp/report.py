#!/usr/bin/env python3
"""Parses dnsperf and dnsclient.py output and writes the "UDP: the gateway's UDP route vs dnsdist" report for
eng/bench/udp/run.sh.

  report.py parse-dnsperf FILE PATH ROUND TEST CPU_TICKS CLK_TCK  -> JSON lines (qps, p99 ms, CPU-ms per 1,000)
  report.py parse-sessions FILE PROXY                              -> one JSON line (RSS KiB per session)
  report.py report --raw RAW --out MD ...
"""
import argparse
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sections  # noqa: E402
from benchlib import percentile  # noqa: E402

NAME = "udp"
PATHS = [("direct", "direct"), ("dnsdist", "dnsdist"), ("gateway", "gateway")]
PROXIES = [("dnsdist", "dnsdist"), ("gateway", "gateway")]
TARGET = 1.0
TIMEOUT_MS = 2000.0  # dnsperf -t 2 in run.sh


def parse_dnsperf(path, who, rnd, test, cpu_ticks, clk_tck):
    text = open(path, encoding="utf-8").read()
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", text).group(1))
    completed = int(re.search(r"Queries completed:\s+(\d+)", text).group(1))
    sent = int(re.search(r"Queries sent:\s+(\d+)", text).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", text).group(1))
    avg = float(re.search(r"Average Latency \(s\):\s+([\d.]+)", text).group(1)) * 1000
    base = {"proxy": who, "round": int(rnd), "test": test}
    print(json.dumps({**base, "metric": "rps", "value": qps, "sent": sent, "completed": completed, "lost": lost}))
    print(json.dumps({**base, "metric": "avg", "value": avg}))
    # -v: one line per answer, "> NOERROR hello.pk.test. A 0.000121" (its latency in seconds, last).
    latencies = [float(m.group(1)) * 1000 for m in re.finditer(r"^> \S+ .* ([\d.]+)$", text, re.M)]
    if latencies:
        # A lost query (no answer within dnsperf's -t 2) counts as that timeout: dropping it would flatter the p99
        # of a path that loses queries.
        with_lost = latencies + [TIMEOUT_MS] * lost
        print(json.dumps({**base, "metric": "p99", "value": percentile(with_lost, 99), "answers": len(latencies),
                          "p99_answered": percentile(latencies, 99)}))
    if who != "direct" and completed > 0:
        print(json.dumps({**base, "metric": "cpu", "value": int(cpu_ticks) / int(clk_tck) / completed * 1e6}))


def parse_sessions(path, proxy):
    s = json.loads(open(path, encoding="utf-8").read().strip().splitlines()[-1])
    per = (s["rss_after_kb"] - s["rss_before_kb"]) / s["sockets"]
    print(json.dumps({"proxy": proxy, "round": 0, "test": "sessions", "metric": "mem", "value": per, **s}))


def fmt(v, metric):
    if v is None:
        return "–"
    if metric in ("p99", "avg"):
        return f"{v:.1f}" if v >= 10 else f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"
    if metric in ("cpu", "mem"):
        return f"{v:.2f}" if abs(v) >= 0.1 else f"{v:.3f}"
    return f"{v:,.0f}"


def report(a):
    samples = [json.loads(line) for line in open(a.raw, encoding="utf-8") if line.strip()]
    samples = [s for s in samples if "meta" not in s]
    vals = {}
    notes = []
    sessions = {}
    for s in samples:
        vals.setdefault((s["test"], s["metric"], s["proxy"]), []).append(s["value"])
        if s["metric"] == "rps" and s.get("lost"):
            notes.append(f'{s["test"]} via {s["proxy"]}, round {s["round"] + 1}: {s["lost"]:,} of {s["sent"]:,} '
                         f'queries lost ({100.0 * s["lost"] / max(1, s["sent"]):.2f} %)')
        if s["metric"] == "mem":
            sessions[s["proxy"]] = s
    med = {k: statistics.median(v) for k, v in vals.items()}

    def ratio(test, metric):
        g, d = med.get((test, metric, "gateway")), med.get((test, metric, "dnsdist"))
        return g / d if (g is not None and d) else None

    def row(label, test, metric, columns, target=True):
        r = ratio(test, metric)
        cells = " | ".join(fmt(med.get((test, metric, key)), metric) for key, _ in columns)
        text = f"| {label} | {cells} | {'–' if r is None else f'{r:.2f}'} |"
        if not target:
            return text
        if metric == "rps":
            tgt, ok = f"≥ {TARGET:.1f}×", None if r is None else r >= TARGET
        else:
            tgt, ok = "≤ dnsdist", None if r is None else r <= 1.0
        return f"{text} {tgt} | {'–' if ok is None else ('yes' if ok else 'no')} |"

    def head(columns):
        return ("| figure | " + " | ".join(t for _, t in columns) + " | gateway/dnsdist |",
                "|---|" + "---:|" * len(columns) + "---:|")

    max_label = f"max rate (dnsperf -c{a.clients} -q{a.outstanding}) (qps)"
    p99_label = f"p99 latency at {int(a.rate):,} qps (dnsperf -Q{a.rate} -c{a.clients}) (ms)"
    h, r = head(PATHS)
    target_table = [h + " target | met |", r + "---:|:---:|",
                    row(max_label, "max", "rps", PATHS), row(p99_label, "fixed", "p99", PATHS)]
    h, r = head(PATHS)
    latency_table = [h, r,
                     row("average latency at the max rate (ms)", "max", "avg", PATHS, target=False),
                     row(f"average latency at {int(a.rate):,} qps (ms)", "fixed", "avg", PATHS, target=False),
                     row(f"achieved rate at {int(a.rate):,} qps (qps)", "fixed", "rps", PATHS, target=False)]
    h, r = head(PROXIES)
    cost_table = [h, r,
                  row("proxy CPU per 1,000 datagrams, max rate (CPU-ms)", "max", "cpu", PROXIES, target=False),
                  row(f"proxy CPU per 1,000 datagrams at {int(a.rate):,} qps (CPU-ms)", "fixed", "cpu", PROXIES,
                      target=False),
                  row(f"memory per session, {int(a.sessions):,} client ports (RSS KiB)", "sessions", "mem", PROXIES,
                      target=False)]

    lines = ["## UDP: the gateway's UDP route vs dnsdist", ""]
    lines += [
        "DNS over UDP through a proxy that puts a PROXY v2 header in front of every query datagram (issue 16):",
        "`samples/Gateway` (Release, as shipped: its own `appsettings.json`, plus a `UdpProxy` route whose cluster",
        "has `\"ProxyProtocol\": \"v2\"` and the destination `udp://127.0.0.1:PORT`; the access log off, as dnsdist",
        "logs nothing per query) against dnsdist with `newServer{..., useProxyProtocol=true}`, both in front of the",
        "same unbound on the same loopback, under the same load. Replies come back to the client without a header.",
        "\"direct\" is dnsperf straight to a second, header-less port of the same unbound: the backend's ceiling on",
        "this machine, not a proxy. Before measuring, the script checks that every path answers the load's client",
        "(127.0.0.2) and that through each proxy a client that unbound's access control refuses (127.0.0.3) gets",
        "REFUSED, so the header reached unbound and named the real client.",
        "",
        "- **Backend.** unbound (one thread, `proxy-protocol-port` on the proxies' port, a local zone with the one",
        "  name asked, no query log, no recursion), like `tests/.../RealPeers/UnboundPeer.cs`. Its ceiling is the",
        "  \"direct\" column: as long as it is well above both proxies' rates, the proxy is what limits.",
        "- **dnsdist.** `setLocal(...)`, `newServer({address=..., useProxyProtocol=true, checkName=\"hello.pk.test.\"})`,",
        "  `setSecurityPollSuffix(\"\")`, otherwise its defaults: one UDP listener thread, one responder thread for",
        "  the backend, no packet cache (a cache would answer without the backend and without a header).",
        "- **Gateway.** Route `dns`: `Listen: [ \"127.0.0.1:PORT\" ]`, `IdleTimeout: 00:10:00`, `MaxSessions: 100000`;",
        "  one session per client address and port, each with its own socket to the backend. "
        f"`UdpProxy:Transport`: {a.transport or 'Auto'} (`UDP_TRANSPORT=Sockets ./eng/bench/udp/run.sh` measures the other).",
        f"- **Load.** dnsperf from {a.source}, `-c{a.clients}` (so {a.clients} client ports, {a.clients} gateway "
        "sessions), the same",
        "  query (`hello.pk.test. A`) every time, plain DNS (the proxies add the header). *max*: "
        f"`-q{a.outstanding}` outstanding",
        f"  queries, as fast as the answers come; *fixed*: `-Q{a.rate}` (a rate both proxies hold here) with `-v`, which",
        "  prints every answer's latency; the p99 is computed from those (nearest rank), a lost query counting as",
        "  dnsperf's 2 s timeout (`-t 2`), so a path that loses more than 1 % has a p99 of 2,000 ms. dnsperf reports no",
        "  percentiles itself, and `-v` costs it CPU, so the fixed-rate step is kept well below saturation.",
        "- **CPU**: each proxy's `utime + stime` (all threads) from `/proc/PID/stat` around each step, divided by the",
        "  queries answered: one datagram from the client (and its reply) each; CPU-milliseconds per 1,000.",
        f"- **Memory per session**: `dnsclient.py sessions` opens {int(a.sessions):,} UDP sockets on 127.0.0.2 (as many",
        "  distinct source ports, all open at once), sends one query from each and waits for every answer; the",
        "  proxy's VmRSS just before the first query and after the last answer, the difference divided by the",
        "  sockets. It runs after the rounds, once per proxy. dnsdist keeps **no per-client session**: a query is",
        "  forwarded on its own socket(s) to the backend with an entry in a fixed-size table of outstanding queries",
        "  (preallocated), so its figure is the growth of its rings and caches, not a session; the gateway keeps",
        "  one session (and one backend socket) per client port until `IdleTimeout`. RSS counts neither process's",
        "  kernel socket memory (the gateway's 10,000 extra sockets, their buffers empty once answered), and the",
        "  gateway's figure is mostly managed-heap growth, which moves with when the GC last ran (0.6 to 2.4 KiB",
        "  per session over the runs of 2026-12-02).",
        "",
        "The paths are measured interleaved, step by step, with the order rotated each round; the tables show",
        "medians over the rounds. The numbers below are generated by the script; do not edit them by hand.",
        "",
        "### Reproduce",
        "",
        "```sh",
        a.command,
        "```",
        "",
        "It installs dnsdist, unbound and dnsperf with `eng/install-peers.sh` if they are missing, builds the gateway,",
        "starts every process in the foreground on free loopback ports and stops them on exit. `--smoke` (1 round of",
        "1 s steps) writes `artifacts/bench/udp-smoke.md` instead of this page. `UDP_BENCH_RATE=N` changes the fixed",
        "rate. Raw samples: `artifacts/bench/udp-raw*.jsonl`.",
        "",
        "### Machine",
        "",
        f"- Date (UTC): {a.date}",
        f"- CPU: {a.cpu}, {a.cores} logical cores, shared by dnsperf, the proxy and unbound (and by whatever else runs",
        f"  on the machine: load average {a.load_before} before the run, {a.load_after} after it, the run's own",
        "  processes included; the ranges below show how much other work moved the figures); kernel",
        f"  {a.kernel}",
        f"- {a.dnsdist}; {a.unbound}; {a.dnsperf}",
        f"- .NET SDK {a.dotnet}",
        f"- {a.rounds} round(s) × {a.seconds} s per step; the whole run took {a.wall} s including the build",
        "",
        "### Queries per second and p99: gateway ÷ dnsdist (target ≥ 1.0, p99 ≤ dnsdist's)",
        "",
    ]
    lines += target_table + [""]
    lines += ["Latency and rate, no target:", ""] + latency_table + [""]
    lines += ["The proxies' own cost (same queries; no target):", ""] + cost_table + [""]
    for key, title in PROXIES:
        s = sessions.get(key)
        if s:
            lines.append(f"- {title}: {s['sockets']:,} sockets ({s['distinct_ports']:,} distinct ports), "
                         f"{s['answered']:,} answered ({s['sent']:,} queries sent), VmRSS {s['rss_before_kb']:,} → "
                         f"{s['rss_after_kb']:,} KiB."
                         + (f" **{s['sockets'] - s['answered']:,} client port(s) never got an answer** within 30 s "
                            f"of resending every second (ports {', '.join(map(str, s.get('unanswered_ports', [])))})."
                            if s["answered"] < s["sockets"] else ""))
    if a.gateway_unread:
        unread, total = (int(x) for x in a.gateway_unread.split())
        lines.append(f"- At the end of the run, {unread:,} of the gateway's {total:,} UDP sockets held datagrams it had "
                     "not read (Recv-Q > 0, with no query in flight): sessions whose reply loop stopped reading, so "
                     "their clients get no answers until `IdleTimeout`" + (" (see Caveats)." if unread else "."))
    if sessions or a.gateway_unread:
        lines.append("")

    spread = []
    for test in ("max", "fixed"):
        for metric in ("rps", "p99", "cpu"):
            parts = []
            for key, _ in PATHS:
                v = vals.get((test, metric, key))
                if v and len(v) > 1:
                    parts.append(f"{key} {fmt(min(v), metric)}–{fmt(max(v), metric)}")
            if parts:
                spread.append(f"- {test} {metric}: " + ", ".join(parts))
    if spread:
        lines += ["Range over the rounds (min–max), to judge the noise:", ""] + spread + [""]
    peaks = []
    if a.gateway_peak_rss_kb:
        peaks.append(f"gateway {int(a.gateway_peak_rss_kb) / 1024:.0f} MiB")
    if a.dnsdist_peak_rss_kb:
        peaks.append(f"dnsdist {int(a.dnsdist_peak_rss_kb) / 1024:.0f} MiB")
    if peaks:
        lines += ["Peak RSS over the whole run (VmHWM): " + ", ".join(peaks) + ".", ""]
    if a.previous and os.path.exists(a.previous):
        lines += previous_run(a.previous, med) + [""]
    if notes:
        lines += ["dnsperf counted lost queries (no answer within 2 s):", ""] + [f"- {n}" for n in notes] + [""]
    lines += [
        "### Targets (from the issue)",
        "",
        "The gateway's queries/s ≥ 1.0× dnsdist's and its p99 at a fixed rate ≤ dnsdist's. \"met\" compares the",
        "medians of this one run; the box is shared and noisy, so only ratios from one interleaved run mean",
        "anything, and a ratio within a few percent of its target is not a verdict either way.",
        "",
        "### Caveats",
        "",
        "- Client, proxy and backend share the same 2 cores: the max rate is where dnsperf, the proxy and unbound",
        "  together run out of CPU, so it follows each proxy's CPU per datagram (the cost table shows it directly).",
        "- One name, one backend, one client address: no load balancing, no cache, no health-check traffic to speak",
        "  of (dnsdist sends one check a second, the gateway none).",
        "- dnsperf's `-c` clients are its sockets: 32 sessions in the gateway for the rate steps, so the session",
        "  table is small there; the memory step is where it holds many.",
        "- dnsperf counts the queries still in flight when its time limit ends as lost (about 250 per step on",
        "  every path, \"direct\" included); more than that is real loss.",
        "- The tables above are the Epoll transport (the default on Linux): datagrams read 32 at a time with",
        "  `recvmmsg`, one `send` per datagram on the session's connected socket, replies gathered and sent with",
        "  `sendmmsg`, all on one loop thread per core. The Sockets transport (`UDP_TRANSPORT=Sockets`, the portable",
        "  path; full run 2026-12-02 13:43 on this machine, same load): 0.70x dnsdist's max rate, p99 1.17x at the fixed",
        "  rate, 1.9-2.6x its CPU per datagram, 1.2 KiB per session. `strace -f -c` of that path (before the Epoll",
        "  transport existed): about 15.6 system calls per query against dnsdist's 4 (`futex`, `epoll_wait`, `recvmsg`,",
        "  `sched_yield`): .NET's socket engine hands each completion to a thread-pool thread.",
        "- Sessions that stopped relaying (found by this script on 2026-12-02, Sockets transport): their backend socket",
        "  filled with unbound's answers while the session stayed open, so the client's later queries were lost until",
        "  `IdleTimeout` (8 such sockets at the end of one run, 3 of the 10,000 memory-step clients never answered).",
        "  Cause: concurrent `Socket.SendToAsync(..., SocketAddress, ...)` calls on the one listener socket (every",
        "  session's reply loop) threw a `NullReferenceException` inside .NET, which ended the reply loop without",
        "  ending the session. Fixed: replies are sent with the synchronous `SendTo`, and any unexpected failure of a",
        "  reply loop ends its session (event 179). The line above counts such sockets at the end of each run (0 in",
        "  this run, and 0 with 0 errors logged in the Sockets run).",
    ]
    section = "\n".join(lines)

    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    if a.smoke == "1" or not os.path.exists(a.out):
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(f"{sections.begin_marker(NAME)}\n{section}\n{sections.end_marker(NAME)}\n")
    else:
        sections.replace(a.out, NAME, section)
    if a.smoke != "1":
        with open(a.raw, "a", encoding="utf-8") as f:
            f.write(json.dumps({"meta": "run", "date": a.date}) + "\n")


def medians(samples):
    vals = {}
    for s in samples:
        vals.setdefault((s["test"], s["metric"], s["proxy"]), []).append(s["value"])
    return {k: statistics.median(v) for k, v in vals.items()}


def previous_run(path, med):
    """Lines comparing this run's gateway/dnsdist ratios with the previous full run's (same script, same machine)."""
    samples = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    meta = next((s for s in samples if "meta" in s), {})
    old = medians([s for s in samples if "meta" not in s])
    parts = []
    for test, metric, what in [("max", "rps", "max qps"), ("fixed", "p99", "p99"), ("max", "cpu", "CPU, max rate"),
                               ("fixed", "cpu", "CPU, fixed rate"), ("sessions", "mem", "")]:
        def r(m):
            g, d = m.get((test, metric, "gateway")), m.get((test, metric, "dnsdist"))
            return f"{g / d:.2f}" if (g is not None and d) else "–"
        if metric == "mem":
            g_old, g_now = old.get((test, metric, "gateway")), med.get((test, metric, "gateway"))
            parts.append(f"the gateway's memory per session {fmt(g_old, metric)} KiB (now {fmt(g_now, metric)})")
            continue
        parts.append(f"{what} {r(old)} (now {r(med)})")
    return ["Run to run: the previous full run" + (f" ({meta['date']})" if meta.get("date") else "") +
            " measured gateway/dnsdist " + ", ".join(parts) + "."]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "parse-dnsperf":
        parse_dnsperf(*sys.argv[2:8])
    elif len(sys.argv) > 1 and sys.argv[1] == "parse-sessions":
        parse_sessions(*sys.argv[2:4])
    elif len(sys.argv) > 1 and sys.argv[1] == "report":
        p = argparse.ArgumentParser()
        for k in ["raw", "out", "smoke", "date", "cpu", "cores", "kernel", "dnsdist", "unbound", "dnsperf", "dotnet",
                  "command", "seconds", "rounds", "rate", "clients", "outstanding", "sessions", "source",
                  "gateway-peak-rss-kb", "dnsdist-peak-rss-kb", "wall", "load-before", "load-after", "previous", "gateway-unread",
                  "transport"]:
            p.add_argument("--" + k, default="")
        report(p.parse_args(sys.argv[2:]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
