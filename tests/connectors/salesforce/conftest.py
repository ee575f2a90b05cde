"""Fixtures: the Salesforce emulator over real HTTPS (one per module and xdist worker, reset per test)
and `make(**overrides)` building a SalesforceConnector that logs in to it with the real
simple-salesforce client. Backoff sleeps are recorded, not slept."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors.base import CallCounter
from connectors.retry import RetryPolicy
from connectors.salesforce.bulk import BulkOptions
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.settings import SalesforceSettings
from sandbox.salesforce import SalesforceEmulator
from sandbox.salesforce.schema import CLOSED_LOST_STAGES
from sandbox.server import ServerThread

MY_DOMAIN = "leadsync-sandbox.my"
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SalesforceEmulator, ServerThread]]:
    emulator = SalesforceEmulator()
    server = emulator.serve(tls_dir=tmp_path_factory.mktemp("sf-tls"))
    yield emulator, server
    server.stop()


@pytest.fixture
def emu(served: tuple[SalesforceEmulator, ServerThread]) -> SalesforceEmulator:
    emulator = served[0]
    emulator.reset()
    emulator.daily_limit = 1_000_000
    return emulator


@pytest.fixture
def url(served: tuple[SalesforceEmulator, ServerThread]) -> str:
    return served[1].url


@dataclass
class Run:
    """A connector plus what the test inspects: its call counter and the backoff waits it asked for."""

    connector: SalesforceConnector
    counter: CallCounter
    sleeps: list[float] = field(default_factory=list)

    def calls(self) -> dict[str, int]:
        return self.counter.by_system().get("salesforce", {})


@pytest.fixture
def make(emu: SalesforceEmulator, url: str, tmp_path: Path) -> Callable[..., Run]:
    def build(*, max_attempts: int = 6, **overrides: Any) -> Run:
        creds = emu.credentials
        values: dict[str, Any] = {
            "auth": "password",
            "domain": "login",
            "login_url": url,
            "ca_bundle": emu.ca_file,
            "username": creds.username,
            "password": creds.password,
            "security_token": creds.security_token,
            "lookback_minutes": 0,
            "daily_reserve": 0,
        }
        if overrides.get("auth") == "jwt":
            key = tmp_path / "jwt-key.pem"
            key.write_text(creds.private_key_pem)
            values.update(
                security_token=None, password=None, consumer_key=creds.consumer_key, private_key_file=key
            )
        elif overrides.get("auth") == "client_credentials":
            values.update(
                domain=MY_DOMAIN, consumer_key=creds.consumer_key, consumer_secret=creds.consumer_secret
            )
        elif overrides.get("auth") == "session":
            values.update(session_id=emu.mint_session(), instance_url=url)
        values.update(overrides)
        counter = CallCounter()
        sleeps: list[float] = []
        connector = SalesforceConnector(
            SalesforceSettings(**values),
            counter=counter,
            policy=RetryPolicy(max_attempts=max_attempts, base_delay=0.01, max_backoff=0.05),
            sleep=sleeps.append,
            bulk_options=BulkOptions(poll_interval=0.01, max_poll_interval=0.05),
        )
        return Run(connector, counter, sleeps)

    return build


# --------------------------------------------------------------------------- seeding


@dataclass
class Org:
    """Seeds the emulated org with accounts, contacts and deals moving through stages."""

    emu: SalesforceEmulator
    n: int = 0

    def account(
        self, name: str = "Acme", employees: int | None = 250, industry: str | None = "Banking"
    ) -> str:
        return self.emu.store.create(
            "Account", {"Name": name, "NumberOfEmployees": employees, "Industry": industry}, at=T0
        )

    def contact(
        self,
        last: str = "Doe",
        *,
        email: str | None = None,
        opted_out: bool = False,
        account_id: str | None = None,
    ) -> str:
        self.n += 1
        return self.emu.store.create(
            "Contact",
            {
                "FirstName": "Pat",
                "LastName": f"{last}{self.n}",
                "Email": email or f"p{self.n}@example.com",
                "HasOptedOutOfEmail": opted_out,
                "AccountId": account_id,
            },
            at=T0,
        )

    def deal(
        self,
        stages: list[str],
        *,
        account_id: str | None = None,
        contacts: list[str] = (),
        primary: str | None = None,
        reason: str | None = "Price",
        amount: float | None = 5000.0,
        start: datetime = T0,
        step: timedelta = timedelta(days=1),
        name: str = "Deal",
    ) -> str:
        """An opportunity created in stages[0] at `start`, moved through the rest one `step` apart."""
        fields: dict[str, Any] = {
            "Name": name,
            "StageName": stages[0],
            "CloseDate": date(2024, 6, 30),
            "Amount": amount,
            "AccountId": account_id,
        }
        opp = self.emu.store.create("Opportunity", fields, at=start)
        for i, stage in enumerate(stages[1:], start=1):
            changes: dict[str, Any] = {"StageName": stage}
            if stage in CLOSED_LOST_STAGES and reason is not None:
                changes["Loss_Reason__c"] = reason
            self.emu.store.update("Opportunity", opp, changes, at=start + i * step)
        for contact in contacts:
            self.emu.store.create(
                "OpportunityContactRole",
                {
                    "OpportunityId": opp,
                    "ContactId": contact,
                    "IsPrimary": contact == primary,
                    "Role": "Decision Maker" if contact == primary else "Influencer",
                },
                at=start,
            )
        return opp


@pytest.fixture
def org(emu: SalesforceEmulator) -> Org:
    return Org(emu)


def soql_by_object(run: Run) -> Counter[str]:
    """A counter that fills, as the connector's session sends them, with its SOQL requests by object
    (`FROM <object>` of the query string; further pages of a result count as "queryMore")."""
    seen: Counter[str] = Counter()

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        url = urlsplit(response.request.url or "")
        if "/query" not in url.path:
            return
        q = parse_qs(url.query).get("q")
        top = re.sub(r"\([^()]*(\([^()]*\)[^()]*)*\)", "", q[0]) if q else ""  # subqueries out
        match = re.search(r"\bFROM\s+(\w+)", top, re.IGNORECASE) if q else None
        seen[match.group(1) if match else "queryMore"] += 1

    run.connector.client.session.hooks.setdefault("response", []).append(hook)
    return seen


def emulator_calls(emu: SalesforceEmulator) -> dict[str, int]:
    """The emulator's call log without endpoints the connector never uses."""
    return {k: v for k, v in emu.calls.snapshot().items() if v}
