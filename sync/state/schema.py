"""The state store's tables and their ordered, versioned migrations (SQLAlchemy Core).

Portable SQL only: every table and statement here compiles for SQLite and PostgreSQL alike. The
`schema_version` table keeps one row per applied migration; `migrate()` applies the missing ones in
order, inside one transaction that also serialises concurrent migrators (SQLite `BEGIN IMMEDIATE`,
PostgreSQL transaction-scoped advisory lock).

Adding a migration: append `Migration(version=N + 1, ...)` to `MIGRATIONS` and change the live `Table`
objects below to the new shape. Migration 1 creates tables from those live objects, so before a later
migration alters a table, freeze that table's version-1 definition inside `_create_v1`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine

from connectors.base import MA_NAME_PROPERTIES
from mappings.emails import normalize_email, parse_email
from sync.state.errors import StateStoreError, damaged_value
from sync.state.names import KEY_LENGTH, name_rows, unique_rows

RUN_STATUSES: tuple[str, ...] = (
    "running", "ok", "partial", "failed", "budget_stopped", "interrupted", "dry_run",
)
FAILURE_STAGES: tuple[str, ...] = ("identity", "map", "write")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    Naive datetimes are refused (a naive value is almost always a bug). PostgreSQL and others get a
    `TIMESTAMP WITH TIME ZONE`. SQLite has no time zone type: there the value is stored as naive UTC
    text "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's own SQLite format, fixed width so it sorts),
    converted with the C-speed `isoformat`/`fromisoformat`, and given back as aware UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(32))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the state store needs timezone-aware values")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        try:
            if isinstance(value, str):
                value = datetime.fromisoformat(value)
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except (ValueError, TypeError, AttributeError) as exc:
            raise damaged_value("a stored date and time", exc) from None


metadata = sa.MetaData()

# Person keys sort the same everywhere: byte order (= code point order for UTF-8, Python's order).
# SQLite compares text that way; PostgreSQL would use the database's locale, so the column says "C".
PersonKey = sa.String(320).with_variant(sa.String(320, collation="C"), "postgresql")

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

watermarks = sa.Table(
    "watermarks", metadata,
    sa.Column("stream", sa.String(200), primary_key=True),
    sa.Column("value", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

deals = sa.Table(
    "deals", metadata,
    sa.Column("opportunity_id", sa.String(64), primary_key=True),
    sa.Column("data", sa.Text, nullable=False),  # JSON of connectors.base.LostDeal
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("modified_at", UTCDateTime, nullable=False),
    sa.Column("is_deleted", sa.Boolean, nullable=False),
    sa.Column("stored_at", UTCDateTime, nullable=False),
    # migration 7: what the loss analysis groups by, as columns (reports aggregate them in the database
    # without parsing every snapshot): the lost date, stage at loss, loss reason and amount
    sa.Column("lost_on", sa.Date),
    sa.Column("stage_at_loss", sa.String(255)),
    sa.Column("loss_reason", sa.Text),
    sa.Column("amount", sa.Float),
    # migration 9: the deal's account (AccountId), so the new deals on a recycled person's account are
    # found by account (the second pipeline) without reading every snapshot; with the last change, which
    # bounds them to those that changed since a loss (SystemModstamp is never before CreatedDate)
    sa.Column("account_id", sa.String(64)),
    sa.Index("ix_deals_account", "account_id", "modified_at"),
)

contacts = sa.Table(
    "contacts", metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("contact_id", sa.String(64), primary_key=True),
    sa.Column("email", sa.Text),  # as the system gave it
    sa.Column("email_norm", sa.String(320)),  # trimmed + case-folded (not validated)
    sa.Column("properties", sa.Text, nullable=False),  # JSON object of raw property values
    sa.Column("modified_at", UTCDateTime),
    sa.Column("archived", sa.Boolean, nullable=False),
    sa.Column("merged_into", sa.String(64)),
    sa.Column("stored_at", UTCDateTime, nullable=False),
    sa.Index("ix_contacts_email_norm", "email_norm"),
    # migration 6: a HubSpot contact's person key (`mappings.emails.parse_email`); NULL when its email
    # is not usable, and for other systems' contacts (their people come from the deals)
    sa.Column("person_key", PersonKey),
    sa.Index("ix_contacts_person_key", "person_key"),
    # migration 8: whether a person is still in the store (a live HubSpot contact with their key),
    # decided from the index alone (the report checks it for every person)
    sa.Index("ix_contacts_live", "person_key", "archived", "merged_into"),
)

# Migration 6: the people on each deal snapshot (its contact roles), so people are resolved a range of
# person keys at a time in the database (sync.state.people) instead of from every deal in memory.
deal_contacts = sa.Table(
    "deal_contacts", metadata,
    sa.Column("opportunity_id", sa.String(64), primary_key=True),
    sa.Column("contact_id", sa.String(64), primary_key=True),
    sa.Column("email_norm", sa.String(320)),  # trimmed + case-folded (not validated); NULL when blank
    sa.Column("person_key", PersonKey),  # NULL when the email is not usable
    sa.Index("ix_deal_contacts_person_key", "person_key"),
    sa.Index("ix_deal_contacts_contact_id", "contact_id"),
    sa.Index("ix_deal_contacts_email_norm", "email_norm"),
)

written_values = sa.Table(
    "written_values", metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("object", sa.String(64), primary_key=True),
    sa.Column("record_id", sa.String(64), primary_key=True),
    sa.Column("field", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),  # JSON scalar
    sa.Column("written_at", UTCDateTime, nullable=False),
    sa.Column("mapping_version", sa.Integer, nullable=False),
    sa.Column("run_id", sa.Integer),
)

list_memberships = sa.Table(
    "list_memberships", metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("list_name", sa.String(255), primary_key=True),
    sa.Column("record_id", sa.String(64), primary_key=True),
    sa.Column("added_at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.Integer),
    sa.Index("ix_list_memberships_record", "system", "record_id"),
)

call_tasks = sa.Table(
    "call_tasks", metadata,
    sa.Column("cycle_key", sa.String(255), primary_key=True),
    sa.Column("system", sa.String(32), nullable=False),
    sa.Column("task_id", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.Integer),
    # migration 7: the task as Salesforce last said (read back by later runs): its Status, and when it
    # was closed (completed) there; NULL until read
    sa.Column("status", sa.String(64)),
    sa.Column("closed_at", UTCDateTime),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("counts", sa.Text, nullable=False),  # JSON object
    sa.Column("api_calls", sa.Text, nullable=False),  # JSON object
    sa.Column("mapping_version", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("pid", sa.Integer),
    sa.Column("host", sa.String(255)),
    sa.Index("ix_runs_started_at", "started_at"),
)

failures = sa.Table(
    "failures", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer),
    sa.Column("system", sa.String(32), nullable=False),
    sa.Column("record_key", sa.String(255), nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("resolved", sa.Boolean, nullable=False),
    sa.Column("resolved_at", UTCDateTime),
    sa.UniqueConstraint("system", "record_key", "stage", name="uq_failures_record"),
    sa.Index("ix_failures_resolved", "resolved"),
    # migration 11: the console's failure pages, a page at a time (open ones, and one run's)
    sa.Index("ix_failures_open_id", "resolved", "id"),
    sa.Index("ix_failures_run_id", "run_id", "id"),
)

run_lock = sa.Table(
    "run_lock", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("token", sa.String(64), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
)

# Write intents: recorded before a batch is sent, cleared when the system answers for each record. A
# row left behind means the process died with that write in flight: it may or may not have landed, so
# the next run treats it as uncertain (see sync.run.plan). kind: field | list_add | list_remove; target:
# the object type (field) or the list name; field: "" for list changes; value: JSON scalar or null.
pending_writes = sa.Table(
    "pending_writes", metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("target", sa.String(255), primary_key=True),
    sa.Column("record_id", sa.String(64), primary_key=True),
    sa.Column("field", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text),
    sa.Column("run_id", sa.Integer),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_pending_writes_record", "system", "record_id"),
)

# Ids of the lists leadsync writes to, by the name the mapping gives them: found (or created) once and
# then addressed by id, so a run needs no lookup by name. A row goes when the system says the id is gone.
list_ids = sa.Table(
    "list_ids", metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("list_name", sa.String(255), primary_key=True),
    sa.Column("list_id", sa.String(64), nullable=False),
    sa.Column("found_at", UTCDateTime, nullable=False),
)

# The remote accounts this state belongs to: the Salesforce org id and the HubSpot portal id, bound on
# first use. What the store remembers (values written, memberships, tasks, list ids, watermarks) is true
# of that org and portal only; a run against another stops (see sync.state.bindings).
bindings = sa.Table(
    "bindings", metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("remote_id", sa.String(128), nullable=False),
    sa.Column("bound_at", UTCDateTime, nullable=False),
)

# Migration 7: where each person stands in the shared model now (the last recorded assignment), and
# every change of it. A row of `stage_moves` is one dimension of one person changing in one run:
# dimension "stage" (the Demand Waterfall), "rank" (hot/warm/cold) or "group" (the recycle group);
# from_value NULL = where they start. cause: "first" (no earlier record), "facts" (their data in either
# system changed), "mapping" (same data, another mapping: a rule change), "time" (same data and mapping:
# a time-based rule such as the waiting period), "backfill" (reconstructed from the past). `why`: the
# engine's words for the rule behind the new value (the explanation's lines for that dimension).
# next_value/next_at: the person's following move of the same dimension, once there is one.
assignments = sa.Table(
    "assignments", metadata,
    sa.Column("person_key", PersonKey, primary_key=True),
    sa.Column("stage", sa.String(64), nullable=False),
    sa.Column("rank", sa.String(64), nullable=False),
    sa.Column("recycle_group", sa.String(64)),
    sa.Column("deal_id", sa.String(64)),  # the lost deal the recycle group was decided on
    sa.Column("nurture_list", sa.String(64)),  # key of [nurture.lists] the person is meant to be on
    sa.Column("score", sa.Integer),
    # what the snapshot report counts without deciding anyone again (sync.views.report_sql): how many
    # records the person has in each system (a list member per record) and their latest behaviour event
    # after the loss of `deal_id` (any group: they re-engaged)
    sa.Column("salesforce_records", sa.Integer),
    sa.Column("hubspot_records", sa.Integer),
    sa.Column("reengaged_on", sa.Date),
    sa.Column("facts_digest", sa.String(32), nullable=False),  # the inputs the engine saw
    sa.Column("mapping_digest", sa.String(32), nullable=False),  # the rules it applied
    sa.Column("mapping_version", sa.Integer, nullable=False),
    sa.Column("changed_at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.Integer),
    # migration 8: the snapshot report's pass over everyone (sync.views.report_sql) reads this index
    # alone, in the order it groups by, instead of the table and a sort
    sa.Index("ix_assignments_standing", "stage", "rank", "recycle_group", "nurture_list",
             "salesforce_records", "hubspot_records", "deal_id", "reengaged_on", "person_key"),
)

stage_moves = sa.Table(
    "stage_moves", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_key", PersonKey, nullable=False),
    sa.Column("dimension", sa.String(16), nullable=False),
    sa.Column("from_value", sa.String(64)),
    sa.Column("to_value", sa.String(64)),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.Integer),
    sa.Column("mapping_version", sa.Integer, nullable=False),
    sa.Column("cause", sa.String(16), nullable=False),
    sa.Column("deal_id", sa.String(64)),
    sa.Column("why", sa.Text),
    # filled when the same person's next move of the same dimension is recorded: where they went and
    # when (how long they stayed, whether they moved on), so reports need no window over the history
    sa.Column("next_value", sa.String(64)),
    sa.Column("next_at", UTCDateTime),
    # by person only: reports read the whole table in one pass (an index on dimension would make SQLite
    # fetch two thirds of the rows one by one)
    sa.Index("ix_stage_moves_person", "person_key", "at"),
)

# The waterfall's flow, kept up to date with `stage_moves` (same transaction) so the report reads a few
# thousand rows instead of every move: stage entries per cohort (the UTC month of entry) and stage, by
# where the person went next (`next_stage`, "" while still there) and whole days until then (-1 while
# still there). Moves of cause "first" are not entries and are not counted.
stage_flow = sa.Table(
    "stage_flow", metadata,
    sa.Column("cohort", sa.String(7), primary_key=True),  # "2026-03"
    sa.Column("stage", sa.String(64), primary_key=True),
    sa.Column("next_stage", sa.String(64), primary_key=True),
    sa.Column("days", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("n", sa.Integer, nullable=False),
)

# One row per person per lost deal recycled: when they entered a recycle group (and which), when a low
# group person was promoted to high, the call task; and what came of it, read on later runs: a new
# opportunity opened after the loss for the person's contact or account, won or lost again.
recycle_cycles = sa.Table(
    "recycle_cycles", metadata,
    sa.Column("person_key", PersonKey, primary_key=True),
    sa.Column("deal_id", sa.String(64), primary_key=True),
    sa.Column("lost_on", sa.Date),
    sa.Column("loss_reason", sa.Text),
    sa.Column("phase", sa.String(64)),  # buying phase at loss
    sa.Column("lost_amount", sa.Float),
    # the group the cycle was first worked in, high or low; waiting while it has not left waiting (and
    # when it left recycling from there)
    sa.Column("first_group", sa.String(64), nullable=False),
    sa.Column("entered_at", UTCDateTime, nullable=False),
    sa.Column("group_now", sa.String(64)),  # NULL once the person left recycling for this deal
    sa.Column("promoted_at", UTCDateTime),  # low -> high
    sa.Column("left_at", UTCDateTime),
    sa.Column("reengaged_at", UTCDateTime),  # their latest behaviour event after the loss (day)
    sa.Column("task_cycle_key", sa.String(255)),  # the call task's cycle key (call_tasks.cycle_key)
    sa.Column("new_deal_id", sa.String(64)),
    sa.Column("new_deal_opened_on", sa.Date),
    sa.Column("new_deal_amount", sa.Float),
    sa.Column("new_deal_stage", sa.String(128)),
    sa.Column("new_deal_state", sa.String(16)),  # open | won | lost
    sa.Column("new_deal_closed_on", sa.Date),
    sa.Column("run_id", sa.Integer),
    sa.Index("ix_recycle_cycles_entered", "entered_at"),
    # migration 9: how the new deal was reached: "contact" (the person is a contact role on it) or
    # "account" (opened on the lost deal's account without them)
    sa.Column("new_deal_via", sa.String(16)),
)

# Migration 10: who may sign in to the admin console (`leadsync console`), with a password hash (argon2id,
# made by sync.console.auth: the store never sees a password), and what they did there.
console_users = sa.Table(
    "console_users", metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),  # admin | viewer
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
console_audit = sa.Table(
    "console_audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("user_name", sa.String(128)),  # NULL: a refused sign-in for a name that does not exist
    sa.Column("action", sa.String(64), nullable=False),  # sign-in, sign-in-refused, sign-out, set-password
    sa.Column("detail", sa.Text),
    sa.Index("ix_console_audit_at", "at"),
)

# Migration 11: every version of the mapping file saved from the admin console (or found on disk when
# the console first saw it), with who saved it, when, and the diff from the version before; the
# console rolls back to any of them (sync.state.mapping_versions).
mapping_versions = sa.Table(
    "mapping_versions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version", sa.Integer, nullable=False),  # the file's own `version` value
    sa.Column("saved_at", UTCDateTime, nullable=False),
    sa.Column("saved_by", sa.String(128)),  # NULL: found on disk, not saved from the console
    sa.Column("action", sa.String(16), nullable=False),  # found | save | rollback
    sa.Column("text", sa.Text, nullable=False),  # the whole TOML file as saved
    sa.Column("diff", sa.Text, nullable=False),  # unified diff from the version before ('' for the first)
    sa.Column("restored_from", sa.Integer),  # a rollback: the id of the version it restored
    sa.Index("ix_mapping_versions_version", "version"),
)

# Migration 12: people's names, searched by the start of a key (sync.state.names: NFKC, case-folded,
# no spaces, "family given" and "given family"), one row per key of each name on each record: a contact
# snapshot (source "contact", record_id its id, contact_id "") or a person on a deal snapshot (source
# "deal", record_id the deal id, contact_id the contact's), kept with the snapshots (same transaction).
# A prefix is a range on name_key (`>= p AND < p || U+10FFFF`), one index seek on either backend; the
# key sorts by code point ("C" on PostgreSQL, as person keys).
NameKey = sa.String(KEY_LENGTH).with_variant(sa.String(KEY_LENGTH, collation="C"), "postgresql")
person_names = sa.Table(
    "person_names", metadata,
    sa.Column("source", sa.String(16), primary_key=True),  # contact | deal
    sa.Column("record_id", sa.String(64), primary_key=True),
    sa.Column("contact_id", sa.String(64), primary_key=True),
    sa.Column("name_key", NameKey, primary_key=True),
    sa.Column("person_key", PersonKey, nullable=False),
    sa.Column("display_name", sa.String(255), nullable=False),
    sa.Index("ix_person_names_key", "name_key", "person_key"),
    sa.Index("ix_person_names_person", "person_key"),
)

_V1_TABLES = (watermarks, deals, contacts, written_values, list_memberships, call_tasks, runs, failures,
              run_lock)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_v1(conn: Connection) -> None:
    for table in _V1_TABLES:
        {contacts: _contacts_v1, call_tasks: _call_tasks_v1, deals: _deals_v1}.get(table, table).create(
            conn, checkfirst=True)


def _as_created(table: sa.Table, later: Sequence[str], later_indexes: Sequence[str] = ()) -> sa.Table:
    """`table` as its migration made it: without the columns and indexes later migrations add."""
    return sa.Table(table.name, sa.MetaData(),
                    *(sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
                      for c in table.columns if c.name not in later),
                    *(sa.Index(i.name, *(c.name for c in i.columns)) for i in table.indexes
                      if not any(c.name in later for c in i.columns) and i.name not in later_indexes))


_contacts_v1 = _as_created(contacts, ("person_key",))  # migration 6 adds person_key
_call_tasks_v1 = _as_created(call_tasks, ("status", "closed_at"))  # migration 7 adds them
DEAL_COLUMNS = ("lost_on", "stage_at_loss", "loss_reason", "amount")  # migration 7 adds them
_deals_v1 = _as_created(deals, (*DEAL_COLUMNS, "account_id"))  # migration 9 adds account_id
_V8_INDEXES = ("ix_contacts_live", "ix_assignments_standing")  # migration 8 adds them
_assignments_v7 = _as_created(assignments, (), _V8_INDEXES)
_recycle_cycles_v7 = _as_created(recycle_cycles, ("new_deal_via",))  # migration 9 adds new_deal_via


def _create_pending_writes(conn: Connection) -> None:
    pending_writes.create(conn, checkfirst=True)


def _create_list_ids(conn: Connection) -> None:
    list_ids.create(conn, checkfirst=True)


def _create_bindings(conn: Connection) -> None:
    bindings.create(conn, checkfirst=True)


def _create_console(conn: Connection) -> None:
    for table in (console_users, console_audit):
        table.create(conn, checkfirst=True)


def _create_mapping_versions(conn: Connection) -> None:
    mapping_versions.create(conn, checkfirst=True)
    for index in failures.indexes:
        if index.name in ("ix_failures_open_id", "ix_failures_run_id"):
            index.create(conn, checkfirst=True)


def _reread_deals(conn: Connection) -> None:
    """Lost dates now come from OpportunityHistory (the day the deal entered closed-lost), not from
    CloseDate. Deal snapshots stored before hold the CloseDate, and an unchanged deal would keep it
    forever: forget the deals watermark so the next run reads every deal again (one full read)."""
    conn.execute(watermarks.delete().where(watermarks.c.stream == "salesforce.opportunities"))


def _index_people(conn: Connection) -> None:
    """Person keys in the database: `contacts.person_key` and the `deal_contacts` table, filled from
    the snapshots already stored (one pass over each, in batches)."""
    conn.execute(sa.text(f"ALTER TABLE contacts ADD COLUMN person_key "
                         f"{contacts.c.person_key.type.compile(dialect=conn.dialect)}"))
    for index in contacts.indexes:
        if index.name == "ix_contacts_person_key":
            index.create(conn)
    deal_contacts.create(conn)
    c = contacts.c
    for rows in _hubspot_contact_pages(conn, c.email):
        conn.execute(contacts.update().where(c.system == "hubspot", c.contact_id == sa.bindparam("i"))
                     .values(person_key=sa.bindparam("k")),
                     [{"i": r.contact_id, "k": person_key(r.email)} for r in rows])
    for rows in _deal_pages(conn):
        links = [link for r in rows for link in deal_contact_rows(r.opportunity_id, _stored_contacts(r.data))]
        if links:
            conn.execute(deal_contacts.insert(), links)


def _hubspot_contact_pages(conn: Connection, *columns: Any) -> Iterator[Sequence[Any]]:
    """The stored HubSpot contacts (their id and `columns`), 2,000 at a time in id order: keyset pages,
    read whole before the caller writes, so a migration may update the rows it has just read."""
    c, after = contacts.c, ""
    while rows := conn.execute(sa.select(c.contact_id, *columns)
                               .where(c.system == "hubspot", c.contact_id > after)
                               .order_by(c.contact_id).limit(2_000)).all():
        yield rows
        after = rows[-1].contact_id


def _deal_pages(conn: Connection) -> Iterator[Sequence[Any]]:
    """The stored deals' ids and snapshots (`data`), 1,000 at a time in id order, as above."""
    d, last = deals.c, ""
    while rows := conn.execute(sa.select(d.opportunity_id, d.data).where(d.opportunity_id > last)
                               .order_by(d.opportunity_id).limit(1_000)).all():
        yield rows
        last = rows[-1].opportunity_id


