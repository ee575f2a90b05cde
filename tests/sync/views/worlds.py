"""What the report and explain tests work on (the fixtures that build them are in conftest.py).

- `Synced`: a synced demo book (the emulators, the open context, the settings file, `now`, the run).
- `SeededWorld`: the empty sandbox with people seeded one by one (a Contact on an Opportunity that
  walked its stages and closed lost, a HubSpot contact with engagement), so a test can state exactly
  which recycle group and re-engagement each person should get.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.launcher import Sandbox
from sync.run.context import SyncContext, open_context
from sync.run.runner import RunOptions, RunResult, run
from sync.run.setup import run_setup
from sync.settings import load_settings

OPEN_STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
               "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review"]


@dataclass
class Synced:
    box: Sandbox
    ctx: SyncContext
    settings_path: Path
    now: datetime
    result: RunResult


def open_synced_context(box: Sandbox, tmp_path: Path,
                        state_url: str | None = None) -> tuple[Path, SyncContext]:
    settings_path = box.write_settings(tmp_path / "settings.toml",
                                       state_url=state_url or f"sqlite:///{tmp_path}/state.db")
    ctx = open_context(load_settings(settings_path))
    setup = run_setup(ctx, create_missing=True)
    assert setup.ok, setup.to_dict()
    return settings_path, ctx


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
