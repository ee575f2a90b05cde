"""Start both emulators on 127.0.0.1 with demo data, and describe them as leadsync settings.

    with Sandbox.start(people=200, seed=1, workdir=tmp) as sb:
        sb.write_settings(tmp / "settings.toml", state_url=f"sqlite:///{tmp}/state.db")
        ...  # leadsync runs against sb.salesforce_url / sb.hubspot_url

Salesforce is served over TLS with a CA generated into `workdir/tls/` (reused when already there, so
a fixed workdir keeps one CA across restarts); HubSpot over plain HTTP. Nothing is written outside
`workdir` except the settings file the caller asks for.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sandbox import demo_timeline
from sandbox.clock import SandboxClock
from sandbox.demo_data import DemoBook, generate
from sandbox.demo_load import LoadSummary, load_demo
from sandbox.faults import FaultInjector
from sandbox.hubspot import HubSpotEmulator
from sandbox.salesforce import SalesforceEmulator
from sandbox.server import ServerThread
from sandbox.settings_toml import dumps_toml

__all__ = ["Sandbox", "demo_timeline"]  # the demo's timeline, for `leadsync demo` (loaded with this)

HUBSPOT_TOKEN = "sandbox-token"
TLS_FOLDER = "tls"
CA_NAME = "sandbox-ca.pem"
JWT_KEY_NAME = "salesforce-jwt-key.pem"  # the connected app's private key, for auth = "jwt"

# The settings written for leadsync keep its default version (simple-salesforce's 59.0), whatever the
# newest version the emulator serves (66.0): a sandbox run is what a fresh install does.
LEADSYNC_API_VERSION = "59.0"


@dataclass
class Sandbox:
    """Both emulators, running. Build with `Sandbox.start(...)`; stop with `.stop()` or `with`."""

    salesforce: SalesforceEmulator
    hubspot: HubSpotEmulator
    salesforce_server: ServerThread
    hubspot_server: ServerThread
    ca_file: Path
    workdir: Path
    book: DemoBook | None
    loaded: LoadSummary
    hubspot_token: str = HUBSPOT_TOKEN
    hubspot_requests_per_10s: int = 190

    @classmethod
    def start(
        cls,
        *,
        people: int = 200,
        seed: int = 1,
        faults: str | None = None,
        port_salesforce: int = 0,
        port_hubspot: int = 0,
        workdir: Path,
        now: datetime | None = None,
        sf_clock: bool = False,
        hubspot_requests_per_10s: int = 190,
        retry_after_on_429: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> Sandbox:
        """Start both emulators with a demo book of `people` people (0: empty). `faults` is a
        `FaultInjector.parse` spec (raises FaultSpecError before anything starts); each emulator gets
        its own injector seeded from `seed`. Ports 0 pick free ports. `now` dates the demo data; with
        `sf_clock` the Salesforce emulator's clock moves there too (`leadsync sandbox --now`).
        `progress(n)` is told as each account's n people are loaded."""
        sf_faults = FaultInjector.parse(faults or "", seed=seed)
        hs_faults = FaultInjector.parse(faults or "", seed=seed + 1)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        salesforce = SalesforceEmulator(faults=sf_faults)
        if now is not None and sf_clock:
            salesforce.move_clock(now)  # the org's writes happen around `now` (it runs on from there)
        # HubSpot's clock runs on real time unless `move_clocks` moves it (the demo's months of syncs)
        hubspot = HubSpotEmulator(tokens=(HUBSPOT_TOKEN,), faults=hs_faults, clock=SandboxClock(),
                                  requests_per_10s=hubspot_requests_per_10s,
                                  retry_after_on_429=retry_after_on_429)
        book = generate(people=people, seed=seed, now=now) if people else None
        loaded = (load_demo(book, salesforce=salesforce, hubspot=hubspot, progress=progress) if book
                  else LoadSummary())
        tls_dir = workdir / TLS_FOLDER
        sf_server = salesforce.serve(port=port_salesforce, tls_dir=tls_dir)
        try:
            hs_server = hubspot.serve(port=port_hubspot)
        except BaseException:
            sf_server.stop()
            raise
        ca_file = Path(salesforce.ca_file or tls_dir / CA_NAME)
        _write_private(tls_dir / JWT_KEY_NAME, salesforce.credentials.private_key_pem)
        return cls(salesforce=salesforce, hubspot=hubspot, salesforce_server=sf_server,
                   hubspot_server=hs_server, ca_file=ca_file, workdir=workdir, book=book, loaded=loaded,
                   hubspot_requests_per_10s=hubspot_requests_per_10s)

    @property
    def salesforce_url(self) -> str:
        return self.salesforce_server.url

    @property
    def hubspot_url(self) -> str:
        return self.hubspot_server.url

    @property
    def jwt_key_file(self) -> Path:
        """PEM of the private key the emulator's connected app accepts for JWT-bearer logins."""
        return self.workdir / TLS_FOLDER / JWT_KEY_NAME

    @property
    def now(self) -> datetime | None:
        """The instant the demo data's ages are relative to (None for an empty sandbox)."""
        return self.book.now if self.book else None

    def settings_dict(self, state_url: str, *, auth: str = "jwt") -> dict[str, dict[str, Any]]:
        """leadsync settings (the sections of settings.toml) pointing at this sandbox. `auth` "jwt"
        (the default, the login leadsync recommends: the connected app's consumer key and the private
        key file in the work folder) or "password" (username, password and security token: SOAP
        login(), which Salesforce is retiring; for tests of that path)."""
        creds = self.salesforce.credentials
        if auth == "jwt":
            login: dict[str, Any] = {"consumer_key": creds.consumer_key,
                                     "private_key_file": str(self.jwt_key_file)}
        elif auth == "password":
            login = {"password": creds.password, "security_token": creds.security_token}
        else:
            raise ValueError(f"auth must be 'jwt' or 'password', not {auth!r}")
        return {
            "salesforce": {
                "auth": auth,
                "domain": "login",
                "login_url": self.salesforce_url,
                "ca_bundle": str(self.ca_file),
                "api_version": LEADSYNC_API_VERSION,
                "username": creds.username,
                **login,
            },
            "hubspot": {
                "host": self.hubspot_url,
                "access_token": self.hubspot_token,
                "requests_per_10s": self.hubspot_requests_per_10s,
            },
            "state": {"url": state_url},
        }

    def settings_toml(self, state_url: str) -> str:
        """`settings_dict` as settings.toml text."""
        return dumps_toml(self.settings_dict(state_url))

    def write_settings(self, path: Path, state_url: str) -> Path:
        """Write `settings_toml` to `path`, readable by the owner only (0600)."""
        text = "# leadsync settings for the local sandbox (written by `leadsync sandbox`)\n"
        return _write_private(Path(path), text + self.settings_toml(state_url))

    def reset(self, *, people: int = 0, seed: int = 1, now: datetime | None = None,
              faults: str | None = None, org_id: str | None = None,
              portal_id: int | None = None) -> LoadSummary:
        """Empty both emulators (records, call counts, rate-limit usage), give each a fresh fault
        injector (`faults` spec, seeded from `seed`; None: no faults) and load a new demo book of
        `people` people (0: none). The servers keep running on the same ports. `org_id` / `portal_id`:
        the org and portal come back as other ones (a sandbox refresh, a restored portal); record ids
        start again from the same counters, so the same book gets the same record ids."""
        sf_faults = FaultInjector.parse(faults or "", seed=seed)
        hs_faults = FaultInjector.parse(faults or "", seed=seed + 1)
        self.salesforce.reset(org_id=org_id)
        self.hubspot.reset(portal_id=portal_id)
        if isinstance(self.hubspot.clock, SandboxClock):
            self.hubspot.clock.move_to(None)
        for emulator, injector in ((self.salesforce, sf_faults), (self.hubspot, hs_faults)):
            emulator.faults = injector
        self.book = generate(people=people, seed=seed, now=now) if people else None
        self.loaded = (load_demo(self.book, salesforce=self.salesforce, hubspot=self.hubspot) if self.book
                       else LoadSummary())
        return self.loaded

    def move_clocks(self, instant: datetime | None) -> None:
        """Make both emulators' now `instant` (their clocks run on from there; None: back to real time),
        so the writes leadsync makes in a run land at that time, as `leadsync demo`'s monthly syncs
        need: each month's changes must be newer than the last run's writes (its watermarks)."""
        self.salesforce.move_clock(instant)
        clock = self.hubspot.clock
        if isinstance(clock, SandboxClock):
            clock.move_to(instant)

    def stop(self) -> None:
        """Stop both servers (idempotent)."""
        for server in (self.hubspot_server, self.salesforce_server):
            server.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _write_private(path: Path, text: str) -> Path:
    """Write `text` to `path`, readable by the owner only (0600, also when the file existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    path.chmod(0o600)
    return path
