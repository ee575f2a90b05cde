"""A small HTTPS (CONNECT) proxy that sends vendor hostnames to the local emulators.

Third-party clients that use `requests` honour `HTTPS_PROXY`: they ask this proxy to `CONNECT
login.salesforce.com:443`, and the proxy connects them to the emulator instead. Two kinds of route:

- tunnel: the bytes go unchanged to a TLS emulator whose own certificate (issued by the sandbox CA)
  already names the host (the Salesforce emulator's covers login/test.salesforce.com);
- terminate: the proxy answers the TLS handshake itself with a certificate for the host issued by its
  own local CA (trustme), and pipes the decrypted HTTP to a plain-HTTP emulator (HubSpot).

Any other host is refused (403), so a client that tries to reach the real internet fails loudly.
Clients trust `ca_bundle` (the sandbox CA plus this proxy's CA). Test-side only.
"""

from __future__ import annotations

import select
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Route:
    port: int  # the emulator on 127.0.0.1
    terminate_tls: bool  # True: decrypt here and send plain HTTP on; False: tunnel the TLS bytes


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        client = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk or len(head) > 65536:
                return
            head += chunk
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, _, target = request_line.partition(" ")
        host = target.split(" ", 1)[0].rsplit(":", 1)[0].lower()
        route = self.server.routes.get(host)
        if method != "CONNECT" or route is None:
            self.server.refused.append(request_line)
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        self.server.connects.append(host)
        upstream = socket.create_connection(("127.0.0.1", route.port))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if route.terminate_tls:
            client = self.server.tls_context(host).wrap_socket(client, server_side=True)
        try:
            _pipe(client, upstream)
        finally:
            upstream.close()


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes (one thread: SSL sockets are not thread-safe)."""
    peers = {a: b, b: a}
    while True:
        ready = [s for s in (a, b) if isinstance(s, ssl.SSLSocket) and s.pending()]
        if not ready:
            ready, _, _ = select.select([a, b], [], [], 60)
            if not ready:
                return
        for sock in ready:
            try:
                data = sock.recv(65536)
            except (ConnectionError, ssl.SSLError, OSError):
                return
            if not data:
                return
            peers[sock].sendall(data)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, routes: dict[str, Route], ca: trustme.CA):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes
        self.ca = ca
        self.connects: list[str] = []
        self.refused: list[str] = []
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def tls_context(self, host: str) -> ssl.SSLContext:
        with self._lock:
            if host not in self._contexts:
                ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                self.ca.issue_cert(host).configure_cert(ctx)
                self._contexts[host] = ctx
            return self._contexts[host]


class VendorProxy:
    """Run with `with VendorProxy(routes, sandbox_ca, folder) as proxy:`; `proxy.url` for HTTPS_PROXY."""

    def __init__(self, routes: dict[str, Route], sandbox_ca: Path, folder: Path):
        self._ca = trustme.CA(organization_name="leadsync conformance proxy CA")
        self.ca_bundle = Path(folder) / "conformance-ca-bundle.pem"
        self.ca_bundle.write_bytes(Path(sandbox_ca).read_bytes().rstrip(b"\n") + b"\n"
                                   + self._ca.cert_pem.bytes())
        self._server = _Server(routes, self._ca)
        self._thread = threading.Thread(target=self._server.serve_forever, name="vendor-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def connects(self) -> list[str]:
        return self._server.connects

    @property
    def refused(self) -> list[str]:
        return self._server.refused

    def __enter__(self) -> VendorProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
