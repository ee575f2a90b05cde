"""Eighteen months of a demo book's life: what happens to its people month by month, for `leadsync demo`.

The book (`demo_data.generate`) is drawn as of the timeline's start (`start_of(end)`, `months` months
before `end`); `plan(book, end)` then decides, from the book and its seed only (the same book, seed and
end always give the same timeline), what happens in each month after it:

- journeys: people with no deal (HubSpot lifecycle subscriber, lead or MQL) engage (email opens and
  clicks, a download, with their last-event dates), become MQLs (lifecyclestage), are called by sales
  (hs_lead_status ATTEMPTED_TO_CONTACT, then CONNECTED, or UNQUALIFIED: handed back), and some become
  SQLs with a Salesforce opportunity (lifecyclestage opportunity, hs_lead_status OPEN_DEAL) that walks
  its stages (the org writes OpportunityHistory) and is won (lifecyclestage customer), lost (Closed
  Lost / Lost - No Budget with a loss reason) or still open at the end;
- comebacks: people whose last deal was lost (in the book, at most a year before the start, or on a
  journey) engage again at least two months after the loss, and some open a new opportunity a month
  or two later, won, lost again, or still open at the end. This is the second pipeline leadsync's
  report measures; `Timeline.comebacks` says what it must find.

`run_at(k)` is the instant of the k-th sync (k = 0: the start, where everyone starts; k = months: `end`);
the events of month k fall strictly between runs k-1 and k. `apply_month(timeline, k, salesforce,
hubspot)` writes month k's events into the emulators through their store handles with `at=` timestamps
(the checked write path, as the API would: validation, OpportunityHistory rows), so a sync at
`run_at(k)` reads them as changes since the previous run.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sandbox.demo_data import DemoBook, DemoPerson
from sandbox.demo_pools import (
    CLOSED_WON,
    LOSS_REASONS,
    OPEN_STAGES,
    FastRandom,
    Weighted,
    lost_stage,
)
from sandbox.salesforce.values import parse_datetime

MONTHS = 18
EXCLUDED_REASONS = frozenset({"Duplicate", "Spam", "Invalid Contact"})  # default mapping: not recycled
_REASONS = Weighted.of((r, w) for r, w in LOSS_REASONS if r not in EXCLUDED_REASONS)
_AMOUNTS = ((300_000, 3_000_000), (1_000_000, 10_000_000), (3_000_000, 30_000_000), (10_000_000, 60_000_000))

Final = Literal["won", "lost", "open"]


def _month_shift(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole calendar months (the day kept, at most the 28th)."""
    total = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=total // 12, month=total % 12 + 1, day=min(moment.day, 28))


def start_of(end: datetime, months: int = MONTHS) -> datetime:
    """The instant the book is drawn at: the first run's, `months` months before `end`."""
    return _month_shift(end.astimezone(UTC).replace(microsecond=0), -months)


@dataclass(frozen=True)
class Event:
    """One change in a system. kind: "hubspot" (contact properties), "open" (a new opportunity with
    the person as primary contact role), "stage" (an opportunity moves; closing fields included)."""

    at: datetime
    kind: Literal["hubspot", "open", "stage"]
    email: str
    values: dict[str, Any]
    deal: str | None = None  # the timeline's key of the opportunity ("open" / "stage")


@dataclass(frozen=True)
class Deal:
    """A deal the timeline opens: what leadsync should find of it at the end."""

    key: str
    email: str
    amount: int
    opened_month: int
    final: Final  # its state at the end of the timeline
    closed_month: int | None


@dataclass(frozen=True)
class Comeback:
    """A recycled person's new deal after their loss (the second pipeline)."""

    email: str
    lost_month: int  # 0: lost in the book (before the start)
    reengaged_month: int
    deal: Deal


@dataclass
class Timeline:
    start: datetime
    end: datetime
    months: int
    events: list[list[Event]]  # events[k]: month k's events, in time order (events[0] is empty)
    journeys: list[str] = field(default_factory=list)  # emails of people on a journey
    deals: list[Deal] = field(default_factory=list)  # every deal the timeline opens
    comebacks: list[Comeback] = field(default_factory=list)

    def run_at(self, k: int) -> datetime:
        return self.end if k >= self.months else _month_shift(self.start, k)


