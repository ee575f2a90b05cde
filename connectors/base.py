"""Canonical records and the small Protocols every connector satisfies.

Another SFA or MA platform later is one more module that yields these records and accepts these
writes. Nothing here does I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from threading import Lock
from typing import Literal, Protocol, runtime_checkable

System = Literal["salesforce", "hubspot"]
DealState = Literal["lost", "won", "open"]
LostDateSource = Literal["history", "close_date"]
Scalar = str | int | float | bool | None
ValueKind = Literal["enumeration", "number", "date", "text", "long_text"]


# --------------------------------------------------------------------------- records read


@dataclass(frozen=True, slots=True)
class DealContact:
    """A person on a deal (Salesforce OpportunityContactRole -> Contact)."""

    contact_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    opted_out: bool
    is_primary: bool
    role: str | None = None


@dataclass(frozen=True, slots=True)
class LostDeal:
    """An opportunity as leadsync sees it. Incremental reads also yield deals that are no longer
    lost (won, re-opened) or were deleted, so that their people can leave the recycle groups."""

    opportunity_id: str
    name: str
    state: DealState
    stage_name: str  # current StageName
    stage_at_loss: str | None  # last open stage before it closed (OpportunityHistory); None if unknown
    loss_reason: str | None
    lost_date: date | None  # when state == "lost": the day it entered a closed-lost stage (see below)
    amount: float | None
    owner_id: str | None
    account_id: str | None
    account_name: str | None
    account_employees: int | None
    account_industry: str | None
    contacts: tuple[DealContact, ...]
    modified_at: datetime  # SystemModstamp, timezone-aware UTC
    is_deleted: bool = False
    # where lost_date came from: "history" = UTC date of the first OpportunityHistory row of the final
    # run of closed-lost rows; "close_date" = CloseDate, the fallback when there is no such history.
    # None for deals that are not lost (and in snapshots written before leadsync knew the difference).
    lost_date_source: LostDateSource | None = None
    close_date: date | None = None  # Opportunity.CloseDate as read (a forecast; kept for the record)
    created_at: datetime | None = None  # Opportunity.CreatedDate: when the deal was opened


# The MA platform's contact properties holding a person's family and given name (HubSpot's): read with
# every contact whatever the caller asks for (connectors.hubspot.read.NAME_PROPERTIES), kept in the
# contact snapshots and searched by the console (sync.state.person_names); no input of the rules unless
# the mapping reads them (sync.run.identity.to_person_facts).
MA_NAME_PROPERTIES: tuple[str, str] = ("lastname", "firstname")


@dataclass(frozen=True, slots=True)
class ContactRef:
    """A contact in the MA platform (HubSpot) with its raw property values (strings or None)."""

    contact_id: str
    email: str | None
    properties: Mapping[str, str | None]
    modified_at: datetime | None
    archived: bool = False
    merged_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskState:
    """A call task leadsync created, as the SFA holds it now (read back by later runs): its status,
    whether that status closes it, and when it was closed. Incremental reads also yield deleted tasks
    (`is_deleted`), which are no longer open nor completed."""

    cycle_key: str
    task_id: str
    status: str | None
    is_closed: bool
    closed_at: datetime | None  # when it was closed (timezone-aware UTC); None while open
    modified_at: datetime  # SystemModstamp, timezone-aware UTC
    is_deleted: bool = False


# --------------------------------------------------------------------------- writes


@dataclass(frozen=True, slots=True)
class FieldUpdate:
    """Set some fields of one record. `values` holds only the fields that change."""

    object_type: str  # Salesforce sObject ("Contact") or HubSpot object type ("contacts")
    record_id: str
    values: Mapping[str, Scalar]


@dataclass(frozen=True, slots=True)
class ListChange:
    """Add a record to, or remove it from, a named list (HubSpot list / Salesforce campaign)."""

    list_name: str
    record_id: str
    op: Literal["add", "remove"]


@dataclass(frozen=True, slots=True)
class CallTask:
    """A call task for the deal owner. `cycle_key` is unique per person per recycle cycle: a sink
    must never create a second task with the same key (idempotent across crashes)."""

    cycle_key: str
    contact_id: str
    owner_id: str | None
    subject: str
    description: str
    due_date: date
    what_id: str | None = None  # the lost opportunity


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of one record of a batch write. One bad record never aborts the batch."""

    record_id: str
    ok: bool
    error_code: str | None = None
    message: str | None = None
    retryable: bool = False
    created_id: str | None = None  # id of a record the write created (Task, CampaignMember)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A field leadsync writes, described in no system's vocabulary: what its values are. Each
    connector turns the `kind` into its own field type (HubSpot: property type and fieldType)."""

    name: str
    label: str
    kind: ValueKind
    options: tuple[str, ...] | None = None  # enumerations: every value leadsync may write


@dataclass(frozen=True, slots=True)
class Allowance:
    """A system's daily API allowance as it last reported it, in one meaning for every system (the
    connectors' own `budget()` tuples differ: Salesforce (used, max), HubSpot (remaining, max))."""

    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True, slots=True)
