#!/usr/bin/env python3
"""A small nginx-style auth_http server for eng/bench/mail/run.sh: one process serves both mail proxies.

  auth_http.py PORT USERS_FILE ROUTE=BACKEND_PORT [ROUTE=BACKEND_PORT ...]

`GET /ROUTE` with `Auth-User` and `Auth-Pass` (URL-escaped, as nginx sends them) is answered `Auth-Status: OK`,
`Auth-Server: 127.0.0.1`, `Auth-Port: BACKEND_PORT` when the password matches USERS_FILE (`user:{PLAIN}password...`
lines, Dovecot's passwd-file), else `Auth-Status: Invalid login or password` with `Auth-Wait: 1`. Keep-alive follows
the request (HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0, which nginx sends, closes it).
`GET /stats` answers a JSON object: requests and connections (by the route of their first request) per route,
refusals, malformed requests. Stdlib asyncio only, one thread.
"""
import asyncio
import json
import sys
from urllib.parse import unquote_to_bytes


def load_users(path):
    users = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if len(fields) >= 2 and fields[1].startswith("{PLAIN}"):
                users[fields[0].encode()] = fields[1][len("{PLAIN}"):].encode()
    return users


class AuthServer:
    def __init__(self, users, routes):
        self.users = users
        self.routes = routes
        self.stats = {"requests": {name: 0 for name in routes}, "connections": {name: 0 for name in routes},
                      "refused": 0, "bad": 0}

    def answer(self, path, headers, first):
        """(status line, extra headers, body) for one request; FIRST: the first request of its connection."""
        if path == b"/stats":
            return b"200 OK", [b"Content-Type: application/json"], json.dumps(self.stats).encode()
        name = path.lstrip(b"/").decode("ascii", "replace")
        if name not in self.routes:
            self.stats["bad"] += 1
            return b"404 Not Found", [], b""
        self.stats["requests"][name] += 1
        self.stats["connections"][name] += first
        user = unquote_to_bytes(headers.get(b"auth-user", b""))
        password = unquote_to_bytes(headers.get(b"auth-pass", b""))
        if headers.get(b"auth-protocol") != b"imap" or self.users.get(user) != password:
            self.stats["refused"] += 1
            return b"200 OK", [b"Auth-Status: Invalid login or password", b"Auth-Wait: 1"], b""
        port = str(self.routes[name]).encode()
        return b"200 OK", [b"Auth-Status: OK", b"Auth-Server: 127.0.0.1", b"Auth-Port: " + port], b""

    async def serve(self, reader, writer):
        first = True
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head[:-4].split(b"\r\n")
                parts = lines[0].split(b" ")
                if len(parts) != 3 or parts[0] != b"GET":
                    self.stats["bad"] += 1
                    return
                headers = {}
                for line in lines[1:]:
                    key, sep, value = line.partition(b":")
                    if sep:
                        headers[key.strip().lower()] = value.strip()
                status, extra, body = self.answer(parts[1], headers, first)
                first = False
                keep = parts[2] == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"
                out = [b"HTTP/1.1 " + status, *extra, b"Content-Length: " + str(len(body)).encode(),
                       b"Connection: " + (b"keep-alive" if keep else b"close"), b"", b""]
                writer.write(b"\r\n".join(out) + body)
                await writer.drain()
                if not keep:
                    return
        except ConnectionError:
            pass
        finally:
            writer.close()


async def main():
    port, users_file, *pairs = sys.argv[1:]
    routes = {}
    for pair in pairs:
        name, _, backend = pair.partition("=")
        routes[name] = int(backend)
    server = AuthServer(load_users(users_file), routes)
    listener = await asyncio.start_server(server.serve, "127.0.0.1", int(port), backlog=1024)
    async with listener:
        await listener.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    asyncio.run(main())
