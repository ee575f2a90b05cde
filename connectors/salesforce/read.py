"""Reading deals (Opportunities with stage history, account and people) and contacts from Salesforce.

A REST deal read is two streams, each paged at 2,000 rows, never a query per deal or per page:
- the deals, with their people as a parent-child subquery (`(SELECT ... FROM OpportunityContactRoles)`:
  child rows count toward the 2,000-row page, so the deals and their roles cost what the two row counts
  cost; a deal with more roles than a page answers inline gets the rest from the child result's own
  nextRecordsUrl), the people's current values of the mapped Contact fields as relationship fields
  (`Contact.<field>`, when the caller names them) and the owners' activity (`Owner.IsActive`,
  `Account.OwnerId`, `Account.Owner.IsActive`), kept for the run (`RunCache`);
- the stage history of the lost deals among them, as a semi-join stream (`WHERE OpportunityId IN (SELECT
  Id FROM Opportunity WHERE <the same window> AND IsClosed = true AND IsWon = false)`) ordered like the
  deals (`Opportunity.SystemModstamp, OpportunityId`), consumed in step with them (`HistoryStream`). A
  subquery would read the history of won and open deals too (at 20k people 44,064 rows instead of
  23,995). A lost deal whose rows are not where the order puts them (it changed between the two queries)
  has its history read by id (IN list), as the bulk path does for every page.
Above the bulk threshold the deals come from a Bulk API 2.0 job (which takes no subqueries: "Bulk API
2.0 doesn't support ... parent-to-child relationship queries") in no order, so their related rows come
from batched IN queries of at most `MAX_IN_IDS` ids per page. Every query is built with `format_soql`
(values quoted and escaped); field names are checked against an identifier pattern because they cannot
be quoted.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
from connectors.salesforce.client import SalesforceClient, plain_record

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


ROLE_FIELDS = ("ContactId", "Role", "IsPrimary", "IsDeleted", "Contact.FirstName", "Contact.LastName",
               "Contact.Email", "Contact.HasOptedOutOfEmail")
# who can own a call task, read with the deals (this run's values: see connectors.salesforce.owners)
OWNER_FIELDS = ("Owner.IsActive", "Account.OwnerId", "Account.Owner.IsActive")


def window(since: datetime | None, until: datetime | None, *, lost_only: bool) -> list[str]:
    """The deal filter's terms (ANDed)."""
    where: list[str] = []
    if since is not None:
        where.append(format_soql("SystemModstamp >= {}", since))
    if until is not None:
        where.append(format_soql("SystemModstamp < {}", until))
    if lost_only:
        where.append("IsClosed = true AND IsWon = false")
    return where


def roles_subquery(contact_fields: Sequence[str] = ()) -> str:
    """The deal's contact roles with the people's fields (`Contact.<f>` for each of `contact_fields`)."""
    names = dict.fromkeys([*ROLE_FIELDS, *(f"Contact.{field_name(f)}" for f in contact_fields)])
    return f"(SELECT {', '.join(names)} FROM OpportunityContactRoles ORDER BY CreatedDate, Id)"


def history_soql(since: datetime | None, until: datetime | None) -> str:
    """The lost deals' stage history in the deal window, ordered like the deal stream."""
    deals = " AND ".join([*window(since, until, lost_only=False), "IsClosed = true AND IsWon = false"])
    return ("SELECT OpportunityId, StageName, CreatedDate, Opportunity.SystemModstamp "
            f"FROM OpportunityHistory WHERE OpportunityId IN (SELECT Id FROM Opportunity WHERE {deals}) "
            "ORDER BY Opportunity.SystemModstamp, OpportunityId, CreatedDate, Id")


def deal_soql(
    loss_reason_field: str,
    since: datetime | None,
    until: datetime | None,
    *,
    lost_only: bool,
    ordered: bool = True,
    roles: str | None = None,
) -> str:
    """The deal query; `roles` (a `roles_subquery`) adds the people and the owners' activity (REST
    only: Bulk API 2.0 takes neither subqueries nor, in leadsync's CSV handling, two-level paths)."""
    fields = [
        "Id",
        "Name",
        "StageName",
        "IsClosed",
        "IsWon",
        "IsDeleted",
        field_name(loss_reason_field),
        "CloseDate",
        "CreatedDate",
        "Amount",
        "OwnerId",
        "AccountId",
        "Account.Name",
        "Account.NumberOfEmployees",
        "Account.Industry",
        "SystemModstamp",
    ]
    if roles is not None:
        fields += [*OWNER_FIELDS, roles]
    where = window(since, until, lost_only=lost_only)
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


NO_VALUES: tuple[Any, ...] = ()