def _create_history(conn: Connection) -> None:
    """The history tables, empty; and one full read of the deals, whose snapshots now keep the day each
    deal was opened (CreatedDate: what tells a new deal of a recycled person)."""
    for table in (_assignments_v7, stage_moves, stage_flow, _recycle_cycles_v7):
        table.create(conn, checkfirst=True)
    for table, columns in ((call_tasks, ("status", "closed_at")), (deals, DEAL_COLUMNS)):
        for column in columns:
            kind = table.c[column].type.compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column} {kind}"))
    d = deals.c
    for rows in _deal_pages(conn):
        conn.execute(deals.update().where(d.opportunity_id == sa.bindparam("i")).values(
            {c: sa.bindparam(f"v_{c}") for c in DEAL_COLUMNS}),
            [{"i": r.opportunity_id, **{f"v_{k}": v for k, v in deal_columns_of(r.data).items()}}
             for r in rows])
    _reread_deals(conn)


# Migration 8, SQLite only: the deals' report columns in an index led by the deal id, read instead of the
# deal rows (and their JSON) both by the snapshot's join from the recycled people to their lost deal and
# by the loss sections' scans of every deal. Not on PostgreSQL, where a loss reason is free text that
# could pass the size limit of an index entry, and those statements hash the table instead.
DEALS_LOST_SQLITE = ("CREATE INDEX IF NOT EXISTS ix_deals_lost ON deals "
                     "(opportunity_id, state, is_deleted, lost_on, stage_at_loss, loss_reason, amount)")
