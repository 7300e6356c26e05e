#!/usr/bin/env python3
"""Idle proxied connections for eng/bench/relay/run.sh (memory per idle connection).

  idle_conns.py sink PORT
      Listens on 127.0.0.1:PORT, accepts every connection, echoes what it receives and otherwise holds the
      connection open until the peer closes it. Runs until SIGTERM.

  idle_conns.py hold --port PORT --count N --status FILE --release FILE [--sources K] [--timeout S]
      Opens N connections to 127.0.0.1:PORT (from source addresses 127.0.0.2 .. 127.0.0.(K+1), round robin), sends
      4 bytes on each and waits for them to come back (so each connection is established end to end, through the
      relay to the sink). Then writes "held N" to FILE --status and keeps every connection open, idle, until the
      file --release exists; then closes them all and exits 0. Exits 1 if not every connection echoed in time.
"""
import argparse
import os
import selectors
import signal
import socket
import sys
import time

PING = b"ping"


def sink(port):
    sel = selectors.DefaultSelector()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", int(port)))
    lsock.listen(4096)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            if key.data is None:
                for _ in range(256):
                    try:
                        conn, _ = lsock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, "conn")
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if data:
                    try:
                        conn.sendall(data)
                    except OSError:
                        pass
                else:
                    sel.unregister(conn)
                    conn.close()
    for key in list(sel.get_map().values()):
        key.fileobj.close()


def hold(a):
    deadline = time.monotonic() + a.timeout
    sel = selectors.DefaultSelector()
    socks = []
    pending = 0          # connecting or waiting for the echo
    started = 0
    echoed = 0
    max_in_flight = 256  # keeps the relay's accept backlog from overflowing
    received = {}

    def start_one(i):
        s = socket.socket()
        s.setblocking(False)
        s.bind((f"127.0.0.{2 + i % a.sources}", 0))
        rc = s.connect_ex(("127.0.0.1", a.port))
        if rc not in (0, 115):  # 115: EINPROGRESS
            raise SystemExit(f"connect #{i} failed: {os.strerror(rc)}")
        sel.register(s, selectors.EVENT_WRITE, "connect")
        socks.append(s)

    while echoed < a.count:
        if time.monotonic() > deadline:
            print(f"only {echoed} of {a.count} connections echoed within {a.timeout} s", file=sys.stderr)
            sys.exit(1)
        while started < a.count and pending < max_in_flight:
            start_one(started)
            started += 1
            pending += 1
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            if key.data == "connect":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise SystemExit(f"connect failed: {os.strerror(err)}")
                s.send(PING)
                sel.modify(s, selectors.EVENT_READ, "echo")
            else:
                try:
                    data = s.recv(64)
                except (BlockingIOError, InterruptedError):
                    continue
                if not data:
                    raise SystemExit("a connection was closed before its echo came back")
                got = received.get(s.fileno(), b"") + data
                received[s.fileno()] = got
                if len(got) >= len(PING):
                    sel.unregister(s)
                    pending -= 1
                    echoed += 1
    with open(a.status + ".tmp", "w") as f:
        f.write(f"held {echoed}\n")
    os.replace(a.status + ".tmp", a.status)
    # Idle until released (bounded by --timeout again).
    release_deadline = time.monotonic() + a.timeout
    while not os.path.exists(a.release):
        if time.monotonic() > release_deadline:
            print("not released in time", file=sys.stderr)
            break
        time.sleep(0.1)
    for s in socks:
        s.close()


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "sink":
        sink(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "hold":
        p = argparse.ArgumentParser()
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--count", type=int, required=True)
        p.add_argument("--status", required=True)
        p.add_argument("--release", required=True)
        p.add_argument("--sources", type=int, default=4)
        p.add_argument("--timeout", type=float, default=60)
        hold(p.parse_args(sys.argv[2:]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