@dataclass
class RunCache:
    """What this run's deal read learned besides the deals, so later calls need not ask again: the
    current values of the mapped Contact fields of the people on the deals read (`fields` names them),
    which users are active, and the account owner of each lost deal whose owner is inactive. Values read
    this run are as current as the managed-contacts stream's, which the planner already takes as
    current; a contact leadsync updates is dropped (`forget`). Memory: one tuple per contact read, at
    most `max_contacts` of them (a run's memory must not grow with the people: a contact not kept is
    read when asked for), one entry per user and per inactive-owned lost deal."""

    fields: tuple[str, ...] = ()
    contacts: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # a run asks for the fields a human may edit (short values, mostly none: one shared empty tuple),
    # about 100 bytes a contact with its id and dict entry: at most ~50 MB
    max_contacts: int = 500_000
    users_active: dict[str, bool] = field(default_factory=dict)
    account_owners: dict[str, tuple[str | None, bool]] = field(default_factory=dict)

    def remember_contact(self, contact_id: str, contact: Mapping[str, Any]) -> None:
        if self.fields and (contact_id in self.contacts or len(self.contacts) < self.max_contacts):
            values = tuple(contact.get(f) for f in self.fields)
            self.contacts[contact_id] = values if any(v is not None for v in values) else NO_VALUES

    def current(self, contact_id: str, fields: Sequence[str]) -> dict[str, Any] | None:
        """The contact's values of `fields` read this run, or None when not all of them are known."""
        values = self.contacts.get(contact_id)
        if values is None or not set(fields) <= set(self.fields):
            return None
        if values is NO_VALUES:
            return dict.fromkeys(fields)
        known = dict(zip(self.fields, values, strict=True))
        return {f: known[f] for f in fields}

    def forget(self, contact_ids: Iterable[str]) -> None:
        for cid in contact_ids:
            self.contacts.pop(cid, None)

    def remember_owners(self, row: Mapping[str, Any]) -> None:
        owner, active = row.get("OwnerId"), (row.get("Owner") or {}).get("IsActive")
        if owner and active is not None:
            self.users_active[owner] = _bool(active)
        account = row.get("Account") or {}
        account_owner = account.get("OwnerId")
        account_active = (account.get("Owner") or {}).get("IsActive")
        if account_owner and account_active is not None:
            self.users_active[account_owner] = _bool(account_active)
        if owner and active is not None and not _bool(active) and _state(row) == "lost":
            self.account_owners[row["Id"]] = (account_owner, _bool(account_active))


class HistoryStream:
    """The lost deals' history rows, ordered by (Opportunity.SystemModstamp, OpportunityId), handed out
    deal by deal in the deal stream's order. Ids are never compared (the server's collation of Id is not
    Python's): for a deal at stamp t the stream is read up to its rows, keeping rows of other deals at t
    for them; rows at an earlier stamp belong to no deal still to come and are dropped. In the normal
    case the kept rows are those of one deal; a deal that moved (changed after the deal query) costs a
    read to the end of its stamp."""

    def __init__(self, rows: Callable[[], Iterator[dict[str, Any]]]):
        self._open = rows  # the query is sent when the first lost deal asks (none in the window: none)
        self._rows: Iterator[dict[str, Any]] | None = None
        self._head: dict[str, Any] | None = None
        self._head_stamp: datetime | None = None
        self._stamp: datetime | None = None
        self._held: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._ended = False

    def _advance(self) -> None:
        if self._rows is None:
            self._rows = self._open()
        while True:
            self._head = next(self._rows, None)
            if self._head is None:
                self._ended, self._head_stamp = True, None
                return
            stamp = (self._head.get("Opportunity") or {}).get("SystemModstamp")
            if stamp:  # a row without its deal's stamp belongs to no deal of the stream: skipped
                self._head_stamp = parse_datetime(stamp)
                return

    def take(self, deal_id: str, stamp: datetime) -> list[dict[str, Any]] | None:
        """The deal's rows (CreatedDate order), or None when the stream has none for it at `stamp`."""
        if self._stamp != stamp:
            self._held.clear()
            self._stamp = stamp
        if deal_id in self._held:
            return self._held.pop(deal_id)
        if self._head is None and not self._ended:
            self._advance()
        while self._head is not None and self._head_stamp is not None and self._head_stamp <= stamp:
            row, at = self._head, self._head_stamp
            if at == stamp:
                opp = row["OpportunityId"]
                if opp != deal_id and deal_id in self._held:
                    return self._held.pop(deal_id)  # its rows are complete: the next deal's begin
                self._held[opp].append(row)
            self._advance()
        return self._held.pop(deal_id, None)


