"""A small HTTP proxy on 127.0.0.1 that injects faults in front of a storage server.

Requests are forwarded verbatim (same method, path, headers and body, so S3 signatures stay
valid) to ``upstream``; a ``fault(method, path, headers, body_length, seen)`` callback decides
per request what happens instead:

* ``None``: forward;
* an int (``500``, ``503``): answer that status with a small S3/GCS-style error body, without
  forwarding (the server never sees the request);
* ``"cut"``: read half of the request body, then close the connection without an answer (a
  write that fails midway: the server receives a truncated request or nothing).

``seen`` counts earlier requests with the same method and path, so a callback can fail only
the first attempt. Every request and what was done is kept in ``log`` (bounded).
"""
from __future__ import annotations

import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, List, Optional, Tuple
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
        "trailer"}
_MAX_LOG = 10_000


class FaultProxy:
    def __init__(self, upstream: str, fault: Optional[Callable] = None):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.fault = fault or (lambda *a: None)
        self.log: List[Tuple[str, str, object]] = []
        self._seen = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                key = (self.command, self.path.split("?")[0])
                with proxy._lock:
                    seen = proxy._seen.get(key, 0)
                    proxy._seen[key] = seen + 1
                action = proxy.fault(self.command, self.path, self.headers, length, seen)
                with proxy._lock:
                    if len(proxy.log) < _MAX_LOG:
                        proxy.log.append((self.command, self.path, action))
                if action == "cut":
                    if length:
                        self.rfile.read(max(1, length // 2))
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                body = self._body()
                if isinstance(action, int):
                    msg = (b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>"
                           + (b"SlowDown" if action == 503 else b"InternalError")
                           + b"</Code><Message>injected fault</Message></Error>")
                    self.send_response(action)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    conn.putrequest(self.command, self.path, skip_host=True,
                                    skip_accept_encoding=True)
                    for k, v in self.headers.items():
                        if k.lower() not in _HOP and k.lower() != "content-length":
                            conn.putheader(k, v)
                    if body or self.command in ("PUT", "POST", "PATCH"):
                        conn.putheader("Content-Length", str(len(body)))
                    conn.endheaders(body or None)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status, resp.reason)
                    for k, v in resp.getheaders():
                        if k.lower() not in _HOP and k.lower() != "content-length":
                            self.send_header(k, v)
                    if self.command != "HEAD":
                        self.send_header("Content-Length", str(len(data)))
                    else:
                        cl = resp.getheader("Content-Length")
                        if cl is not None:
                            self.send_header("Content-Length", cl)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def count(self, action) -> int:
        with self._lock:
            return sum(1 for _, _, a in self.log if a == action)
