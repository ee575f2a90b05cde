"""Serve an ASGI app on 127.0.0.1 in a background thread (uvicorn), with optional TLS.

The Salesforce emulator needs TLS because simple-salesforce only builds https URLs: `make_tls()`
creates a local CA (trustme) and a certificate valid for 127.0.0.1, localhost and *.salesforce.com,
and writes the CA where clients can trust it. Verification stays on.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import trustme
import uvicorn

LOOPBACK = "127.0.0.1"
TLS_NAMES = ("127.0.0.1", "localhost", "*.salesforce.com", "login.salesforce.com", "test.salesforce.com",
             "*.my.salesforce.com")


class _HideInjectedDrops(logging.Filter):
    """uvicorn logs every aborted response as an error; injected drops are expected, so hide them, and
    the note that idle keep-alive connections were cut at shutdown."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ConnectionAbortedError):
            return False
        return "graceful shutdown exceeded" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_HideInjectedDrops())


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path  # PEM of the local CA: point clients' verify/ca_bundle here
    cert_file: Path
    key_file: Path


def make_tls(folder: Path) -> TlsFiles:
    """Create (or reuse) a local CA and a server certificate in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "sandbox-ca.pem", folder / "sandbox-cert.pem", folder / "sandbox-key.pem")
    if all(p.exists() for p in (files.ca_file, files.cert_file, files.key_file)):
        return files
    ca = trustme.CA(organization_name="leadsync sandbox CA")
    cert = ca.issue_cert(*TLS_NAMES)
    ca.cert_pem.write_to_path(str(files.ca_file))
    cert.private_key_pem.write_to_path(str(files.key_file))
    cert.cert_chain_pems[0].write_to_path(str(files.cert_file))
    for extra in cert.cert_chain_pems[1:]:
        with files.cert_file.open("ab") as fh:
            fh.write(extra.bytes())
    files.key_file.chmod(0o600)
    return files


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1:`port` (0 = a free port) until `stop()`."""

    def __init__(self, app, port: int = 0, tls: TlsFiles | None = None, name: str = "sandbox"):
        self.app = app
        self.tls = tls
        self.name = name
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Nagle off (accepted sockets inherit it on Linux). asyncio sets TCP_NODELAY only on sockets
        # created with proto=IPPROTO_TCP; without it, a response whose headers and body are written
        # separately waits ~40 ms for the client's delayed ACK.
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind((LOOPBACK, port))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_certfile=str(tls.cert_file) if tls else None,
            ssl_keyfile=str(tls.key_file) if tls else None,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=1,  # clients keep pooled keep-alive connections: don't wait on them
            backlog=2048,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"{name}-server", daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{LOOPBACK}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} emulator did not start on {self.url}")
            time.sleep(0.01)
        logging.getLogger(__name__).debug("%s emulator listening on %s", self.name, self.url)
        return self

    def serve_forever(self) -> None:
        """Run in the foreground (blocks until SIGINT/SIGTERM)."""
        self._run()

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
