"""The demo book: a believable, seeded B2B data set for the sandbox emulators.

`generate(people=200, seed=1, now=...)` returns a `DemoBook`. Its users are built at once; its accounts
(a company with its people and opportunities) are produced lazily by `book.accounts()`, so a book of a
million people streams in constant memory. The same (people, seed, now) always yields the same book.

What is in it (rates are approximate; every listed case appears at least once from about 60 people on):
- companies in four NumberOfEmployees bands (1-50, 51-200, 201-1000, 1000+) across industries, about
  60 % Japanese (kanji names, romanized email domains) and 40 % English-speaking;
- Salesforce Users who own accounts, contacts and opportunities;
- people: about 73 % in both systems, 11 % Salesforce-only (a third of them without an email), 16 %
  HubSpot-only; about 10 % of the shared people have an email whose letter case differs between
  Salesforce and HubSpot; some opted out in HubSpot and/or Salesforce; a few HubSpot contacts archived
  and a few merged (a second record of the same person merged into the primary);
- opportunities: about 60 % lost at every open stage (stage path through OpportunityHistory, then
  "Closed Lost" with a Loss_Reason__c, or the custom closed-lost stage "Lost - No Budget" for budget
  losses, 5 days to 3 years ago), 15 % won, 25 % still open; contact roles
  with the primary first;
- HubSpot engagement: about 60 % cold, 28 % warm, 12 % hot (email opens/clicks/deliveries, page views,
  form conversions with their last dates); about a third of the people with a lost deal engage after
  the loss; lifecyclestage, hs_lead_status, numemployees and inquiry_type.
Campaigns are deliberately absent: leadsync creates them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

Outcome = Literal["lost", "won", "open"]
Temperature = Literal["cold", "warm", "hot"]


@dataclass(frozen=True)
class DemoUser:
    """A Salesforce User (owner of accounts, contacts and opportunities)."""

    key: str
    first_name: str
    last_name: str
    username: str
    email: str
    alias: str
    active: bool = True  # False: a rep who left (IsActive = false); still owns old opportunities


@dataclass(frozen=True)
class DemoCompany:
    key: str
    name: str
    industry: str
    employees: int
    country: str
    domain: str
    japanese: bool
    owner_key: str
    in_salesforce: bool  # False: only HubSpot knows these people (newsletter sign-ups, events)
    created_at: datetime


@dataclass(frozen=True)
class StageStep:
    """One OpportunityHistory row: the opportunity entered `stage` at `at`."""

    stage: str
    at: datetime


@dataclass(frozen=True)
class ContactRole:
    person_key: str
    role: str
    is_primary: bool


@dataclass(frozen=True)
class DemoOpportunity:
    key: str
    company_key: str
    name: str
    owner_key: str
    amount: int
    outcome: Outcome
    path: tuple[StageStep, ...]  # first = creation; for closed deals the last step is the closing one
    close_date: date  # the final CloseDate (loss/win date, or the expected date of an open deal)
    loss_reason: str | None
    contact_roles: tuple[ContactRole, ...]  # the primary first

    @property
    def created_at(self) -> datetime:
        return self.path[0].at

    @property
    def closed_at(self) -> datetime | None:
        return self.path[-1].at if self.outcome != "open" else None

    @property
    def lost_at_stage(self) -> str | None:
        """The stage the deal was in when it was lost (the step before its closed-lost stage)."""
        return self.path[-2].stage if self.outcome == "lost" else None


@dataclass(frozen=True)
class DemoEngagement:
    temperature: Temperature
    delivered: int
    opens: int
    clicks: int
    page_views: int
    conversions: int
    last_open: datetime | None
    last_click: datetime | None
    last_visit: datetime | None
    last_conversion: datetime | None

    @property
    def last_activity(self) -> datetime | None:
        dates = [d for d in (self.last_open, self.last_click, self.last_visit, self.last_conversion) if d]
        return max(dates) if dates else None


@dataclass(frozen=True)
class DemoHubSpotContact:
    """A person's HubSpot contact. HubSpot stores the email in lower case."""

    email: str
    created_at: datetime
    lifecyclestage: str
    lead_status: str | None
    inquiry_type: str | None
    engagement: DemoEngagement
    opted_out: bool
    archived_at: datetime | None = None  # archived (deleted) in HubSpot at this time
    duplicate_email: str | None = None  # a second contact with this email was merged into this one
    duplicate_created_at: datetime | None = None
    merged_at: datetime | None = None


@dataclass(frozen=True)
class DemoPerson:
    key: str
    company_key: str
    first_name: str
    last_name: str
    japanese: bool
    title: str
    email: str | None  # canonical (lower case); None: nobody has an email for this person
    salesforce_email: str | None  # as stored on the Salesforce Contact (letter case may differ)
    in_salesforce: bool
    sf_opted_out: bool
    created_at: datetime  # when the Salesforce Contact was created (or the HubSpot one, if HubSpot-only)
    hubspot: DemoHubSpotContact | None

    @property
    def in_hubspot(self) -> bool:
        return self.hubspot is not None


@dataclass(frozen=True)
class DemoAccount:
    """A company with its people and opportunities: the unit the generator streams."""

    company: DemoCompany
    people: tuple[DemoPerson, ...]
    opportunities: tuple[DemoOpportunity, ...]


@dataclass(frozen=True)
class DemoBook:
    people: int
    seed: int
    now: datetime
    users: tuple[DemoUser, ...]

    def accounts(self) -> Iterator[DemoAccount]:
        """Stream the accounts (deterministic; each call starts again from the first account)."""
        from sandbox.demo_generator import iter_accounts

        return iter_accounts(self)

    def __iter__(self) -> Iterator[DemoAccount]:
        return self.accounts()


def generate(people: int = 200, seed: int = 1, now: datetime | None = None) -> DemoBook:
    """A demo book of `people` people (HubSpot-only ones included), ages relative to `now` (UTC)."""
    from sandbox.demo_generator import make_users

    if people < 0:
        raise ValueError(f"people must be >= 0, got {people}")
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return DemoBook(people=people, seed=seed, now=now, users=make_users(people, seed))
