"""Fixtures: one Salesforce emulator per test module (per xdist worker) over real HTTPS with TLS
verification on, reset before every test, and the real simple-salesforce client pointed at it.

- `emu`: the emulator, freshly reset (data, calls, faults, usage; limit and clock restored).
- `clock`: the emulator's clock (real time + an offset a test may `advance`).
- `connect(mode)`: a logged-in `Salesforce` for mode soap / oauth_password / jwt / client_credentials /
  session, through `build_session(login_url=...)` as the connector does.
- `sf`: `connect("session")`.
- `check(schema, instance)`: validates against the JSON schemas in `schemas/`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from simple_salesforce import Salesforce

from connectors.salesforce.transport import build_session
from sandbox.salesforce import SalesforceEmulator
from sandbox.server import ServerThread

SCHEMAS = Path(__file__).parent / "schemas"
MY_DOMAIN = (
    "leadsync-sandbox.my"  # client credentials need a My Domain (simple-salesforce refuses login/test)
)


class MovableClock:
    """Real UTC time plus an offset, so a test can jump past a session timeout."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SalesforceEmulator, ServerThread, MovableClock]]:
    clock = MovableClock()
    emulator = SalesforceEmulator(clock=clock, session_ttl_seconds=7200)
    server = emulator.serve(tls_dir=tmp_path_factory.mktemp("sf-tls"))
    yield emulator, server, clock
    server.stop()


@pytest.fixture
def emu(served: tuple[SalesforceEmulator, ServerThread, MovableClock]) -> SalesforceEmulator:
    emulator, _, clock = served
    emulator.reset()
    emulator.daily_limit = 1_000_000
    clock.offset = timedelta(0)
    return emulator


@pytest.fixture
def clock(served: tuple[SalesforceEmulator, ServerThread, MovableClock]) -> MovableClock:
    return served[2]


@pytest.fixture
def url(served: tuple[SalesforceEmulator, ServerThread, MovableClock]) -> str:
    return served[1].url


@pytest.fixture
def connect(emu: SalesforceEmulator, url: str) -> Callable[[str], Salesforce]:
    def make(mode: str) -> Salesforce:
        creds = emu.credentials
        domain = MY_DOMAIN if mode == "client_credentials" else "login"
        session = build_session(domain=domain, login_url=url, ca_bundle=emu.ca_file)
        if mode == "soap":
            return Salesforce(
                username=creds.username,
                password=creds.password,
                security_token=creds.security_token,
                domain=domain,
                session=session,
            )
        if mode == "oauth_password":
            return Salesforce(
                username=creds.username,
                password=creds.password,
                consumer_key=creds.consumer_key,
                consumer_secret=creds.consumer_secret,
                domain=domain,
                session=session,
            )
        if mode == "jwt":
            return Salesforce(
                username=creds.username,
                consumer_key=creds.consumer_key,
                privatekey=creds.private_key_pem,
                domain=domain,
                session=session,
            )
        if mode == "client_credentials":
            return Salesforce(
                consumer_key=creds.consumer_key,
                consumer_secret=creds.consumer_secret,
                domain=domain,
                session=session,
            )
        if mode == "session":
            return Salesforce(session_id=emu.mint_session(), instance_url=url, session=session)
        raise ValueError(mode)

    return make


@pytest.fixture
def sf(connect: Callable[[str], Salesforce]) -> Salesforce:
    return connect("session")


def _registry() -> Registry:
    resources = [(p.name, Resource.from_contents(json.loads(p.read_text()))) for p in SCHEMAS.glob("*.json")]
    return Registry().with_resources(resources)


_REGISTRY = _registry()


@pytest.fixture(scope="session")
def check() -> Callable[[str, Any], None]:
    def validate(schema: str, instance: Any) -> None:
        contents = _REGISTRY[f"{schema}.json"].contents
        Draft202012Validator(contents, registry=_REGISTRY).validate(json.loads(json.dumps(instance)))

    return validate