@dataclass
class _Candidate:
    person: DemoPerson
    email: str
    lifecycle: str
    employees: int
    lost_on: datetime | None  # the book's last lost deal (None: no deal)


def plan(book: DemoBook, end: datetime, months: int = MONTHS) -> Timeline:
    """The timeline of `book` (drawn at `start_of(end, months)`) up to `end`."""
    end = end.astimezone(UTC).replace(microsecond=0)
    start = start_of(end, months)
    if book.now != start:
        raise ValueError(f"the book must be drawn at the timeline's start {start.isoformat()}, "
                         f"not {book.now.isoformat()}")
    t = Timeline(start, end, months, [[] for _ in range(months + 1)])
    planner = _Planner(t, FastRandom(f"leadsync-demo-timeline:{book.seed}"))
    for cand in _candidates(book):
        planner.person(cand)
    for month in t.events:
        month.sort(key=lambda e: e.at)
    return t


def _candidates(book: DemoBook) -> list[_Candidate]:
    """People in both systems with an email, neither archived nor merged in HubSpot, whose deals (as a
    contact role) are all lost (the last at most a year before the start, for a reason the default
    mapping recycles), or none (then not yet connected with sales: lead status empty, NEW, OPEN or
    ATTEMPTED_TO_CONTACT)."""
    out = []
    for account in book.accounts():
        if not account.company.in_salesforce:
            continue
        deals: dict[str, list[Any]] = {}
        for opp in account.opportunities:
            for role in opp.contact_roles:
                deals.setdefault(role.person_key, []).append(opp)
        for p in account.people:
            hs = p.hubspot
            if (hs is None or not p.in_salesforce or not p.salesforce_email or hs.archived_at is not None
                    or hs.duplicate_email is not None):
                continue
            mine = deals.get(p.key, [])
            lost_on = None
            if mine:
                if any(o.outcome != "lost" for o in mine):
                    continue
                last = max(mine, key=lambda o: o.path[-1].at)
                if any(o.created_at > last.path[-1].at for o in mine) or last.loss_reason in EXCLUDED_REASONS:
                    continue
                lost_on = last.path[-1].at
                if (book.now - lost_on).days > 365:
                    continue
            elif (hs.lifecyclestage not in ("subscriber", "lead", "marketingqualifiedlead")
                  or hs.lead_status not in (None, "NEW", "OPEN", "ATTEMPTED_TO_CONTACT")):
                continue  # a journey starts before sales has called them
            out.append(_Candidate(p, hs.email, hs.lifecyclestage, account.company.employees, lost_on))
    return out