class OwnerOutlook:
    """What the SFA connector would do with the call tasks of recently lost deals whose owner can no
    longer own a task (an inactive user), under its own setting for that case."""

    deals: int  # lost deals looked at
    inactive: int  # of them, owned by an inactive user
    reassigned: int  # ...whose task would go to another, active owner
    unplaceable: int  # ...whose task would be a per-record failure


@dataclass(frozen=True, slots=True)
class BatchSizes:
    """Records per write call, as a connector sends them (the writer fills batches to these sizes and
    the dry-run estimates divide by them)."""

    fields: int
    list_members: int
    tasks: int


# --------------------------------------------------------------------------- errors


class ConnectorError(Exception):
    """Base of every error a connector raises. Messages never contain secrets."""


class RetriableAPIError(ConnectorError):
    """Transient: worth retrying (429 with a window, 5xx, timeouts, dropped connections)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FatalAPIError(ConnectorError):
    """Permanent for this request (400/403/404...): retrying cannot help."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class AuthenticationError(FatalAPIError):
    """Credentials refused, or the session expired again after one re-login."""


class BudgetExhausted(ConnectorError):
    """The daily API allowance (minus the configured reserve) is spent: stop the run cleanly."""


class ConfigurationError(ConnectorError):
    """The target system does not match the configuration (missing field, bad picklist value...)."""


# --------------------------------------------------------------------------- call accounting