# Likewise the recycle cycles' columns the second pipeline sums, in the order it groups by: read in order
# instead of the rows and a sort (`sync.views.kpis`). SQLite only, for the same reason (a loss reason).
CYCLES_PIPELINE_SQLITE = ("CREATE INDEX IF NOT EXISTS ix_recycle_cycles_pipeline ON recycle_cycles "
                          "(first_group, loss_reason, phase, entered_at, reengaged_at, promoted_at, "
                          "task_cycle_key, new_deal_id, new_deal_amount, new_deal_state)")


def _index_report(conn: Connection) -> None:
    """The indexes the report reads instead of its tables (`sync.views.report_sql`, `sync.views.kpis`)."""
    for table in (contacts, assignments):
        for index in table.indexes:
            if index.name in _V8_INDEXES:
                index.create(conn, checkfirst=True)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(DEALS_LOST_SQLITE)
        conn.exec_driver_sql(CYCLES_PIPELINE_SQLITE)


def _index_accounts(conn: Connection) -> None:
    """`deals.account_id` (with its index), filled from the snapshots already stored, and
    `recycle_cycles.new_deal_via`: cycles recorded before say "contact" when they have a new deal (it
    was found through the person's contact roles, the only way then)."""
    for table, column in ((deals, "account_id"), (recycle_cycles, "new_deal_via")):
        kind = table.c[column].type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column} {kind}"))
    for index in deals.indexes:
        if index.name == "ix_deals_account":
            index.create(conn)
    d = deals.c
    for rows in _deal_pages(conn):
        found = [{"i": r.opportunity_id, "a": account_of(r.data)} for r in rows]
        if any(f["a"] is not None for f in found):
            conn.execute(deals.update().where(d.opportunity_id == sa.bindparam("i"))
                         .values(account_id=sa.bindparam("a")), [f for f in found if f["a"] is not None])
    c = recycle_cycles.c
    conn.execute(recycle_cycles.update().where(c.new_deal_id.is_not(None)).values(new_deal_via="contact"))
    _first_worked_group(conn)


