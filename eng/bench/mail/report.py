#!/usr/bin/env python3
"""Turns eng/bench/mail/run.sh's measurements into the "IMAP logins: the gateway's mail front vs nginx mail" report.

  report.py step LOAD_JSON PATH ROUND PROXY_TICKS AUTH_TICKS DOVECOT_TICKS PROXIES_TICKS MACHINE_TICKS IDLE_TICKS
                 CLK_TCK CORES
      -> one JSON line: imap_load.py's result plus the CPU time of each process over the step (PROXY_TICKS: the
         measured path's proxy; PROXIES_TICKS: both proxies, the idle one included)
  report.py report --raw RAW --out MD --smoke 0|1 ...
      -> the section (smoke: the whole file artifacts/bench/mail-smoke.md; else its section of docs/benchmarks.md)
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sections  # noqa: E402

SECTION = "mail"
PATHS = [("direct", "direct"), ("nginx", "nginx"), ("gateway", "gateway")]

# key, label, unit, decimals, paths without a value ("n/a" by design), whether gateway ÷ nginx is shown.
FIGURES = [
    ("logins", "sessions per second (connect, greeting, LOGIN, LOGOUT, close; C=32)", "logins/s", 0, (), True),
    ("p50", "login latency p50 (connect → `a OK`)", "ms", 2, (), True),
    ("p99", "login latency p99 (connect → `a OK`)", "ms", 2, (), True),
    ("cpu-proxy", "proxy CPU per 1,000 logins (nginx: master + workers; gateway: its process)", "CPU-s", 3,
     ("direct",), True),
    ("cpu-auth", "auth_http server CPU per 1,000 logins", "CPU-s", 3, ("direct",), True),
    ("cpu-dovecot", "Dovecot CPU per 1,000 logins (all its processes)", "CPU-s", 3, (), True),
    ("cpu-gen", "load generator CPU per 1,000 logins (both processes)", "CPU-s", 3, (), True),
    ("gen-busy", "busiest load generator process (share of one core)", "cores", 2, (), False),
    ("other", "CPU of everything else on the machine during the step", "cores", 2, (), False),
    ("idle", "machine idle during the step (both cores)", "%", 0, (), False),
    ("errors", "failed sessions in the step", "count", 0, (), False),
]


def step(load_json, path, rnd, proxy_ticks, auth_ticks, dovecot_ticks, proxies_ticks, machine_ticks, idle_ticks,
         clk_tck, cores):
    r = json.load(open(load_json))
    clk, cores = int(clk_tck), int(cores)
    seconds = float(r["seconds"])
    sessions = r["sessions"]
    gen_cpu_s = sum(r["gen_cpu"]) * seconds
    proxy_s, auth_s, dovecot_s = int(proxy_ticks) / clk, int(auth_ticks) / clk, int(dovecot_ticks) / clk
    # /proc/stat counts ticks of every core: the wall time of the step is machine_ticks / cores.
    wall = int(machine_ticks) / clk / cores if int(machine_ticks) else seconds
    busy = (int(machine_ticks) - int(idle_ticks)) / clk
    # Every process this benchmark started: the whole generator (start-up included), both proxies, auth_http, Dovecot.
    ours = r["total_cpu"] + int(proxies_ticks) / clk + auth_s + dovecot_s
    per_k = (lambda v: v / sessions * 1000) if sessions else (lambda v: None)
    out = {
        "path": path, "round": int(rnd), "logins": r["rate"], "p50": r["p50"], "p99": r["p99"], "p999": r["p999"],
        "cpu-proxy": None if path == "direct" else per_k(proxy_s),
        "cpu-auth": None if path == "direct" else per_k(auth_s),
        "cpu-dovecot": per_k(dovecot_s), "cpu-gen": per_k(gen_cpu_s),
        "gen-busy": max(r["gen_cpu"]), "other": max(0.0, busy - ours) / wall,
        "idle": 100.0 * int(idle_ticks) / int(machine_ticks) if int(machine_ticks) else None,
        "errors": sum(r["errors"].values()), "error_kinds": r["errors"], "sessions": sessions,
    }
    print(json.dumps(out))


def fmt(v, decimals):
    if v is None:
        return "–"
    return f"{v:,.{decimals}f}"


def report(a):
    samples = [json.loads(line) for line in open(a.raw) if line.strip()]
    vals = {}
    error_notes = []
    for s in samples:
        for key, *_ in FIGURES:
            if s.get(key) is not None:
                vals.setdefault((key, s["path"]), []).append(s[key])
        if s["errors"]:
            error_notes.append(f"{s['path']}, round {s['round'] + 1}: {s['error_kinds']}")
    med = {k: statistics.median(v) for k, v in vals.items()}

    seen = {}
    for item in filter(None, a.seen.split(";")):
        rip, lport, count = item.split()
        seen[(rip, lport)] = int(count)
    try:
        auth = json.loads(a.auth_stats) if a.auth_stats else {}
    except ValueError:
        auth = {}

    title = "## IMAP logins: the gateway's mail front vs nginx mail"
    lines = [title, ""]
    lines += [
        "Whole IMAP sessions per second through the gateway's mail front (`samples/Gateway`, Release, an `Imap`",
        "route with `AuthHttp`) and through nginx's mail proxy (`ngx_mail_module`), both asking the same auth_http",
        "server and both in front of the same Dovecot, on loopback of one machine; \"direct\" is the load generator",
        "straight to Dovecot, the ceiling of this setup. **nginx sends Dovecot no PROXY header** (its default;",
        "`proxy_protocol on;` exists since nginx 1.19.8 and is not used here), so Dovecot sees nginx's address as",
        "the client; the gateway sends a PROXY v2 header before it replays the login, so Dovecot sees the real",
        "client. The three paths are measured interleaved with the order rotated each round; the tables show",
        "medians over the rounds. The numbers below are generated by the script; do not edit them by hand.",
        "",
        f"- **Load**: `imap_load.py`, {a.conns} connections over {a.procs} Python asyncio processes, each in a loop:",
        f"  connect (from {a.source}), read the greeting, `a LOGIN uNNNN pNNNN` ({a.users} users in turn), read",
        "  up to `a OK`, `b LOGOUT`, read until the server closes. A session counts when it finishes within the",
        "  step. Login latency is connect → `a OK` (greeting, auth_http, the backend's connection and login",
        "  included); the p99 is at saturation (closed loop, no pacing).",
        "- **Dovecot** (the same instance for all paths, configured like the tests' `DovecotPeer`): one listener",
        "  with `haproxy = yes` for the gateway, one plain for nginx and direct; users in a passwd-file. Its login",
        "  processes run in the high-performance mode (`service imap-login { service_count = 0; process_min_avail",
        "  = 2 }`) and imap processes are reused (`service imap { service_count = 0 }`): with Dovecot's default",
        "  (a new process for each connection) this machine managed ~115 logins/s even direct when this script",
        "  was written, which would hide both proxies.",
        "- **auth_http**: `auth_http.py`, one single-threaded asyncio process for both proxies; it checks the",
        "  password and answers `Auth-Status: OK`, `Auth-Server: 127.0.0.1`, `Auth-Port:` the haproxy listener for",
        "  `/gateway`, the plain one for `/nginx`. nginx opens a new HTTP/1.0 connection per login (its design);",
        "  the gateway's HTTP client keeps HTTP/1.1 connections alive. The auth CPU row shows what that costs.",
        "- **nginx**: `worker_processes auto` (2 workers on 2 cores), `mail { auth_http 127.0.0.1:PORT/nginx;",
        "  server { listen 127.0.0.1:PORT; protocol imap; } }`, `imap_auth` left at its default (the `LOGIN`",
        "  command is always accepted), `error_log` at warn. nginx replays the login to Dovecot as `LOGIN {5}` with",
        "  synchronising literals (user, then password, each after Dovecot's `+`), two round trips more than the",
        "  gateway's one quoted `LOGIN` line.",
        f"- **Gateway**: transport `{a.transport}` (`TcpProxy:Transport`; `Auto`, the default, is the epoll transport",
        "  on Linux: one event loop per core, 2 here, like nginx's workers), logging at Warning and its access log",
        "  off (`ProxyKestrel.Gateway.AccessLog`: `None`),",
        "  the cluster with `\"ProxyProtocol\": \"v2\"`, `AllowPlaintextLogin: true`.",
        "- **CPU** per 1,000 logins: each process's utime + stime (`/proc/PID/stat`, all threads; Dovecot: the",
        "  master, its live children and its reaped children's time) over the step; the kernel's loopback TCP work is",
        "  in the time of whichever process it ran in (tick-based accounting). \"other\" is the machine's busy time",
        "  (`/proc/stat`) minus every process this script started (both proxies, the idle one too, and the whole",
        "  generator): other work on this shared machine during the step, plus kernel time charged to no process",
        "  (softirq on an idle core, `ksoftirqd`: about 0.1 core when nothing else runs).",
        "",
        "### Reproduce",
        "",
        "```sh",
        a.command,
        "```",
        "",
        "It installs nginx, libnginx-mod-mail and dovecot-imapd with apt-get if they are missing, builds the",
        "gateway, starts every process in the foreground on free loopback ports and stops them on exit. `--smoke`",
        "(1 s of warm-up, 1 round of 2 s steps) writes `artifacts/bench/mail-smoke.md` instead of this page. Raw samples:",
        "`artifacts/bench/mail-raw*.jsonl`.",
        "",
        "### Machine",
        "",
        f"- Date (UTC): {a.date}",
        f"- CPU: {a.cpu}, {a.cores} logical cores (shared); kernel {a.kernel}",
        f"- {a.nginx}; Dovecot {a.dovecot}; .NET SDK {a.dotnet}; {a.python} (load generator and auth_http)",
        f"- {a.warm} s of warm-up per path (not recorded: Dovecot's processes, the gateway's JIT), then {a.rounds} "
        f"round(s) × {a.seconds} s per path; the whole run took {a.wall} s including the build",
        f"- Load average before this run's processes started: {a.load_start}",
    ]
    others = ", ".join(filter(None, [a.others_start.strip(" ,"), a.others_end.strip(" ,")]))
    outside = [s["other"] for s in samples if s.get("other") is not None]
    outside_text = (f"processes outside this benchmark used a median {statistics.median(outside):.2f} cores "
                    f"(at most {max(outside):.2f}) during the steps (the `other` row)") if outside else ""
    if others:
        lines.append(f"- **Shared**: other benchmark scripts were running ({others}); {outside_text}")
    elif outside and statistics.median(outside) > 0.2:
        lines.append(f"- **Shared**: no other benchmark script was running at the start or the end, but {outside_text}")
    else:
        lines.append(f"- Not shared with another benchmark script (none at the start or the end); {outside_text}")
    lines += ["", "### Results", ""]
    lines += ["| figure | direct | nginx | gateway | gateway/nginx |", "|---|---:|---:|---:|---:|"]
    for key, label, unit, decimals, na, with_ratio in FIGURES:
        cells = []
        for path, _ in PATHS:
            cells.append("n/a" if path in na else fmt(med.get((key, path)), decimals))
        ratio = "–"
        if with_ratio:
            g, n = med.get((key, "gateway")), med.get((key, "nginx"))
            if g is not None and n:
                ratio = f"{g / n:.2f}"
        lines.append(f"| `{key}` {label} ({unit}) | " + " | ".join(cells) + f" | {ratio} |")
    lines += ["", "Higher is better for `logins`; lower for the latencies and CPU rows.", ""]

    spread = []
    for key, _, _, decimals, _, _ in FIGURES[:3]:
        parts = [f"{path} {fmt(min(v), decimals)}–{fmt(max(v), decimals)}"
                 for path, _ in PATHS if (v := vals.get((key, path))) and len(v) > 1]
        if parts:
            spread.append(f"- {key}: " + ", ".join(parts))
    if spread:
        lines += ["Range over the rounds (min–max), to judge the noise:", ""] + spread + [""]

    lines += ["### Which client Dovecot saw", ""]
    lines += ["Dovecot's `Login:` log lines over the whole run (warm-up included), by the client address (`rip`)",
              "and the local port (`lport`) it logged:", ""]
    gw_port, plain_port = str(a.port_gateway), str(a.port_direct)
    via = {("gateway", a.source, gw_port): "gateway (PROXY v2: the client's address, the gateway's port)",
           ("nginx", "127.0.0.1", plain_port): "nginx (no PROXY header: nginx's own address)",
           ("direct", a.source, plain_port): "direct"}
    lines += ["| rip | lport | logins | path |", "|---|---:|---:|---|"]
    for (rip, lport), count in sorted(seen.items()):
        name = next((v for (_, r, p), v in via.items() if r == rip and p == lport), "unexpected")
        lines.append(f"| {rip} | {lport} | {count:,} | {name} |")
    requests = auth.get("requests", {})
    num = lambda v: f"{v:,}" if isinstance(v, int) else "–"  # noqa: E731
    conns = auth.get("connections", {})
    lines += ["", f"auth_http requests: /gateway {num(requests.get('gateway'))} over {num(conns.get('gateway'))} "
              f"connections, /nginx {num(requests.get('nginx'))} over {num(conns.get('nginx'))} connections; "
              f"refused {num(auth.get('refused'))}, malformed {num(auth.get('bad'))}. Dovecot login processes that "
              f"ended without a login: {a.dovecot_refused}.", ""]
    if error_notes:
        lines += ["Failed sessions:", ""] + [f"- {n}" for n in error_notes] + [""]

    lines += [
        "### Caveats",
        "",
        "- No target was set for this comparison; the ratios are reported as measured. Only ratios from one",
        "  interleaved run mean anything on this shared, noisy machine.",
        "- Everything shares the same 2 cores: the load generator, auth_http, Dovecot and the proxy compete for",
        "  CPU, so sessions/s follow the CPU per session of all of them together (the CPU rows), not only the",
        "  proxy's. The generator is not the bottleneck while its busiest process stays well below 1.0 core.",
        "- The paths do different work: the gateway writes a PROXY v2 header per backend connection and reuses",
        "  its auth_http connections; nginx writes no header, opens an auth_http connection per login and spends",
        "  two more round trips on the login replay. Each is measured as shipped.",
    ]
    body = "\n".join(lines)
    if a.smoke == "1":
        os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(body + "\n")
    else:
        sections.replace(a.out, SECTION, body)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "step":
        step(*sys.argv[2:13])
    elif len(sys.argv) > 1 and sys.argv[1] == "report":
        p = argparse.ArgumentParser()
        for k in ["raw", "out", "smoke", "date", "cpu", "cores", "kernel", "nginx", "dovecot", "dotnet", "python",
                  "command", "seconds", "rounds", "warm", "conns", "procs", "users", "source", "wall", "transport",
                  "port-direct", "port-gateway", "seen", "dovecot-refused", "auth-stats", "others-start",
                  "others-end", "load-start"]:
            p.add_argument("--" + k, default="")
        report(p.parse_args(sys.argv[2:]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