class _Planner:
    def __init__(self, t: Timeline, rng: FastRandom):
        self.t, self.rng = t, rng
        self.n_deals = 0

    def when(self, k: int, lo: float = 0.1, hi: float = 0.9) -> datetime:
        """An instant in month k (between runs k-1 and k), whole seconds."""
        a, b = self.t.run_at(k - 1), self.t.run_at(k)
        return a + timedelta(seconds=int((b - a).total_seconds() * (lo + (hi - lo) * self.rng.random())))

    def add(self, k: int, kind: Any, email: str, values: dict[str, Any], *, deal: str | None = None,
            lo: float = 0.1, hi: float = 0.9) -> datetime:
        at = self.when(k, lo, hi)
        self.t.events[k].append(Event(at, kind, email, values, deal))
        return at

    def engage(self, k: int, email: str, *, click: bool, download: bool) -> None:
        """Opens (and a click, a download) in month k, with their last-event dates."""
        at = self.when(k)
        ms = str(int(at.timestamp() * 1000))
        r = self.rng.randint
        values: dict[str, Any] = {"hs_email_open": ("+", r(2, 6)), "hs_email_last_open_date": ms,
                                  "hs_email_delivered": ("+", r(3, 8)),
                                  "hs_analytics_num_page_views": ("+", r(2, 9)),
                                  "hs_analytics_last_visit_timestamp": ms}
        if click:
            values |= {"hs_email_click": ("+", r(1, 3)), "hs_email_last_click_date": ms}
        if download:
            values |= {"num_conversion_events": ("+", 1), "recent_conversion_date": ms}
        self.t.events[k].append(Event(at, "hubspot", email, values))

    def person(self, c: _Candidate) -> None:
        rng, months = self.rng, self.t.months
        if c.lost_on is not None:
            if rng.random() < 0.6:
                self.comeback(c.email, c.employees, 0, first=1)
            return
        if rng.random() >= 0.85:
            return
        self.t.journeys.append(c.email)
        k = rng.randint(1, months - 4)
        self.engage(k, c.email, click=True, download=rng.random() < 0.7)
        if c.lifecycle != "marketingqualifiedlead":
            self.add(k, "hubspot", c.email, {"lifecyclestage": "marketingqualifiedlead"}, lo=0.9, hi=0.95)
        if rng.random() >= 0.75:
            return
        k += rng.randint(1, 2)
        self.add(k, "hubspot", c.email, {"hs_lead_status": "ATTEMPTED_TO_CONTACT"})
        k += 1
        if k > months:
            return
        if rng.random() < 0.2:
            self.add(k, "hubspot", c.email, {"hs_lead_status": "UNQUALIFIED"})  # handed back to marketing
            return
        self.add(k, "hubspot", c.email, {"hs_lead_status": "CONNECTED"})
        if rng.random() >= 0.8:
            return
        k += rng.randint(1, 2)
        if k > months:
            return
        deal = self.deal(c.email, c.employees, k, won=0.35, lost=0.5)
        if deal.final == "lost" and deal.closed_month is not None and rng.random() < 0.5:
            self.comeback(c.email, c.employees, deal.closed_month, first=deal.closed_month + 2)

    def comeback(self, email: str, employees: int, lost_month: int, *, first: int) -> None:
        """Engage again from month `first` on (a click and a download: a low-phase loss is promoted);
        then, for some, a new deal a month or two later."""
        rng, months = self.rng, self.t.months
        k = first + rng.randint(0, 4)
        if k > months - 1:
            return
        self.engage(k, email, click=True, download=True)
        if rng.random() >= 0.65:
            return
        opened = k + rng.randint(1, 2)
        if opened > months - 1:
            return
        deal = self.deal(email, employees, opened, won=0.55, lost=0.3)
        self.t.comebacks.append(Comeback(email, lost_month, k, deal))

    def deal(self, email: str, employees: int, k: int, *, won: float, lost: float) -> Deal:
        """A new opportunity opened in month k (the person its primary contact), walked through its
        stages month by month to its outcome (open when that falls after the end)."""
        rng, months = self.rng, self.t.months
        self.n_deals += 1
        key = f"T{self.n_deals}"
        band = 0 if employees <= 50 else 1 if employees <= 200 else 2 if employees <= 1000 else 3
        amount = rng.randint(*_AMOUNTS[band]) // 10_000 * 10_000
        draw = rng.random()
        outcome: Final = "won" if draw < won else "lost" if draw < won + lost else "open"
        close_month = k + rng.randint(1, 4)
        last_stage = len(OPEN_STAGES) - 1 if outcome == "won" else rng.randint(0, len(OPEN_STAGES) - 1)
        self.add(k, "open", email, {"Amount": amount, "StageName": OPEN_STAGES[0],
                                     "CloseDate": (self.when(k) + timedelta(days=90)).date()},
                 deal=key, lo=0.3, hi=0.5)
        self.add(k, "hubspot", email, {"lifecyclestage": "opportunity", "hs_lead_status": "OPEN_DEAL"},
                 lo=0.5, hi=0.55)
        # the stages walked: spread over the months until closing (or the end)
        walked = list(range(1, last_stage + 1))
        steps_end = min(close_month, months)
        for i, stage in enumerate(walked):
            m = k + (i * (steps_end - k + 1)) // max(1, len(walked))
            lo, hi = (0.6, 0.75) if m == k else (0.1, 0.5)
            if m <= months and (m < close_month or outcome == "open"):
                self.add(m, "stage", email, {"StageName": OPEN_STAGES[stage]}, deal=key, lo=lo, hi=hi)
        final: Final = outcome
        closed: int | None = None
        if outcome == "open" or close_month > months:
            final = "open"
        else:
            closed = close_month
            at = self.when(close_month, 0.6, 0.9)
            if outcome == "won":
                self.t.events[close_month].append(Event(at, "stage", email, {
                    "StageName": CLOSED_WON, "CloseDate": at.date()}, key))
                self.t.events[close_month].append(Event(at + timedelta(hours=2), "hubspot", email, {
                    "lifecyclestage": "customer", "hs_lead_status": "CONNECTED"}))
            else:
                reason = rng.weighted(_REASONS)
                self.t.events[close_month].append(Event(at, "stage", email, {
                    "StageName": lost_stage(reason), "CloseDate": at.date(), "Loss_Reason__c": reason}, key))
                self.t.events[close_month].append(Event(at + timedelta(hours=2), "hubspot", email, {
                    "hs_lead_status": rng.choice(("BAD_TIMING", "UNQUALIFIED"))}))
        d = Deal(key, email, amount, k, final, closed)
        self.t.deals.append(d)
        return d