def _first_worked_group(conn: Connection) -> None:
    """`recycle_cycles.first_group` becomes the group a cycle was first worked in (high or low), where
    it was recorded as `waiting` (a cycle opened during the wait): the person's first group move to high
    or low while the cycle was open."""
    c, m = recycle_cycles.c, stage_moves.c
    worked = (sa.select(m.to_value).where(
        m.person_key == c.person_key, m.dimension == "group", m.to_value.in_(("high", "low")),
        m.at >= c.entered_at, sa.or_(c.left_at.is_(None), m.at <= c.left_at))
        .order_by(m.at, m.id).limit(1).scalar_subquery())
    conn.execute(recycle_cycles.update().where(c.first_group == "waiting", worked.is_not(None))
                 .values(first_group=worked))


def account_of(data: str) -> str | None:
    """The AccountId of a stored deal snapshot (None: no account)."""
    try:
        return json.loads(data).get("account_id") or None
    except (ValueError, TypeError, AttributeError) as exc:
        raise damaged_value("deal snapshot", exc) from None


def deal_columns(lost_date: date | None, stage_at_loss: str | None, loss_reason: str | None,
                 amount: float | None) -> dict[str, Any]:
    """The `deals` columns the loss analysis groups by (DEAL_COLUMNS)."""
    return {"lost_on": lost_date, "stage_at_loss": stage_at_loss, "loss_reason": loss_reason,
            "amount": amount}


