"""Misbehaving S3 endpoints on 127.0.0.1 for the object-storage tests.

- `hung_endpoint()`: accepts TCP connections and never answers.
- `faulty_proxy(upstream, faults)`: forwards requests to an S3 server and answers a share of them with a fault
  instead: an HTTP 500 InternalError, a 503 SlowDown, a connection reset, a body cut short of its
  Content-Length, or no answer at all. Counts every fault it injects; `faults` may be changed while it runs.
"""
from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Mapping
from urllib.parse import urlsplit

ERRORS = {"500": (500, "InternalError", "We encountered an internal error. Please try again."),
          "503": (503, "SlowDown", "Please reduce your request rate.")}
FAULTS = ("500", "503", "reset", "short", "hang")


@contextmanager
def hung_endpoint() -> Iterator[str]:
    """An endpoint URL whose server accepts connections and never sends a byte."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        server.close()
        for conn in held:
            conn.close()
        thread.join(5)


@dataclass
class ProxyStats:
    """What the proxy saw: requests forwarded and faults injected, by kind."""

    forwarded: int = 0
    injected: Counter = field(default_factory=Counter)


def _reset(sock: socket.socket) -> None:
    """Close `sock` with a TCP reset instead of an orderly shutdown."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@contextmanager
def faulty_proxy(upstream: str, faults: Mapping[str, float], seed: int = 0) -> Iterator[tuple[str, ProxyStats]]:
    """(endpoint URL, stats) of a proxy in front of the S3 server `upstream` that answers each request with fault
    kind k (one of FAULTS) with probability faults[k], and forwards it otherwise."""
    target = urlsplit(upstream)
    draw = random.Random(seed)
    lock = threading.Lock()
    stats = ProxyStats()
    stopping = threading.Event()

    def pick() -> str:
        with lock:
            x = draw.random()
        for kind in FAULTS:
            x -= faults.get(kind, 0.0)
            if x < 0:
                return kind
        return ""

    def count(kind: str) -> None:
        with lock:
            if kind:
                stats.injected[kind] += 1
            else:
                stats.forwarded += 1

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # answer at once: headers and body are two writes

        def log_message(self, *args) -> None:
            pass

        def _forward(self) -> tuple[int, list[tuple[str, str]], bytes]:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            try:
                conn.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
                reply = conn.getresponse()
                return reply.status, reply.getheaders(), reply.read()
            finally:
                conn.close()

        def _handle(self) -> None:
            kind = pick()
            if kind != "short":
                count(kind)
            if kind == "hang":
                stopping.wait()
                self.close_connection = True
                return
            if kind == "reset":
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.close_connection = True
                _reset(self.connection)
                return
            if kind in ERRORS:
                status, code, message = ERRORS[kind]
                payload = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}'
                           f'</Message></Error>').encode()
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload if self.command != "HEAD" else b"")
                return
            status, headers, payload = self._forward()
            if kind == "short":
                kind = kind if len(payload) > 1 else ""
                count(kind)
            self.send_response_only(status)
            for name, value in headers:
                if name.lower() not in ("connection", "transfer-encoding", "date", "server"):
                    self.send_header(name, value)
            self.end_headers()
            if kind == "short":
                self.wfile.write(payload[:len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                _reset(self.connection)
                return
            self.wfile.write(payload)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

        def finish(self) -> None:
            try:
                super().finish()
            except OSError:
                pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address) -> None:
            pass  # a reset connection is the point, not a failure

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", stats
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