@dataclass
class CallCounter:
    """API calls made, per system and endpoint. Thread-safe; shared by a run's connectors."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    _lock: Lock = field(default_factory=Lock, repr=False)

    def add(self, system: str, endpoint: str, n: int = 1) -> None:
        with self._lock:
            self.counts[(system, endpoint)] += n

    def total(self, system: str | None = None) -> int:
        with self._lock:
            return sum(v for (s, _), v in self.counts.items() if system is None or s == system)

    def by_system(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for (s, e), v in sorted(self.counts.items()):
                out.setdefault(s, {})[e] = v
        return out


# --------------------------------------------------------------------------- protocols
#
# The small roles first, then what `sync` asks of each system: `SalesSystem` (the SFA) and
# `MarketingSystem` (the MA platform). `sync` types its connectors with these two and builds them
# through `connectors.factory`; another SFA or MA platform is one more module satisfying one of them.
# A connector reads from exactly the `since` it is given; `lookback` (from its settings) is what the
# runner subtracts from a watermark for an incremental read (sync.run.streams).


class DealSource(Protocol):
    """An SFA that yields deals (and the people on them) changed in a time window. `contact_fields`
    (optional; callers that omit it lose nothing): contact fields whose current values the source may
    read along with the people, so that `SalesSystem.read_current` need not ask again for them."""

    system: System

    def iter_deals(
        self, since: datetime | None, until: datetime | None = None, *, lost_only: bool = False,
        contact_fields: Sequence[str] = (),
    ) -> Iterator[LostDeal]: ...


class ContactSource(Protocol):
    """An MA platform that yields contacts with engagement properties."""

    system: System

    def iter_contacts(
        self, since: datetime | None, properties: Sequence[str], until: datetime | None = None
    ) -> Iterator[ContactRef]: ...

    def read_by_email(self, emails: Sequence[str], properties: Sequence[str]) -> Iterator[ContactRef]: ...
    # both read `properties` and what the connector always needs, the name (MA_NAME_PROPERTIES) included


class RecordSink(Protocol):
    """A system leadsync writes assignments into, in batches of `write_sizes` records per call."""

    system: System
    write_sizes: BatchSizes

    def update_fields(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]: ...

    def change_lists(self, changes: Sequence[ListChange]) -> list[WriteResult]: ...


class TaskSink(Protocol):
    """A system that receives call tasks for the high recycle group (the SFA)."""

    def create_tasks(self, tasks: Sequence[CallTask]) -> list[WriteResult]: ...


@runtime_checkable
class SalesSystem(DealSource, RecordSink, TaskSink, Protocol):
    """The SFA: deals, the contacts leadsync manages there, field and list (campaign) writes, tasks."""

    lookback: timedelta

    def connect(self) -> None:
        """Log in (no other call before this one)."""
        ...

    def account_id(self) -> str:
        """The id of the account (org) this connector reads and writes, stable for the account's life
        and different for every other account (one cheap read, then remembered)."""
        ...

    def iter_managed_contacts(self, fields: Sequence[str], watch: Sequence[str],
                              since: datetime | None) -> Iterator[ContactRef]:
        """Contacts where any `watch` field is set, changed at or after `since`, with `fields`' values
        as text in `properties`."""
        ...

    def read_current(self, ids: Sequence[str], fields: Sequence[str]) -> dict[str, dict[str, Scalar]]:
        """Contact id -> field -> current value, for the contacts `ids` that exist."""
        ...

    def check_fields(self, expected: Mapping[str, Mapping[str, Collection[str] | None]]) -> list[str]:
        """Problems with object -> field -> values leadsync may write (missing, read-only, a value the
        picklist lacks); an admin creates SFA fields, so this only checks."""
        ...

    def prepare_lists(self, names: Sequence[str]) -> dict[str, str]:
        """Before the first list write of a run: find the lists (campaigns) named `names` and create
        every missing one in as few calls as the API allows. Name -> id of those that exist."""
        ...

    def check_read_fields(self) -> list[str]:
        """Problems with the fields the connector reads that its settings name (not the mapped ones):
        each missing field is a problem, since a deal read that names it fails. Reads only."""
        ...

    def task_owner_outlook(self, lost_since: datetime) -> OwnerOutlook:
        """For the deals lost (last changed) at or after `lost_since`: how many are owned by inactive
        users and what the connector would do with their call tasks. Reads only."""
        ...

    def daily_allowance(self) -> Allowance | None:
        """The daily API allowance as last reported (None before any call)."""
        ...

    def iter_task_states(self, since: datetime | None, until: datetime | None = None) -> Iterator[TaskState]:
        """The call tasks leadsync created (those with a cycle key; never another task) changed at or
        after `since` (and before `until`), deleted ones included, oldest change first, page by page."""
        ...


@runtime_checkable
class MarketingSystem(ContactSource, RecordSink, Protocol):
    """The MA platform: contacts (changed, archived, by email), the fields and lists leadsync needs
    there (created by `leadsync setup`), field and list writes."""

    lookback: timedelta

    def connect(self) -> None:
        """One cheap authenticated call: a refused credential or an unreachable host is known before
        anything is read from either system."""
        ...

    def account_id(self) -> str:
        """The id of the account (portal) this connector reads and writes, stable for the account's
        life and different for every other account (one cheap read, then remembered)."""
        ...

    def iter_archived(self, since: datetime | None) -> Iterator[ContactRef]:
        """Contacts archived (deleted) at or after `since`, `archived=True` on each."""
        ...

    def ensure_properties(self, definitions: Sequence[FieldSpec], *, create_missing: bool) -> list[str]:
        """Problems left with the fields leadsync writes; with `create_missing`, creates them first."""
        ...

    def ensure_lists(self, names: Sequence[str], *, create_missing: bool) -> dict[str, str]:
        """List name -> id of the lists that exist (created when missing and `create_missing`)."""
        ...

    def confirm_lists(self, names: Sequence[str]) -> dict[str, str]:
        """Name -> id of the lists that exist, checked against the system before planning (ids it no
        longer knows are reported gone and the names looked up again). Reads only."""
        ...

    def remember_list_ids(self, known: Mapping[str, str],
                          on_change: Callable[[str, str | None], None]) -> None:
        """Address the lists in `known` (name -> id, kept from earlier runs) by id without a lookup;
        report each id found, created or refused as gone (None) later to `on_change`."""
        ...

    def daily_allowance(self) -> Allowance | None:
        """The daily API allowance as last reported (None before any answer that carries it)."""
        ...
