"""Clear words, through the real `leadsync sync`: an error names the system and where it was reached
(a refused token, a refused connection, a TLS certificate that expired or is not trusted, with the
`ca_bundle` key of that system); the HubSpot token is checked before anything is read from Salesforce;
a plain-http HubSpot host is refused unless it is loopback or `allow_insecure_http` is set (then a
warning); urllib3's InsecureRequestWarning reaches the log once per run, not as raw warning blocks.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from sandbox.server import ServerThread, TlsFiles
from tests.reliability.harness import CLI_TIMEOUT, NOW, Harness, cli_environment, leadsync_executable

ATTEMPTS = 6  # FAST_RETRIES in the harness


def _sync(h: Harness) -> tuple[int, dict, str]:
    done = subprocess.run([*leadsync_executable(), "sync", "--config", str(h.settings_path), "--json",
                           "--now", NOW.isoformat()], capture_output=True, text=True, env=cli_environment(),
                          timeout=CLI_TIMEOUT, check=False, cwd=h.folder)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    return done.returncode, result, done.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _nothing(scope: dict, receive: object, send: object) -> None:  # never reached: TLS fails first
    raise AssertionError("no request gets past the TLS handshake")


def _tls_server(folder: Path, *, expired: bool) -> tuple[ServerThread, Path]:
    """A server on 127.0.0.1 with a certificate from a fresh CA (expired or valid); the CA's file."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    now = datetime.now(UTC)
    cert = (ca.issue_cert("127.0.0.1", "localhost", not_before=now - timedelta(days=30),
                          not_after=now - timedelta(days=1)) if expired
            else ca.issue_cert("127.0.0.1", "localhost"))
    files = TlsFiles(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    ca.cert_pem.write_to_path(str(files.ca_file))
    cert.private_key_pem.write_to_path(str(files.key_file))
    cert.cert_chain_pems[0].write_to_path(str(files.cert_file))
    return ServerThread(_nothing, tls=files, name="tls-test").start(), files.ca_file


@pytest.fixture
def book(harness: Harness) -> Iterator[Harness]:
    harness.load(people=20)
    harness.configure()
    harness.setup()
    harness.box.salesforce.calls.reset()
    harness.box.hubspot.calls.reset()
    yield harness


def test_a_refused_hubspot_token_is_named_before_salesforce_is_read(book: Harness) -> None:
    book.configure(hubspot={"access_token": "pat-na1-00000000-0000-0000-0000-000000000000"})
    code, result, _ = _sync(book)
    assert code == 2 and result["status"] == "failed", result
    assert result["error"].startswith(f"HubSpot at {book.box.hubspot_url}: the access token was refused "
                                      "(HTTP 401"), result["error"]
    sf_calls = book.box.salesforce.calls.snapshot()
    assert not any(k.startswith("salesforce.query") for k in sf_calls), sf_calls  # nothing read


def test_a_refused_connection_names_salesforce_and_where(book: Harness) -> None:
    port = _closed_port()
    book.configure(salesforce={"login_url": f"https://127.0.0.1:{port}"})
    code, result, stderr = _sync(book)
    assert code == 1 and result["status"] == "failed", result
    assert result["error"].startswith(
        f"Salesforce at https://127.0.0.1:{port}: connection refused after {ATTEMPTS} attempts"), result
    assert f"Salesforce at https://127.0.0.1:{port}: connection refused (salesforce." in stderr  # retries


def test_an_untrusted_salesforce_certificate_names_the_ca_bundle_key(book: Harness, tmp_path: Path) -> None:
    other = trustme.CA()
    other.cert_pem.write_to_path(str(tmp_path / "other-ca.pem"))
    book.configure(salesforce={"ca_bundle": str(tmp_path / "other-ca.pem")})
    code, result, _ = _sync(book)
    assert code == 2 and result["status"] == "failed", result
    error = result["error"]
    assert error.startswith(f"Salesforce at {book.box.salesforce_url}: TLS: the server's certificate is "
                            "not trusted"), error
    assert "set salesforce.ca_bundle" in error


@pytest.mark.parametrize("system", ["salesforce", "hubspot"])
def test_an_expired_certificate_says_expired_and_names_the_key(book: Harness, tmp_path: Path,
                                                               system: str) -> None:
    server, ca_file = _tls_server(tmp_path / "tls", expired=True)
    try:
        if system == "salesforce":
            book.configure(salesforce={"login_url": server.url, "ca_bundle": str(ca_file)})
        else:
            book.configure(hubspot={"host": server.url, "ca_bundle": str(ca_file)})
        code, result, _ = _sync(book)
    finally:
        server.stop()
    assert code == 2 and result["status"] == "failed", result
    name = {"salesforce": "Salesforce", "hubspot": "HubSpot"}[system]
    error = result["error"]
    assert error.startswith(f"{name} at {server.url}: TLS: the server's certificate has expired"), error
    assert f"{system}.ca_bundle" in error


def test_a_plain_http_hubspot_host_is_refused_unless_allowed(book: Harness) -> None:
    book.configure(hubspot={"host": "http://hubspot.invalid"})
    code, result, stderr = _sync(book)
    assert code == 2 and result == {}, (code, result)
    assert "hubspot.allow_insecure_http" in stderr and "clear text" in stderr, stderr
    assert book.box.salesforce.calls.snapshot() == {}  # refused before anything was sent

    book.configure(hubspot={"host": "http://hubspot.invalid", "allow_insecure_http": True})
    code, result, stderr = _sync(book)
    assert "HubSpot at http://hubspot.invalid is plain http://: the access token travels in clear text" \
        in stderr, stderr
    assert code == 1 and result["error"].startswith(
        f"HubSpot at http://hubspot.invalid: host name not found after {ATTEMPTS} attempts"), result


def test_a_loopback_http_hubspot_host_is_allowed_without_a_warning(book: Harness) -> None:
    assert book.box.hubspot_url.startswith("http://127.0.0.1:")
    code, result, stderr = _sync(book)
    assert code == 0 and result["status"] == "ok", result
    assert "plain http" not in stderr


def test_insecure_request_warnings_reach_the_log_once(book: Harness) -> None:
    book.configure(salesforce={"verify_tls": False})
    code, result, stderr = _sync(book)
    assert code == 0 and result["status"] == "ok", result
    assert result["api_calls"]["salesforce"], result  # several unverified requests were made
    assert stderr.count("Unverified HTTPS request") == 1, stderr
    assert "InsecureRequestWarning" not in stderr and "warnings.warn" not in stderr, stderr
    assert "WARNING urllib3: Unverified HTTPS request is being made to host '127.0.0.1'" in stderr