def deal_columns_of(data: str) -> dict[str, Any]:
    try:
        d = json.loads(data)
        return deal_columns(date.fromisoformat(d["lost_date"]) if d.get("lost_date") else None,
                            d.get("stage_at_loss"), d.get("loss_reason"), d.get("amount"))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise damaged_value("deal snapshot", exc) from None


def person_key(email: str | None) -> str | None:
    """The person key of a stored email (None when it is not usable)."""
    return parse_email(email)[0]


def deal_contact_rows(opportunity_id: str, people: Iterable[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """`deal_contacts` rows of one deal from its (contact id, email) pairs, in order; a contact named
    twice (two roles) keeps its first entry, as identity resolution does."""
    out: dict[str, dict[str, Any]] = {}
    for contact_id, email in people:
        if contact_id not in out:
            out[contact_id] = {"opportunity_id": opportunity_id, "contact_id": contact_id,
                               "email_norm": normalize_email(email) or None, "person_key": person_key(email)}
    return list(out.values())


def contact_name_rows(contact_id: str, key: str | None, properties: Any) -> list[dict[str, Any]]:
    """`person_names` rows of one contact snapshot (its family and given name properties)."""
    props = properties if isinstance(properties, dict) else {}
    family, given = (props.get(p) for p in MA_NAME_PROPERTIES)
    return name_rows("contact", contact_id, "", key, family if isinstance(family, str) else None,
                     given if isinstance(given, str) else None)


def deal_name_rows(opportunity_id: str, people: Iterable[tuple[str, str | None, str | None, str | None]],
                   ) -> list[dict[str, Any]]:
    """`person_names` rows of one deal snapshot from its (contact id, email, last name, first name)."""
    return unique_rows(row for contact_id, email, family, given in people
                       for row in name_rows("deal", opportunity_id, contact_id, person_key(email),
                                            family, given))


def _named_contacts(data: str) -> list[tuple[str, str | None, str | None, str | None]]:
    try:
        return [(c["contact_id"], c.get("email"), c.get("last_name"), c.get("first_name"))
                for c in json.loads(data).get("contacts") or ()]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise damaged_value("deal snapshot", exc) from None


def _index_names(conn: Connection) -> None:
    """`person_names`, filled from the snapshots already stored (one pass over each, in batches)."""
    person_names.create(conn, checkfirst=True)
    c = contacts.c
    for rows in _hubspot_contact_pages(conn, c.person_key, c.properties):
        names = [n for r in rows for n in contact_name_rows(r.contact_id, r.person_key, _json(r.properties))]
        if names:
            conn.execute(person_names.insert(), names)
    for rows in _deal_pages(conn):
        names = [n for r in rows for n in deal_name_rows(r.opportunity_id, _named_contacts(r.data))]
        if names:
            conn.execute(person_names.insert(), names)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError) as exc:
        raise damaged_value("stored contact properties", exc) from None


def _stored_contacts(data: str) -> list[tuple[str, str | None]]:
    try:
        return [(c["contact_id"], c.get("email")) for c in json.loads(data).get("contacts") or ()]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise damaged_value("deal snapshot", exc) from None


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _create_v1),
    Migration(2, "write intents (pending_writes) for crash recovery", _create_pending_writes),
    Migration(3, "lost dates from stage history: read every deal again", _reread_deals),
    Migration(4, "list ids kept between runs (list_ids)", _create_list_ids),
    Migration(5, "the org and portal the state belongs to (bindings)", _create_bindings),
    Migration(6, "people resolved in the database (contacts.person_key, deal_contacts)", _index_people),
    Migration(7, "stage history and recycle cycles (assignments, stage_moves, recycle_cycles); deals read "
                 "again for their opening dates",
              _create_history),
    Migration(8, "indexes the report reads instead of its tables", _index_report),
    Migration(9, "new deals on a recycled person's account (deals.account_id, recycle_cycles.new_deal_via); "
                 "a cycle's first group is the one it was first worked in",
              _index_accounts),
    Migration(10, "admin console users and audit log (console_users, console_audit)", _create_console),
    Migration(11, "mapping versions saved from the console (mapping_versions); failures paged by id",
              _create_mapping_versions),
    Migration(12, "people's names searched by their start (person_names)", _index_names),
)
LATEST_VERSION = MIGRATIONS[-1].version


