"""Fixtures for the report and explain tests: a synced demo book, and a hand-seeded small world.

- `synced` (module scope): the small demo book of the shared sandbox servers, `setup` and one full
  run into a SQLite state file in a temporary folder; read-only for the tests.
- `seeded_world`: the empty sandbox with people seeded one by one (a Contact on an Opportunity that
  walked its stages and closed lost, a HubSpot contact with engagement), so a test can state exactly
  which recycle group and re-engagement each person should get.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.sandbox.launcher import Sandbox
from sync.context import SyncContext, open_context
from sync.runner import RunOptions, RunResult, run
from sync.settings import load_settings
from sync.setup import run_setup
from tests.conftest import SANDBOX_PEOPLE, SANDBOX_SEED

OPEN_STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
               "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review"]


@dataclass
class Synced:
    box: Sandbox
    ctx: SyncContext
    settings_path: Path
    now: datetime
    result: RunResult


def _open(box: Sandbox, tmp_path: Path) -> tuple[Path, SyncContext]:
    settings_path = box.write_settings(tmp_path / "settings.toml", state_url=f"sqlite:///{tmp_path}/state.db")
    ctx = open_context(load_settings(settings_path))
    setup = run_setup(ctx, create_missing=True)
    assert setup.ok, setup.to_dict()
    return settings_path, ctx


@pytest.fixture(scope="module")
def synced(_sandbox_servers: Sandbox, sandbox_now: datetime,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """The shared sandbox servers reloaded with the small demo book (as the `sandbox` fixture does),
    set up and synced once for the whole module (a run takes seconds on a loaded machine). Tests that
    use it only read the emulators and the state store. A module's tests run one after the other on a
    worker (also under xdist), so no other test resets the servers in between."""
    box = _sandbox_servers
    box.reset(people=SANDBOX_PEOPLE, seed=SANDBOX_SEED, now=sandbox_now)
    settings_path, ctx = _open(box, tmp_path_factory.mktemp("synced"))
    result = run(ctx, RunOptions(now=sandbox_now))
    assert result.status == "ok", result.to_dict()
    yield Synced(box, ctx, settings_path, sandbox_now, result)
    ctx.close()


@dataclass
class SeededWorld:
    box: Sandbox
    ctx: SyncContext
    settings_path: Path
    now: datetime
    owner: str
    account: str
    deals: dict[str, str] = field(default_factory=dict)  # email -> opportunity id

    def person(self, email: str, *, lost_stage: str, lost_days_ago: int, reason: str | None,
               amount: int = 1_000_000, hubspot: dict[str, str] | None = None) -> None:
        """A Salesforce contact on a deal lost at `lost_stage`, and a HubSpot contact with `hubspot`."""
        sf = self.box.salesforce.store
        contact = sf.create("Contact", {"FirstName": "Taro", "LastName": email.split("@")[0], "Email": email,
                                        "AccountId": self.account, "OwnerId": self.owner},
                            at=self.now - timedelta(days=400))
        path = OPEN_STAGES[: OPEN_STAGES.index(lost_stage) + 1]
        closed_at = self.now - timedelta(days=lost_days_ago)
        start = closed_at - timedelta(days=len(path) + 5)
        opp = sf.create("Opportunity", {"Name": f"Deal of {email}", "AccountId": self.account,
                                        "OwnerId": self.owner, "Amount": amount, "StageName": path[0],
                                        "CloseDate": closed_at.date()}, at=start)
        sf.create("OpportunityContactRole", {"OpportunityId": opp, "ContactId": contact,
                                             "Role": "Decision Maker", "IsPrimary": True}, at=start)
        for i, stage in enumerate(path[1:], start=1):
            sf.update("Opportunity", opp, {"StageName": stage}, at=start + timedelta(days=i))
        final: dict[str, Any] = {"StageName": "Closed Lost", "CloseDate": closed_at.date()}
        if reason:
            final["Loss_Reason__c"] = reason
        sf.update("Opportunity", opp, final, at=closed_at)
        self.deals[email] = opp
        props = {"email": email, "lifecyclestage": "lead", **(hubspot or {})}
        self.box.hubspot.store.create_contact(props, at=self.now - timedelta(days=300))

    def days_ago(self, days: int) -> str:
        """A HubSpot datetime property value `days` before now (epoch milliseconds)."""
        return str(int((self.now - timedelta(days=days)).timestamp() * 1000))

    def sync(self) -> RunResult:
        result = run(self.ctx, RunOptions(now=self.now))
        assert result.status == "ok", result.to_dict()
        return result


@pytest.fixture
def seeded_world(empty_sandbox: Sandbox, tmp_path: Path) -> Iterator[SeededWorld]:
    box = empty_sandbox
    now = datetime.now().astimezone().replace(microsecond=0)
    sf = box.salesforce.store
    owner = sf.create("User", {"Username": "owner@example.com", "Email": "owner@example.com",
                               "FirstName": "Hanako", "LastName": "Sato", "Alias": "hsato", "IsActive": True},
                      at=now - timedelta(days=900))
    account = sf.create("Account", {"Name": "株式会社テスト", "NumberOfEmployees": 500, "OwnerId": owner},
                        at=now - timedelta(days=800))
    settings_path, ctx = _open(box, tmp_path)
    yield SeededWorld(box, ctx, settings_path, now, owner, account)
    ctx.close()