class DealReader:
    """Reads deals page by page with their related rows."""

    def __init__(
        self,
        client: SalesforceClient,
        *,
        loss_reason_field: str,
        bulk_threshold: int,
        bulk_options: BulkOptions = BulkOptions(),
        cache: RunCache | None = None,
    ):
        self.client = client
        self.loss_reason_field = field_name(loss_reason_field)
        self.bulk_threshold = bulk_threshold
        self.bulk_options = bulk_options
        self.cache = cache if cache is not None else RunCache()
        self._closed_stages: dict[str, bool] | None = None
        self._closed_fallback = False

    def iter_deals(
        self,
        since: datetime | None,
        until: datetime | None = None,
        *,
        lost_only: bool = False,
        page_size: int = 2000,
        contact_fields: Sequence[str] = (),
    ) -> Iterator[LostDeal]:
        fields = tuple(dict.fromkeys(field_name(f) for f in contact_fields))
        if fields:
            self.cache.fields = fields
            self.cache.contacts.clear()
        roles = roles_subquery(fields)
        soql = deal_soql(self.loss_reason_field, since, until, lost_only=lost_only, roles=roles)
        pages = self.client.query_pages(soql, include_deleted=True, page_size=page_size)
        first = next(pages, None)
        if first is None:
            return
        total = self.client.last_total_size
        if total is not None and self.bulk_threshold and total > self.bulk_threshold:  # 0: never
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
                yield from self._deals([_nest(r) for r in rows], None)
            return
        history = HistoryStream(lambda: self.client.query(history_soql(since, until), include_deleted=True,
                                                          budgeted=False))
        yield from self._deals(first, history)
        for page in pages:
            yield from self._deals(page, history)

    # ------------------------------------------------------------------ one page
    def _deals(self, rows: list[dict[str, Any]], history: HistoryStream | None) -> Iterator[LostDeal]:
        """One page of deals. With `history` (REST), roles come inline and history from the stream;
        without (bulk), both from IN queries."""
        if not rows:
            return
        deleted = {r["Id"] for r in rows if _bool(r.get("IsDeleted"))}
        lost = [r for r in rows if _state(r) == "lost"]
        if history is None:
            histories = self._histories([r["Id"] for r in lost])
            contacts = self._contacts([r["Id"] for r in rows], deleted)
        else:
            histories = {}
            for r in lost:
                found = history.take(r["Id"], parse_datetime(r["SystemModstamp"]))
                if found is not None:
                    histories[r["Id"]] = found
            # moved since the deal query, or deleted (the semi-join's inner query may not see a deleted
            # deal even under queryAll: UNVERIFIED): read by id
            histories.update(self._histories([r["Id"] for r in lost if r["Id"] not in histories]))
            contacts = {r["Id"]: self._people(r["Id"], self._role_rows(r), deleted) for r in rows}
            # roles of a deleted deal are history unless queryAll answers none in the subquery
            # (UNVERIFIED which it does): then read them by id, as before
            bare = [r["Id"] for r in rows if r["Id"] in deleted and not contacts[r["Id"]]]
            contacts.update(self._contacts(bare, deleted))
            for r in rows:
                self.cache.remember_owners(r)
        closed = self._closed(rows)
        for row in rows:
            yield self._deal(row, histories.get(row["Id"], []), closed, contacts.get(row["Id"], ()))

    def _role_rows(self, row: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The deal's OpportunityContactRoles subquery rows, with the rest of a long child result
        (`done: false`: its nextRecordsUrl, one queryMore call a page)."""
        result = row.get("OpportunityContactRoles")
        while result:
            yield from (plain_record(r) for r in result.get("records") or [])
            next_url = result.get("nextRecordsUrl")
            if result.get("done", True) or not next_url:
                return
            result = self.client.query_more(next_url)

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
            created_at=parse_datetime(row["CreatedDate"]) if row.get("CreatedDate") else None,
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
        """People of the deals `opp_ids` by IN queries (the bulk path, deleted deals)."""
        rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        select = ", ".join(["OpportunityId", *ROLE_FIELDS, *(f"Contact.{f}" for f in self.cache.fields)])
        for chunk in chunks(opp_ids, MAX_IN_IDS):
            soql = format_soql(
                f"SELECT {select} FROM OpportunityContactRole "
                "WHERE OpportunityId IN {} ORDER BY OpportunityId, CreatedDate, Id",
                list(chunk),
            )
            for row in self.client.query(soql, include_deleted=True, budgeted=False):
                rows[row["OpportunityId"]].append(row)
        return {opp: self._people(opp, found, deleted) for opp, found in rows.items()}

    def _people(self, opp: str, roles: Iterable[Mapping[str, Any]], deleted: set[str]) -> list[DealContact]:
        """DealContacts of one deal's role rows (query order), primary first; the contacts' mapped
        field values are remembered for the run."""
        people: list[DealContact] = []
        for row in roles:
            contact = row.get("Contact")
            # a removed role is history unless the whole deal was deleted (then roles go with it)
            if contact is None or (_bool(row.get("IsDeleted")) and opp not in deleted):
                continue
            self.cache.remember_contact(row["ContactId"], contact)
            people.append(
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
        people.sort(key=lambda c: not c.is_primary)  # stable: primary first, then query order
        return people

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

