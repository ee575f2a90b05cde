"""Hand-seeded source data for the bad-input tests: records put straight into the emulators' stores (as
an org's own users and imports would leave them), real syncs in-process, and a frozen snapshot of what
both systems and the state store hold afterwards.

Seeding follows tests/sync/run/conftest.py: a Contact on an Opportunity that walks its
stages (the emulator writes OpportunityHistory) and closes lost; a HubSpot contact with raw properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.hubspot.timefmt import to_ms
from sandbox.launcher import Sandbox
from sync.run.context import SyncContext, open_context
from sync.run.runner import RunOptions, RunResult, run
from sync.run.setup import run_setup
from sync.settings import load_settings
from sync.state.records import FailureRecord

OPEN_STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
               "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review"]


@dataclass
class Seeder:
    """Puts records into both emulators' stores (no API calls, no faults, no call counting)."""

    box: Sandbox
    now: datetime
    owner: str = ""
    account: str = ""

    def __post_init__(self) -> None:
        sf = self.box.salesforce.store
        self.owner = sf.create("User", {"Username": "owner@example.com", "Email": "owner@example.com",
                                        "FirstName": "Hanako", "LastName": "Sato", "Alias": "hsato",
                                        "IsActive": True}, at=self.now - timedelta(days=900))
        self.account = sf.create("Account", {"Name": "株式会社テスト 🏢", "NumberOfEmployees": 1500,
                                             "Industry": "Software", "OwnerId": self.owner},
                                 at=self.now - timedelta(days=800))

    def contact(self, email: str | None, *, first: str = "Taro", last: str = "Yamada") -> str:
        return self.box.salesforce.store.create(
            "Contact", {"FirstName": first, "LastName": last, "Email": email, "AccountId": self.account,
                        "OwnerId": self.owner}, at=self.now - timedelta(days=400))

    def lost_deal(self, contact_ids: list[str], *, last_open: str | None = "Negotiation/Review",
                  days_ago: int = 40, reason: str | None = "Price", amount: float | None = 1_200_000,
                  name: str = "Deal", close_date: date | None = None) -> str:
        """An Opportunity that walked the open stages up to `last_open` (None: created closed) and
        closed lost `days_ago` days before `now` (CloseDate `close_date` if given)."""
        sf = self.box.salesforce.store
        closed_at = self.now - timedelta(days=days_ago)
        path = OPEN_STAGES[: OPEN_STAGES.index(last_open) + 1] if last_open else []
        start = closed_at - timedelta(days=len(path) + 5)
        lost = {"StageName": "Closed Lost", "CloseDate": close_date or closed_at.date()}
        if reason is not None:
            lost["Loss_Reason__c"] = reason
        first = {"Name": name, "AccountId": self.account, "OwnerId": self.owner, "Amount": amount,
                 **({"StageName": path[0], "CloseDate": closed_at.date()} if path else lost)}
        opp = sf.create("Opportunity", first, at=start)
        for cid in contact_ids:
            sf.create("OpportunityContactRole", {"OpportunityId": opp, "ContactId": cid,
                                                 "Role": "Decision Maker", "IsPrimary": True}, at=start)
        for i, stage in enumerate(path[1:], start=1):
            sf.update("Opportunity", opp, {"StageName": stage}, at=start + timedelta(days=i))
        if path:
            sf.update("Opportunity", opp, lost, at=closed_at)
        return opp

    def hubspot(self, props: dict[str, str | None], *, days_ago: int = 300) -> str:
        return self.box.hubspot.store.create_contact(props, at=self.now - timedelta(days=days_ago))

    def hubspot_unchecked(self, props: dict[str, str], *, days_ago: int = 300) -> str:
        """A contact holding values its properties' current options refuse (a custom lifecycle stage,
        or an option removed after contacts got it). The emulator's schema is read-only for
        HubSpot-defined properties, so this inserts below the validation."""
        store = self.box.hubspot.store
        with store.lock:
            created = store.insert(dict(props), to_ms(self.now - timedelta(days=days_ago)), source="IMPORT")
        return str(created.id)


def open_world_context(box: Sandbox, folder: Path, mapping_text: str | None = None) -> SyncContext:
    """Settings (0600) for `box` with a state file in `folder`, optionally a custom mapping; `setup` done."""
    settings_path = box.write_settings(folder / "settings.toml", state_url=f"sqlite:///{folder}/state.db")
    if mapping_text is not None:
        (folder / "mapping.toml").write_text(mapping_text, encoding="utf-8")
        with settings_path.open("a", encoding="utf-8") as fh:
            fh.write('\n[sync]\nmapping_file = "mapping.toml"\n')
    ctx = open_context(load_settings(settings_path))
    report = run_setup(ctx, create_missing=True)
    assert report.ok, report.to_dict()
    return ctx


def sync_once(ctx: SyncContext, now: datetime) -> RunResult:
    return run(ctx, RunOptions(now=now))


@dataclass(frozen=True)
class Snapshot:
    """What both systems and the state store hold after the runs (copied: the servers are shared)."""

    results: tuple[RunResult, ...]
    failures: tuple[FailureRecord, ...]
    sf_contacts: dict[str, dict[str, Any]]
    hs_contacts: dict[str, dict[str, Any] | None]  # None: archived or merged away
    hs_lists: dict[str, frozenset[str]]
    campaigns: dict[str, frozenset[str]]  # campaign name -> contact ids
    tasks: tuple[dict[str, Any], ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def open_failures(self, record_id: str) -> list[FailureRecord]:
        return [f for f in self.failures if f.record_key == record_id and not f.resolved]


def snapshot(box: Sandbox, ctx: SyncContext, results: list[RunResult], hs_ids: list[str]) -> Snapshot:
    sf = box.salesforce.store
    hs = box.hubspot.store
    names = {c["Id"]: c["Name"] for c in sf.all("Campaign")}
    campaigns: dict[str, set[str]] = {n: set() for n in names.values()}
    for m in sf.all("CampaignMember"):
        campaigns[names[m["CampaignId"]]].add(m["ContactId"])
    lists = {n: frozenset(hs.list_members(n)) for n in set(ctx.mapping.list_names("hubspot").values())}
    return Snapshot(
        results=tuple(results),
        failures=tuple(ctx.store.list_failures(include_resolved=True)),
        sf_contacts={c["Id"]: dict(c) for c in sf.all("Contact")},
        hs_contacts={i: hs.get_contact(i) for i in hs_ids},
        hs_lists=lists,
        campaigns={k: frozenset(v) for k, v in campaigns.items()},
        tasks=tuple(dict(t) for t in sf.all("Task")),
    )
