"""A small world for end-to-end runs: the (empty) sandbox, hand-made people, a real SQLite state file.

Each person is seeded the way an org would hold them: a Contact on an Opportunity that walked its
stages (OpportunityHistory is written by the emulator) and closed as lost; a HubSpot contact with
engagement counts and last-event dates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.launcher import Sandbox
from sync.run.context import SyncContext, open_context
from sync.run.runner import RunOptions, RunResult, run
from sync.run.setup import run_setup
from sync.settings import load_settings

OPEN_STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
               "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review"]
WRITE_ENDPOINTS = ("salesforce.collections", "salesforce.bulk", "hubspot.batch_update", "hubspot.memberships")


@dataclass
class Seeded:
    email: str
    contact_id: str | None
    hubspot_id: str | None
    opportunity_id: str | None


@dataclass
class World:
    box: Sandbox
    ctx: SyncContext
    now: datetime
    owner: str
    account: str
    people: dict[str, Seeded] = field(default_factory=dict)

    # ---------------------------------------------------------------- seeding
    def person(self, email: str, *, lost_stage: str | None = None, lost_days_ago: int = 40,
               reason: str = "Price", hubspot: dict[str, str] | None = None, in_hubspot: bool = True,
               sf_opted_out: bool = False, name: tuple[str, str] = ("Taro", "Yamada"),
               close_date_days_ago: int | None = None) -> Seeded:
        """`close_date_days_ago`: the deal's CloseDate (a forecast) when it differs from the day it
        was marked Closed Lost (`lost_days_ago`); negative = in the future."""
        sf = self.box.salesforce.store
        contact_id = opp_id = None
        if lost_stage is not None:
            contact_id = sf.create("Contact", {"FirstName": name[0], "LastName": name[1], "Email": email,
                                               "AccountId": self.account, "OwnerId": self.owner,
                                               "HasOptedOutOfEmail": sf_opted_out},
                                   at=self.now - timedelta(days=400))
            opp_id = self.deal(contact_id, lost_stage, lost_days_ago, reason, outcome="Closed Lost",
                               close_date_days_ago=close_date_days_ago)
        hs_id = None
        if in_hubspot:
            props = {"email": email, "firstname": name[0], "lastname": name[1], "lifecyclestage": "lead"}
            props.update(hubspot or {})
            hs_id = self.box.hubspot.store.create_contact(props, at=self.now - timedelta(days=300))
        seeded = Seeded(email, contact_id, hs_id, opp_id)
        self.people[email] = seeded
        return seeded

    def deal(self, contact_id: str, last_open: str, days_ago: int, reason: str | None, *,
             outcome: str, close_date_days_ago: int | None = None) -> str:
        sf = self.box.salesforce.store
        path = OPEN_STAGES[: OPEN_STAGES.index(last_open) + 1]
        closed_at = self.now - timedelta(days=days_ago)
        close_date = (self.now - timedelta(days=days_ago if close_date_days_ago is None
                                           else close_date_days_ago)).date()
        start = closed_at - timedelta(days=len(path) + 5)
        opp_id = sf.create("Opportunity", {"Name": f"Deal {contact_id[-4:]}", "AccountId": self.account,
                                           "OwnerId": self.owner, "Amount": 1200000, "StageName": path[0],
                                           "CloseDate": close_date}, at=start)
        sf.create("OpportunityContactRole", {"OpportunityId": opp_id, "ContactId": contact_id,
                                             "Role": "Decision Maker", "IsPrimary": True}, at=start)
        for i, stage in enumerate(path[1:], start=1):
            sf.update("Opportunity", opp_id, {"StageName": stage}, at=start + timedelta(days=i))
        final: dict[str, Any] = {"StageName": outcome, "CloseDate": close_date}
        if reason and outcome == "Closed Lost":
            final["Loss_Reason__c"] = reason
        sf.update("Opportunity", opp_id, final, at=closed_at)
        return opp_id

    # ---------------------------------------------------------------- running
    def sync(self, *, now: datetime | None = None, dry_run: bool = False) -> RunResult:
        result = run(self.ctx, RunOptions(now=now or self.now, dry_run=dry_run))
        assert result.status in ("ok", "dry_run"), result.error
        return result

    # ---------------------------------------------------------------- looking
    def sf_contact(self, email: str) -> dict[str, Any]:
        cid = self.people[email].contact_id
        assert cid is not None
        record = self.box.salesforce.store.get("Contact", cid)
        assert record is not None
        return record

    def hs_props(self, email: str) -> dict[str, Any]:
        hid = self.people[email].hubspot_id
        assert hid is not None
        record = self.box.hubspot.store.get_contact(hid)
        assert record is not None
        return record["properties"]

    def campaigns_of(self, email: str) -> set[str]:
        sf = self.box.salesforce.store
        names = {c["Id"]: c["Name"] for c in sf.all("Campaign")}
        cid = self.people[email].contact_id
        return {names[m["CampaignId"]] for m in sf.all("CampaignMember") if m["ContactId"] == cid}

    def hubspot_lists_of(self, email: str) -> set[str]:
        hid = self.people[email].hubspot_id
        names = sorted({n for n in self.ctx.mapping.list_names("hubspot").values()})
        return {n for n in names if hid in self.box.hubspot.store.list_members(n)}

    def tasks_for(self, email: str) -> list[dict[str, Any]]:
        cid = self.people[email].contact_id
        return [t for t in self.box.salesforce.store.all("Task") if t["WhoId"] == cid]

    def emulator_writes(self) -> int:
        calls = {**self.box.salesforce.calls.snapshot(), **self.box.hubspot.calls.snapshot()}
        return sum(n for endpoint, n in calls.items() if endpoint in WRITE_ENDPOINTS)


@pytest.fixture
def world(empty_sandbox: Sandbox, tmp_path: Path) -> Iterator[World]:
    box = empty_sandbox
    now = datetime.now().astimezone().replace(microsecond=0)
    settings_path = box.write_settings(tmp_path / "settings.toml", state_url=f"sqlite:///{tmp_path}/state.db")
    ctx = open_context(load_settings(settings_path))
    sf = box.salesforce.store
    owner = sf.create("User", {"Username": "owner@example.com", "Email": "owner@example.com",
                               "FirstName": "Hanako", "LastName": "Sato", "Alias": "hsato", "IsActive": True},
                      at=now - timedelta(days=900))
    account = sf.create("Account", {"Name": "株式会社テスト", "NumberOfEmployees": 1500,
                                    "Industry": "Software", "OwnerId": owner}, at=now - timedelta(days=800))
    report = run_setup(ctx, create_missing=True)
    assert report.ok, report.to_dict()
    yield World(box, ctx, now, owner, account)
    ctx.close()
