"""Reading deals (Opportunities with stage history, account and people) and contacts from Salesforce.

Deals are read page by page; for each page the related rows (OpportunityHistory, OpportunityContactRole
-> Contact) come from batched IN queries of at most `MAX_IN_IDS` ids, never one query per deal. Every
query is built with `format_soql` (values quoted and escaped); field names are checked against an
identifier pattern because they cannot be quoted.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from simple_salesforce import format_soql

from connectors.base import (
    ConfigurationError,
    DealContact,
    DealState,
    FatalAPIError,
    LostDateSource,
    LostDeal,
)
from connectors.salesforce.bulk import BulkOptions
from connectors.salesforce.bulk import query_pages as bulk_query_pages
from connectors.salesforce.client import SalesforceClient

log = logging.getLogger(__name__)

MAX_IN_IDS = 500  # ids per IN list: 500 ids make a ~13.7 KB GET URL, under Salesforce's 16 KB limit
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")
_DEFAULT_CLOSED = {"Closed Won": True, "Closed Lost": False}  # name -> is won


def field_name(name: str) -> str:
    """`name` if it is a (relationship) field name, else ConfigurationError: names cannot be escaped."""
    if not _FIELD.match(name):
        raise ConfigurationError(f"not a Salesforce field name: {name!r}")
    return name


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def deal_soql(
    loss_reason_field: str,
    since: datetime | None,
    until: datetime | None,
    *,
    lost_only: bool,
    ordered: bool = True,
) -> str:
    fields = [
        "Id",
        "Name",
        "StageName",
        "IsClosed",
        "IsWon",
        "IsDeleted",
        field_name(loss_reason_field),
        "CloseDate",
        "Amount",
        "OwnerId",
        "AccountId",
        "Account.Name",
        "Account.NumberOfEmployees",
        "Account.Industry",
        "SystemModstamp",
    ]
    where: list[str] = []
    if since is not None:
        where.append(format_soql("SystemModstamp >= {}", since))
    if until is not None:
        where.append(format_soql("SystemModstamp < {}", until))
    if lost_only:
        where.append("IsClosed = true AND IsWon = false")
    soql = f"SELECT {', '.join(dict.fromkeys(fields))} FROM Opportunity"
    if where:
        soql += " WHERE " + " AND ".join(where)
    return soql + (" ORDER BY SystemModstamp, Id" if ordered else "")


# --------------------------------------------------------------------------- value parsing


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def _date(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def parse_datetime(value: Any) -> datetime:
    """Salesforce "2024-01-02T03:04:05.000+0000" (or ...Z) -> aware UTC datetime."""
    text = str(value).replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _nest(row: Mapping[str, Any]) -> dict[str, Any]:
    """Bulk CSV rows name parent fields "Account.Name": nest them like REST ("Account": {"Name": ...});
    a parent whose fields are all empty becomes None."""
    out: dict[str, Any] = {}
    parents: dict[str, dict[str, Any]] = defaultdict(dict)
    for key, value in row.items():
        parent, dot, child = key.partition(".")
        if dot:
            parents[parent][child] = value
        else:
            out[key] = value
    for parent, values in parents.items():
        out[parent] = values if any(v not in (None, "") for v in values.values()) else None
    return out


def _state(row: Mapping[str, Any]) -> DealState:
    if _bool(row.get("IsWon")):
        return "won"
    return "lost" if _bool(row.get("IsClosed")) else "open"


# --------------------------------------------------------------------------- stage at loss, lost date


def stage_at_loss(history: Sequence[Mapping[str, Any]], closed: Mapping[str, bool]) -> str | None:
    """The last open stage before the (latest) move into a closed-lost stage. `history` rows are ordered
    by CreatedDate; `closed` maps closed stage names to IsWon. None without history."""
    last_open: str | None = None
    at_loss: str | None = None
    for row in history:
        stage = row.get("StageName")
        if stage is None:
            continue
        if stage in closed:
            if not closed[stage] and last_open is not None:
                at_loss = last_open
        else:
            last_open = stage
    return at_loss if at_loss is not None else last_open


def loss_entered(history: Sequence[Mapping[str, Any]], closed: Mapping[str, bool]) -> datetime | None:
    """When the deal entered closed-lost for the last time: CreatedDate of the first row of the final
    run of closed-lost rows, after the last row in any other stage. None when there is no such move:
    no history, history that does not end closed-lost, or a deal created closed-lost (imported or
    entered after the fact: its first row's CreatedDate is the day of the import, not of the loss).

    OpportunityHistory gets a row on any change of Amount, Probability, StageName or CloseDate and has
    no previous-stage field, so a CloseDate edit after the loss adds a closed-lost row that is not an
    entry; moving between two closed-lost stages is not a new loss either. A deal reopened and lost
    again has a later run: that one counts."""
    entered: datetime | None = None
    moved = False  # a row in another stage came before the current closed-lost run
    for row in history:
        stage = row.get("StageName")
        if stage is None:
            continue
        if stage in closed and not closed[stage]:
            if entered is None and moved and row.get("CreatedDate"):
                entered = parse_datetime(row["CreatedDate"])
        else:
            entered, moved = None, True
    return entered


# --------------------------------------------------------------------------- reader


class DealReader:
    """Reads deals page by page with their related rows."""

    def __init__(
        self,
        client: SalesforceClient,
        *,
        loss_reason_field: str,
        bulk_threshold: int,
        bulk_options: BulkOptions = BulkOptions(),
    ):
        self.client = client
        self.loss_reason_field = field_name(loss_reason_field)
        self.bulk_threshold = bulk_threshold
        self.bulk_options = bulk_options
        self._closed_stages: dict[str, bool] | None = None
        self._closed_fallback = False

    def iter_deals(
        self,
        since: datetime | None,
        until: datetime | None = None,
        *,
        lost_only: bool = False,
        page_size: int = 2000,
    ) -> Iterator[LostDeal]:
        soql = deal_soql(self.loss_reason_field, since, until, lost_only=lost_only)
        pages = self.client.query_pages(soql, include_deleted=True, page_size=page_size)
        first = next(pages, None)
        if first is None:
            return
        total = self.client.last_total_size
        if total is not None and total > self.bulk_threshold:
            pages.close()
            log.info(
                "salesforce: %d deals to read, above the bulk threshold of %d: using Bulk API 2.0",
                total,
                self.bulk_threshold,
            )
            bulk_soql = deal_soql(self.loss_reason_field, since, until, lost_only=lost_only, ordered=False)
            for rows in bulk_query_pages(
                self.client, bulk_soql, include_deleted=True, page_size=page_size, options=self.bulk_options
            ):
                yield from self._deals([_nest(r) for r in rows])
            return
        yield from self._deals(first)
        for page in pages:
            yield from self._deals(page)

    # ------------------------------------------------------------------ one page
    def _deals(self, rows: list[dict[str, Any]]) -> Iterator[LostDeal]:
        if not rows:
            return
        ids = [r["Id"] for r in rows]
        lost_ids = [r["Id"] for r in rows if _state(r) == "lost"]
        deleted = {r["Id"] for r in rows if _bool(r.get("IsDeleted"))}
        histories = self._histories(lost_ids)
        closed = self._closed(rows)
        contacts = self._contacts(ids, deleted)
        for row in rows:
            yield self._deal(row, histories.get(row["Id"], []), closed, contacts.get(row["Id"], ()))

    def _deal(
        self,
        row: Mapping[str, Any],
        history: Sequence[Mapping[str, Any]],
        closed: Mapping[str, bool],
        contacts: Sequence[DealContact],
    ) -> LostDeal:
        state = _state(row)
        account = row.get("Account") or {}
        reason = row.get(self.loss_reason_field)
        close_date = _date(row.get("CloseDate"))
        lost_date: date | None = None
        source: LostDateSource | None = None
        if state == "lost":
            entered = loss_entered(history, closed)
            lost_date, source = (entered.date(), "history") if entered else (close_date, "close_date")
        return LostDeal(
            opportunity_id=row["Id"],
            name=row.get("Name") or "",
            state=state,
            stage_name=row.get("StageName") or "",
            stage_at_loss=stage_at_loss(history, closed) if state == "lost" else None,
            loss_reason=None if reason in (None, "") else str(reason),
            lost_date=lost_date,
            amount=_float(row.get("Amount")),
            owner_id=row.get("OwnerId"),
            account_id=row.get("AccountId"),
            account_name=account.get("Name"),
            account_employees=_int(account.get("NumberOfEmployees")),
            account_industry=account.get("Industry"),
            contacts=tuple(contacts),
            modified_at=parse_datetime(row["SystemModstamp"]),
            is_deleted=_bool(row.get("IsDeleted")),
            lost_date_source=source,
            close_date=close_date,
        )

    def _histories(self, opp_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for chunk in chunks(opp_ids, MAX_IN_IDS):
            soql = format_soql(
                "SELECT OpportunityId, StageName, CreatedDate FROM OpportunityHistory "
                "WHERE OpportunityId IN {} ORDER BY OpportunityId, CreatedDate, Id",
                list(chunk),
            )
            for row in self.client.query(soql, include_deleted=True, budgeted=False):
                out[row["OpportunityId"]].append(row)
        return out

    def _contacts(self, opp_ids: Sequence[str], deleted: set[str]) -> dict[str, list[DealContact]]:
        out: dict[str, list[DealContact]] = defaultdict(list)
        for chunk in chunks(opp_ids, MAX_IN_IDS):
            soql = format_soql(
                "SELECT OpportunityId, ContactId, Role, IsPrimary, IsDeleted, Contact.FirstName, "
                "Contact.LastName, Contact.Email, Contact.HasOptedOutOfEmail FROM OpportunityContactRole "
                "WHERE OpportunityId IN {} ORDER BY OpportunityId, CreatedDate, Id",
                list(chunk),
            )
            for row in self.client.query(soql, include_deleted=True, budgeted=False):
                opp = row["OpportunityId"]
                contact = row.get("Contact")
                # a removed role is history unless the whole deal was deleted (then roles go with it)
                if contact is None or (_bool(row.get("IsDeleted")) and opp not in deleted):
                    continue
                out[opp].append(
                    DealContact(
                        contact_id=row["ContactId"],
                        email=contact.get("Email"),
                        first_name=contact.get("FirstName"),
                        last_name=contact.get("LastName"),
                        opted_out=_bool(contact.get("HasOptedOutOfEmail")),
                        is_primary=_bool(row.get("IsPrimary")),
                        role=row.get("Role"),
                    )
                )
        for people in out.values():
            people.sort(key=lambda c: not c.is_primary)  # stable: primary first, then query order
        return out

    def _closed(self, rows: Iterable[Mapping[str, Any]]) -> dict[str, bool]:
        """Closed stage names -> IsWon, from the org's OpportunityStage (once per reader); where that
        object cannot be queried, the standard names plus the current stages of closed deals seen.

        Keyed by MasterLabel: Opportunity.StageName and OpportunityHistory.StageName hold the stage's
        label, not its ApiName (which differs once an admin renames a stage). Inactive stages are kept:
        old history rows still name them."""
        if self._closed_stages is None:
            try:
                self._closed_stages = {
                    r["MasterLabel"]: _bool(r["IsWon"])
                    for r in self.client.query(
                        "SELECT MasterLabel, ApiName, IsClosed, IsWon FROM OpportunityStage "
                        "WHERE IsClosed = true",
                        budgeted=False,
                    )
                }
            except FatalAPIError as exc:
                log.info(
                    "salesforce: OpportunityStage not queryable (%s); telling closed stages by the "
                    "deals' own state",
                    exc.code,
                )
                self._closed_stages = {}
            self._closed_fallback = not self._closed_stages
            if self._closed_fallback:
                self._closed_stages.update(_DEFAULT_CLOSED)
        if self._closed_fallback:
            for row in rows:
                if _bool(row.get("IsClosed")) and row.get("StageName"):
                    self._closed_stages.setdefault(row["StageName"], _bool(row.get("IsWon")))
        return self._closed_stages


# --------------------------------------------------------------------------- contacts


def read_records(
    client: SalesforceClient, sobject: str, ids: Sequence[str], fields: Sequence[str]
) -> Iterator[dict[str, Any]]:
    """Records of `sobject` by id with the given fields, in batched IN queries."""
    names = list(dict.fromkeys(["Id", *(field_name(f) for f in fields)]))
    select = f"SELECT {', '.join(names)} FROM {field_name(sobject)} WHERE Id IN {{}}"
    unique = list(dict.fromkeys(ids))
    for chunk in chunks(unique, MAX_IN_IDS):
        yield from client.query(format_soql(select, list(chunk)))


def iter_managed(
    client: SalesforceClient, sobject: str, fields: Sequence[str], watch: Sequence[str],
    since: datetime | None,
) -> Iterator[dict[str, Any]]:
    """Records of `sobject` on which any of the `watch` fields is set that changed at or after `since`,
    with `fields`, oldest change first, page by page. Lets a run see values edited by hand without
    reading every record: nothing on a first run, then only what changed. `watch` fields must be
    filterable (not long text areas)."""
    watched = [field_name(f) for f in watch]
    if not watched:
        return
    select = ", ".join(dict.fromkeys(["Id", "SystemModstamp", *(field_name(f) for f in fields)]))
    where = "(" + " OR ".join(f"{n} != null" for n in watched) + ")"
    if since is not None:
        where += format_soql(" AND SystemModstamp >= {}", since)
    yield from client.query(f"SELECT {select} FROM {field_name(sobject)} WHERE {where} "
                            "ORDER BY SystemModstamp, Id")


def as_text(value: Any) -> str | None:
    """A Salesforce JSON value as snapshot text (snapshots hold strings, as HubSpot's do)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

