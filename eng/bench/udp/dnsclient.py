#!/usr/bin/env python3
"""Plain DNS queries over UDP for eng/bench/udp/run.sh (standard library only; the proxies add the PROXY header).

  dnsclient.py check PORT SOURCE EXPECT [TIMEOUT_S]
      asks hello.pk.test. A from SOURCE (an address on 127.0.0.0/8) until an answer comes (at most TIMEOUT_S, 20 by
      default: dnsdist drops queries until its first health check marks the backend up); exits 0 when the answer's
      RCODE is EXPECT (noerror with A 192.0.2.77, or refused), prints what came back otherwise.
  dnsclient.py sessions PORT SOURCE COUNT PID [TIMEOUT_S]
      opens COUNT UDP sockets on SOURCE (COUNT distinct source ports, all open at once), sends one query from each,
      waits for the answers, and prints one JSON line: the VmRSS of process PID before the first query and after the
      last answer (KiB), the sockets, the answers. The sockets stay open until then.
"""
import json
import os
import select
import socket
import struct
import sys
import time

NAME = "hello.pk.test."
ADDRESS = bytes([192, 0, 2, 77])
WINDOW = 200


def query(qid):
    """A DNS query for NAME A IN with id QID and recursion desired."""
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in NAME.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode("ascii")
    return q + b"\0" + struct.pack(">HH", 1, 1)


def rcode(reply):
    return reply[3] & 0x0F if len(reply) >= 12 else None


def check(port, source, expect, timeout_s=20.0):
    deadline = time.monotonic() + float(timeout_s)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.settimeout(0.5)
    qid = 4242
    while time.monotonic() < deadline:
        s.sendto(query(qid), ("127.0.0.1", int(port)))
        try:
            reply, _ = s.recvfrom(4096)
        except socket.timeout:
            continue
        if len(reply) < 12 or struct.unpack(">H", reply[:2])[0] != qid:
            continue
        code = rcode(reply)
        if expect == "noerror" and code == 0 and ADDRESS in reply[12:]:
            return 0
        if expect == "refused" and code == 5:
            return 0
        print(f"127.0.0.1:{port} from {source}: RCODE {code} instead of {expect}: {reply.hex()}")
        return 1
    print(f"127.0.0.1:{port} from {source}: no answer within {timeout_s} s")
    return 1


def rss_kb(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def sessions(port, source, count, pid, timeout_s=30.0):
    count = int(count)
    socks = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((source, 0))
        s.setblocking(False)
        socks.append(s)
    ports = {s.getsockname()[1] for s in socks}
    by_fd = {s.fileno(): (i, s) for i, s in enumerate(socks)}
    poller = select.epoll(sizehint=count)
    for s in socks:
        poller.register(s.fileno(), select.EPOLLIN)
    before = rss_kb(pid)
    target = ("127.0.0.1", int(port))
    answered = set()
    outstanding = {}  # socket index -> when its query was last sent
    following = 0
    deadline = time.monotonic() + float(timeout_s)
    sends = 0
    # At most WINDOW queries in flight, so that no socket buffer on the way overflows (a burst of 10,000 datagrams
    # would be dropped by the proxy's or unbound's receive buffer, not by the proxy's logic); a query unanswered
    # for a second is sent again from the same socket.
    while len(answered) < count and time.monotonic() < deadline:
        now = time.monotonic()
        while len(outstanding) < WINDOW and following < count:
            socks[following].sendto(query(following & 0xFFFF), target)
            outstanding[following] = now
            following += 1
            sends += 1
        for i, at in list(outstanding.items()):
            if now - at > 1.0:
                socks[i].sendto(query(i & 0xFFFF), target)
                outstanding[i] = now
                sends += 1
        for i in drain(poller, by_fd, 0.05):
            answered.add(i)
            outstanding.pop(i, None)
    after = rss_kb(pid)
    unanswered = [socks[i].getsockname()[1] for i in range(count) if i not in answered]
    print(json.dumps({"sockets": count, "distinct_ports": len(ports), "answered": len(answered), "sent": sends,
                      "rss_before_kb": before, "rss_after_kb": after, "unanswered_ports": unanswered[:20]}))
    poller.close()
    for s in socks:
        s.close()
    return 0 if len(answered) == count else 1


def drain(poller, by_fd, timeout):
    """Reads every answer waiting (waiting at most TIMEOUT s for the first); yields the answered sockets' indexes."""
    for fd, _ in poller.poll(timeout):
        i, s = by_fd[fd]
        while True:
            try:
                reply = s.recv(4096)
            except BlockingIOError:
                break
            if rcode(reply) == 0:
                yield i


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "check":
        sys.exit(check(*sys.argv[2:6]))
    if len(sys.argv) >= 6 and sys.argv[1] == "sessions":
        sys.exit(sessions(*sys.argv[2:7]))
    sys.exit(__doc__)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
