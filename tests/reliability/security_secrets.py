"""Recognisable secrets for the leak scan, the forms a leak could take, and the scanner.

Every secret is random per test session and carries characters that change under URL, HTML and JSON
encoding, so a leak in any of those forms is found too.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

from sandbox.launcher import Sandbox


def _tag() -> str:
    return secrets.token_hex(6)


@dataclass
class Secrets:
    """The secret values one scan looks for (`sessions` grows as the emulator mints session ids)."""

    password: str = field(default_factory=lambda: f"Pw-{_tag()}&Sécret+/=")
    security_token: str = field(default_factory=lambda: f"SecTok{_tag()}")
    consumer_secret: str = field(default_factory=lambda: f"ConsumerSecret-{_tag()}")
    hubspot_token: str = field(default_factory=lambda: f"pat-na1-{_tag()}-{_tag()}")
    wrong_password: str = field(default_factory=lambda: f"WrongPw-{_tag()}")
    wrong_hubspot_token: str = field(default_factory=lambda: f"pat-na1-wrong-{_tag()}")
    key_lines: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)

    def named(self) -> dict[str, str]:
        out = {"salesforce.password": self.password, "salesforce.security_token": self.security_token,
               "salesforce.consumer_secret": self.consumer_secret, "hubspot.access_token": self.hubspot_token,
               "a wrong salesforce.password": self.wrong_password,
               "a wrong hubspot.access_token": self.wrong_hubspot_token,
               "password + security token (SOAP login)": self.password + self.security_token}
        out.update({f"private key line {i}": line for i, line in enumerate(self.key_lines, start=1)})
        out.update({f"session id {i}": s for i, s in enumerate(self.sessions, start=1)})
        return out

    def install(self, box: Sandbox) -> None:
        """Give the emulators these credentials, and record every session id the Salesforce emulator
        mints from now on (logins, re-logins, `mint_session`)."""
        creds = box.salesforce.credentials
        creds.password, creds.security_token = self.password, self.security_token
        creds.consumer_secret = self.consumer_secret
        box.hubspot.tokens = frozenset({self.hubspot_token})  # what `HubSpotEmulator(tokens=...)` sets
        box.hubspot_token = self.hubspot_token
        sessions = box.salesforce.sessions
        mint = sessions.mint

        def recording_mint() -> str:
            token = mint()
            self.sessions.append(token)
            return token

        sessions.mint = recording_mint  # type: ignore[method-assign]
        pem = box.jwt_key_file.read_text(encoding="ascii")
        self.key_lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]


def forms(value: str) -> set[str]:
    """The ways `value` could be written out: as is, URL-encoded, HTML/XML-escaped, JSON-escaped."""
    escaped = {html.escape(value), html.escape(value, quote=False)}
    out = {value, quote(value, safe=""), quote_plus(value), *escaped,
           json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    return {f for f in out if len(f) >= 8}


def find_leaks(where: str, content: str | bytes, named: dict[str, str]) -> list[str]:
    """One line per secret (in any of its forms) found in `content`."""
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    raw = content if isinstance(content, bytes) else b""
    leaks = []
    for name, value in named.items():
        for form in forms(value):
            if form in text or (raw and form.encode("utf-8") in raw):
                at = text.find(form)
                context = text[max(0, at - 60): at + len(form) + 20] if at >= 0 else "(in raw bytes)"
                leaks.append(f"{where}: {name} found as {form!r}: ...{context!r}...")
                break
    return leaks


def state_files(db: Path) -> Iterable[Path]:
    """The SQLite database and its side files (WAL, shared memory, rollback journal) that exist."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = db.with_name(db.name + suffix)
        if path.exists():
            yield path