class SchemaTooNewError(StateStoreError, RuntimeError):
    """The database was upgraded by a newer leadsync than this one."""


class NotAStateStoreError(StateStoreError):
    """The database holds tables but is not a leadsync state store (no schema_version table)."""


def refuse_foreign(tables: Sequence[str]) -> None:
    """A database with tables but no `schema_version` was not made by leadsync: migrating it would
    mix leadsync's tables with someone else's (and a foreign `runs` table would break every command)."""
    if tables and schema_version.name not in tables:
        shown = ", ".join(sorted(tables)[:8]) + (", ..." if len(tables) > 8 else "")
        raise NotAStateStoreError(
            f"it is not a leadsync state store (it has tables {shown} but no schema_version): point "
            "state.url at leadsync's own database, or at a new file or an empty database")


def current_version(conn: Connection) -> int:
    """The highest applied migration, 0 for an empty database."""
    if not sa.inspect(conn).has_table(schema_version.name):
        return 0
    return int(conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0)


def migrate(engine: Engine, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply the missing migrations in order; returns the versions applied (empty when up to date).

    Runs in one transaction, so a failure leaves the database at its previous version. Two processes
    migrating at once are serialised; the second finds nothing left to do.
    """
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, ... in order, got {versions}")
    with engine.connect() as conn:
        if current_version(conn) == (versions[-1] if versions else 0):
            return []  # fast path: no lock taken when up to date
    with engine.begin() as conn:
        _serialise(conn)
        refuse_foreign(sa.inspect(conn).get_table_names())
        schema_version.create(conn, checkfirst=True)
        have = current_version(conn)
        latest = versions[-1] if versions else 0
        if have > latest:
            raise SchemaTooNewError(
                f"it is at schema version {have}, newer than this leadsync knows ({latest}): a newer "
                "leadsync upgraded it; upgrade leadsync"
            )
        applied: list[int] = []
        for m in migrations:
            if m.version <= have:
                continue
            m.apply(conn)
            conn.execute(schema_version.insert().values(
                version=m.version, description=m.description, applied_at=datetime.now(UTC)))
            applied.append(m.version)
        return applied


def _serialise(conn: Connection) -> None:
    """Take a database-wide write lock for the rest of this transaction, where the backend has one."""
    name = conn.dialect.name
    if name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x1EAD5C})


def table_names() -> list[str]:
    """Every table the latest schema has (for docs and tests)."""
    return sorted(metadata.tables)


def column_names(table: str) -> list[str]:
    return [c.name for c in metadata.tables[table].columns]