class _Ids:
    """The emulator records of the timeline's people: HubSpot contact id, Salesforce Contact, Account
    and owner, and the opportunities the timeline opened (its keys)."""

    def __init__(self, salesforce: Any) -> None:
        self.contacts: dict[str, tuple[str, str, str]] = {}
        for c in salesforce.store.all("Contact"):
            if c.get("Email"):
                self.contacts[c["Email"].lower()] = (c["Id"], c["AccountId"], c["OwnerId"])
        self.deals: dict[str, str] = {}


def apply_month(t: Timeline, k: int, salesforce: Any, hubspot: Any, ids: _Ids | None = None) -> _Ids:
    """Write month k's events into the emulators (their store handles, checked writes with `at=`).
    Returns the id map to pass to the next month's call (built on the first)."""
    ids = ids or _Ids(salesforce)
    sf, hs = salesforce.store, hubspot.store
    for e in t.events[k]:
        if e.kind == "hubspot":
            contact = hs.find_by_email(e.email)
            current = hs.get_contact(str(contact.id))["properties"]
            props = {}
            for name, value in e.values.items():
                if isinstance(value, tuple):  # ("+", n): a counter grows by n
                    value = str(int(current.get(name) or 0) + value[1])
                props[name] = value
            hs.update_contact(str(contact.id), props, at=e.at)
        elif e.kind == "open":
            contact_id, account_id, owner = ids.contacts[e.email]
            name = f"{e.email.split('@')[1]} - {e.deal}"
            opp = sf.create("Opportunity", {"Name": name, "AccountId": account_id, "OwnerId": owner,
                                            **e.values}, at=e.at)
            sf.create("OpportunityContactRole", {"OpportunityId": opp, "ContactId": contact_id,
                                                 "Role": "Decision Maker", "IsPrimary": True}, at=e.at)
            ids.deals[str(e.deal)] = opp
        else:
            sf.update("Opportunity", ids.deals[str(e.deal)], dict(e.values), at=e.at)
    _work_call_tasks(t, k, sf)
    return ids


def _work_call_tasks(t: Timeline, k: int, sf: Any) -> None:
    """Sales works the call tasks leadsync created before month k: three in four are completed some days
    after they were created (inside month k at the latest), the rest stay open; the same tasks for the
    same keys on every replay (the choice and the delay come from the cycle key)."""
    before, until = t.run_at(k - 1), t.run_at(k)
    for task in sf.all("Task"):
        key = task.get("Leadsync_Cycle_Key__c")
        if not key or task["IsClosed"]:
            continue
        created = parse_datetime(task["CreatedDate"])
        h = zlib.crc32(key.encode())
        if created > before or h % 4 == 3:
            continue
        when = min(created + timedelta(days=2 + h % 12), until - timedelta(minutes=1))
        sf.update("Task", task["Id"], {"Status": "Completed"}, at=max(when, before + timedelta(minutes=1)))
