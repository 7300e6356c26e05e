#!/usr/bin/env python3
"""Parses wrk output and writes the "Routing: SNI and Host vs HAProxy" report for eng/bench/routing/run.sh.

  report.py parse-wrk FILE PROXY ROUND TEST CPU_TICKS CLK_TCK  -> JSON lines (req/s, p99 ms, CPU-s per 1,000)
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
from benchlib import to_ms  # noqa: E402

NAME = "routing"
PROXIES = [("haproxy", "HAProxy"), ("gateway", "gateway")]
TARGET = 1.0
# test -> (figure label of the rate, unit of the rate, label of the p99, label of the CPU row)
TESTS = {
    "sni": ("SNI: new TLS connections (wrk -t2 -c32, Connection: close, https)", "conn/s",
            "SNI: p99 latency, new TLS connections (ms)", "SNI, new TLS connections"),
    "host-ka": ("Host: keep-alive requests (wrk -t2 -c32)", "req/s",
                "Host: p99 latency, keep-alive (ms)", "Host, keep-alive"),
    "host-close": ("Host: new connections (wrk -t2 -c32, Connection: close)", "conn/s",
                   "Host: p99 latency, new connections (ms)", "Host, new connections"),
}


def parse_wrk(path, proxy, rnd, test, cpu_ticks, clk_tck):
    text = open(path, encoding="utf-8").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    requests = int(re.search(r"^\s*(\d+) requests in", text, re.M).group(1))
    p99 = to_ms(re.search(r"^\s*99%\s+(\S+)", text, re.M).group(1))
    errors = re.search(r"Socket errors: (.*)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    extra = {}
    if errors:
        extra["socket_errors"] = errors.group(1).strip()
    if non2xx:
        extra["non2xx"] = int(non2xx.group(1))
    base = {"proxy": proxy, "round": int(rnd), "test": test}
    print(json.dumps({**base, "metric": "rps", "value": rps, "requests": requests, **extra}))
    print(json.dumps({**base, "metric": "p99", "value": p99}))
    if requests > 0:
        print(json.dumps({**base, "metric": "cpu", "value": int(cpu_ticks) / int(clk_tck) / requests * 1000}))


def fmt(v, metric):
    if v is None:
        return "–"
    if metric == "p99":
        return f"{v:.1f}" if v >= 10 else f"{v:.2f}"
    if metric == "cpu":
        return f"{v:.3f}"
    return f"{v:,.0f}"


def report(a):
    samples = [json.loads(line) for line in open(a.raw, encoding="utf-8") if line.strip()]
    vals = {}
    notes = []
    for s in samples:
        vals.setdefault((s["test"], s["metric"], s["proxy"]), []).append(s["value"])
        if s.get("socket_errors") or s.get("non2xx"):
            notes.append(f'{s["test"]} via {s["proxy"]}, round {s["round"] + 1}: socket errors '
                         f'{s.get("socket_errors", "none")}, non-2xx {s.get("non2xx", 0)}')
    med = {k: statistics.median(v) for k, v in vals.items()}

    def ratio(test, metric):
        g, h = med.get((test, metric, "gateway")), med.get((test, metric, "haproxy"))
        return g / h if (g is not None and h) else None

    def row(label, test, metric, target=True):
        r = ratio(test, metric)
        cells = " | ".join(fmt(med.get((test, metric, key)), metric) for key, _ in PROXIES)
        text = f"| {label} | {cells} | {'–' if r is None else f'{r:.2f}'} |"
        if not target:
            return text
        if metric == "rps":
            tgt, ok = f"≥ {TARGET:.1f}×", None if r is None else r >= TARGET
        else:
            tgt, ok = "≤ HAProxy", None if r is None else r <= 1.0
        return f"{text} {tgt} | {'–' if ok is None else ('yes' if ok else 'no')} |"

    head = "| figure | " + " | ".join(t for _, t in PROXIES) + " | gateway/HAProxy |"
    rule = "|---|" + "---:|" * len(PROXIES) + "---:|"

    def target_table(tests):
        out = [head + " target | met |", rule + "---:|:---:|"]
        for test in tests:
            rate, unit, p99, _ = TESTS[test]
            out.append(row(f"{rate} ({unit})", test, "rps"))
            out.append(row(p99, test, "p99"))
        return out

    def cpu_table(tests):
        out = [head, rule]
        for test in tests:
            out.append(row(f"proxy CPU per 1,000 requests, {TESTS[test][3]} (CPU-s)", test, "cpu", target=False))
        return out

    lines = ["## Routing: SNI and Host routes vs HAProxy", ""]
    lines += [
        "Several routes on one listener, chosen from the client's first bytes: `samples/Gateway` (Release, as",
        f"shipped: its own `appsettings.json`, TCP transport `{a.transport or 'Auto'}`; the access log off, as",
        "HAProxy here logs nothing) against HAProxy on the same loopback, both sending a PROXY v2 header to nginx.",
        "Each proxy has two named routes and a default on one port; the load goes to the first name",
        "(`a.example.com`). Before measuring, the script checks with curl (`--resolve` for the SNI, `-H Host` for",
        "Host) that every route of both proxies (a, b, another name, and TLS without SNI) answers from its own nginx",
        "listener with the client address from the PROXY header.",
        "",
        "- **A. SNI.** The gateway: routes `Match: { Sni: [ \"a.example.com\" ] }`, `{ Sni: [ \"b.example.com\" ] }` and",
        "  one without `Match`, clusters with metadata `\"ProxyProtocol\": \"v2\"`; it reads the ClientHello without",
        "  terminating TLS, waiting for it at most 5 s (its default `InspectTimeout`). HAProxy: `mode tcp`,",
        "  `tcp-request inspect-delay 5s`, `tcp-request content accept if { req.ssl_hello_type 1 }`,",
        "  `use_backend … if { req.ssl_sni -i a.example.com }` (and b), a",
        "  `default_backend`, `server … send-proxy-v2`. Backends: nginx `listen … ssl proxy_protocol` with a",
        "  self-signed ECDSA P-256 certificate made by openssl in the run's temporary directory, `ssl_session_cache",
        "  off` and `ssl_session_tickets off`, so every connection is a full TLS handshake between wrk and nginx",
        "  through the proxy. Load: `wrk -t2 -c32 --latency -H \"Connection: close\" -s resolve-loopback.lua",
        "  https://a.example.com:PORT/`; the script makes wrk connect to 127.0.0.1 whatever the URL's host, so the",
        "  URL's host is only the SNI (and the Host header), without /etc/hosts. Every request is a new TCP",
        "  connection and a new TLS session, so requests/s = new TLS connections/s. The tool: wrk, as for every",
        "  other figure on this page; h2load (`--connect-to`) would also send an SNI of its own choice, but it",
        "  reports no latency percentiles, and a curl or Python loop cannot saturate a proxy.",
        "- **B. Host.** The gateway: `Match: { Host: [ \"a.example.com\" ] }`, `{ Host: [ \"b.example.com\" ] }` and a",
        "  default; HAProxy: `mode http`, `use_backend … if { hdr(host) -i a.example.com }` (and b), a",
        "  `default_backend`, `server … send-proxy-v2`. Backends: nginx `listen … proxy_protocol`, keep-alive on,",
        "  no request limit per connection. Load: `wrk -t2 -c32 --latency -H \"Host: a.example.com\"`, keep-alive",
        "  (req/s) and with `Connection: close` (each request a new connection: conn/s).",
        "- **The semantic difference of Host routing.** The gateway looks at the Host of the *first* HTTP/1.x request",
        "  only, then relays the connection as bytes (L4): every later request on that connection goes to the same",
        "  backend whatever its Host says, and the gateway neither parses nor rewrites HTTP. HAProxy `mode http`",
        "  parses every request and chooses a backend for each, so it does more work per request; in exchange it can",
        "  route each request of a keep-alive connection on its own Host. The keep-alive figures therefore compare an",
        "  L4 relay after one look with an HTTP proxy, on the same traffic (every request has the same Host).",
        "- **Latency.** wrk's p99 at saturation (wrk sends as fast as it can): from the request's first write to the",
        "  end of its response. For the TLS test wrk writes the request after the handshake, so the p99 covers the",
        "  first request on a just-routed connection, not the handshake (whose cost, routing included, shows in the",
        "  connections/s).",
        "- **CPU**: each proxy's `utime + stime` from `/proc/PID/stat` around each step, per 1,000 requests (lower is",
        "  better).",
        "",
        "The two proxies are measured interleaved, figure by figure, with the order swapped each round; the tables",
        "show medians over the rounds. The numbers below are generated by the script; do not edit them by hand.",
        "",
        "### Reproduce",
        "",
        "```sh",
        a.command,
        "```",
        "",
        "It installs haproxy, nginx, wrk, openssl and curl with apt-get if they are missing, builds the gateway, makes",
        "the certificate, starts every process in the foreground on free loopback ports and stops them on exit.",
        "`--smoke` (1 round of 1 s steps) writes `artifacts/bench/routing-smoke.md` instead of this page. Raw",
        "samples: `artifacts/bench/routing-raw*.jsonl`. `TcpProxy__Transport=Sockets` in the environment measures the",
        "gateway on its portable socket transport instead.",
        "",
        "### Machine",
        "",
        f"- Date (UTC): {a.date}",
        f"- CPU: {a.cpu}, {a.cores} logical cores, shared by wrk, the proxy and nginx (and by whatever else runs on",
        f"  the machine: load average {a.load_before} before the run, {a.load_after} after it, the run's",
        "  own processes included; the ranges below show how much other work moved the figures); kernel",
        f"  {a.kernel}",
        f"- {a.haproxy}; {a.nginx}; {a.openssl}",
        f"- .NET SDK {a.dotnet}; {a.wrk.split(' Copyright')[0]}",
        f"- {a.rounds} round(s) × {a.seconds} s per step; the whole run took {a.wall} s including the build",
        "",
        "### A. SNI routing: gateway ÷ HAProxy `mode tcp` + `req.ssl_sni` (target ≥ 1.0, p99 ≤ HAProxy's)",
        "",
    ]
    lines += target_table(["sni"]) + [""]
    lines += ["### B. Host routing: gateway ÷ HAProxy `mode http` + `hdr(host)` (target ≥ 1.0, p99 ≤ HAProxy's)", ""]
    lines += target_table(["host-ka", "host-close"]) + [""]
    lines += ["The proxies' own CPU time (same requests; no target):", ""]
    lines += cpu_table(["sni", "host-ka", "host-close"]) + [""]

    spread = []
    for test in TESTS:
        for metric in ("rps", "p99", "cpu"):
            parts = []
            for key, _ in PROXIES:
                v = vals.get((test, metric, key))
                if v and len(v) > 1:
                    parts.append(f"{key} {fmt(min(v), metric)}–{fmt(max(v), metric)}")
            if parts:
                spread.append(f"- {test} {metric}: " + ", ".join(parts))
    if spread:
        lines += ["Range over the rounds (min–max), to judge the noise:", ""] + spread + [""]
    if a.gateway_peak_rss_kb:
        lines += [f"Gateway peak RSS over the whole run (VmHWM): {int(a.gateway_peak_rss_kb) / 1024:.0f} MiB.", ""]
    if notes:
        lines += ["wrk reported errors:", ""] + [f"- {n}" for n in notes] + [""]
    lines += [
        "### Targets (from the issue)",
        "",
        "The gateway's routed traffic ≥ 1.0× HAProxy's (connections/s, requests/s) and its p99 ≤ HAProxy's, for each",
        "figure. \"met\" compares the medians of this one run; the box is shared and noisy, so only ratios from one",
        "interleaved run mean anything, and a ratio within a few percent of its target is not a verdict either way.",
        "",
        "### Caveats",
        "",
        "- Client, proxy and backends share the same 2 cores: each proxy competes with wrk and nginx for CPU, so the",
        "  rates follow CPU per request (the CPU rows show it directly). In the TLS test most of the CPU goes to the",
        "  handshakes in wrk and nginx, the same for both proxies, which narrows the ratio towards 1.",
        "- Only the first route's name is loaded; the checks show the other routes work, not how fast.",
        "- No \"direct\" baseline (wrk straight to nginx) here: nginx's listeners expect a PROXY header, which wrk",
        "  cannot send before a TLS handshake. The relay section has the TCP ceiling of this machine.",
    ]
    section = "\n".join(lines)

    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    if a.smoke == "1":
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(f"{sections.begin_marker(NAME)}\n{section}\n{sections.end_marker(NAME)}\n")
    else:
        sections.replace(a.out, NAME, section)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "parse-wrk":
        parse_wrk(*sys.argv[2:8])
    elif len(sys.argv) > 1 and sys.argv[1] == "report":
        p = argparse.ArgumentParser()
        for k in ["raw", "out", "smoke", "date", "cpu", "cores", "kernel", "haproxy", "nginx", "openssl", "dotnet",
                  "wrk", "command", "seconds", "rounds", "gateway-peak-rss-kb", "wall", "load-before", "load-after",
                  "transport"]:
            p.add_argument("--" + k, default="")
        report(p.parse_args(sys.argv[2:]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
