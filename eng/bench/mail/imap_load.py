#!/usr/bin/env python3
"""IMAP login load for eng/bench/mail/run.sh: concurrent clients, each in a loop of whole sessions.

  imap_load.py --port P --conns C --procs N --seconds T --users U [--source 127.0.0.2] [--label NAME]

C connections in total, spread over N processes (asyncio, one event loop each). A session is: connect (from
--source), read the greeting (`* OK`), send `a LOGIN uNNNN pNNNN` (users u0001..uU in turn, each process and
connection starting elsewhere), read up to `a OK`, send `b LOGOUT`, read until the server closes. The login latency is
connect → `a OK`. Sessions that finish within the T seconds count; one that fails counts as an error (by kind) and
its client pauses 10 ms. Prints one JSON object: sessions, sessions/s, p50/p99/p99.9 login latency (ms), errors, and
each process's CPU time over its wall time (a process near 1.0 is itself a bottleneck), and the CPU time of the
whole generator (start-up included).
"""
import argparse
import asyncio
import json
import multiprocessing
import resource
import socket
import sys
import time
from array import array

TIMEOUT = 10.0


async def session(port, source, user, password):
    """One session; returns its login latency in seconds, or raises."""
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0) if source else None)
    try:
        greeting = await reader.readline()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError("greeting")
        writer.write(b"a LOGIN " + user + b" " + password + b"\r\n")
        while True:
            line = await reader.readline()
            if not line:
                raise RuntimeError("closed-before-ok")
            if line.startswith(b"a "):
                break
        if not line.startswith(b"a OK"):
            raise RuntimeError("login-refused")
        latency = time.perf_counter() - t0
        writer.write(b"b LOGOUT\r\n")
        while await reader.read(4096):
            pass
        return latency
    finally:
        writer.close()


async def client(port, source, users, first, step, deadline, latencies, errors):
    i = first
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        n = i % users + 1
        i += step
        try:
            latency = await asyncio.wait_for(
                session(port, source, b"u%04d" % n, b"p%04d" % n), TIMEOUT)
            if loop.time() <= deadline:
                latencies.append(latency)
        except Exception as e:  # noqa: BLE001 - every failure is counted by kind
            kind = type(e).__name__ if not isinstance(e, RuntimeError) else str(e)
            errors[kind] = errors.get(kind, 0) + 1
            await asyncio.sleep(0.01)


async def run_process(args, index, start_at, out):
    loop = asyncio.get_running_loop()
    conns = [c for c in range(args.conns) if c % args.procs == index]
    await asyncio.sleep(max(0.0, start_at - time.time()))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    deadline = loop.time() + args.seconds
    latencies, errors = array("d"), {}
    await asyncio.gather(*[client(args.port, args.source, args.users, c * 7919, args.conns, deadline, latencies, errors)
                           for c in conns])
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    out.put((latencies.tobytes(), errors, cpu / args.seconds, wall))


def child(args, index, start_at, out):
    asyncio.run(run_process(args, index, start_at, out))


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(q * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def total_cpu():
    """CPU seconds of this process and its (finished) worker processes over their whole lives, start-up included."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=32)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--source", default="")
    p.add_argument("--label", default="")
    args = p.parse_args()
    if args.source:
        # Fail early (and clearly) when the source address cannot be bound.
        with socket.socket() as s:
            s.bind((args.source, 0))
    out = multiprocessing.Queue()
    start_at = time.time() + 0.3
    procs = [multiprocessing.Process(target=child, args=(args, i, start_at, out)) for i in range(args.procs)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=args.seconds + 3 * TIMEOUT) for _ in procs]
    for proc in procs:
        proc.join(timeout=5)
    latencies = array("d")
    errors = {}
    for raw, errs, _, _ in results:
        latencies.frombytes(raw)
        for k, v in errs.items():
            errors[k] = errors.get(k, 0) + v
    values = sorted(latencies)
    ms = lambda v: None if v is None else v * 1000.0  # noqa: E731
    print(json.dumps({
        "label": args.label, "sessions": len(values), "rate": len(values) / args.seconds,
        "p50": ms(percentile(values, 0.50)), "p99": ms(percentile(values, 0.99)),
        "p999": ms(percentile(values, 0.999)), "errors": errors,
        "gen_cpu": [round(r[2], 3) for r in results], "conns": args.conns, "procs": args.procs,
        "seconds": args.seconds, "total_cpu": total_cpu(),
    }))
    return 0 if values else 1


if __name__ == "__main__":
    sys.exit(main())
