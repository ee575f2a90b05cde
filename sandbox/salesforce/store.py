"""The in-memory org: one table per object, ids, validation on every write, indexes, rollback.

Records are sparse (a missing key is null, or the field's default for booleans) and stored compact as
read-only `Row` mappings (rows.py). A write never changes a stored row: it builds a dict from it and
stores a new row, so query cursors keep the rows they selected and a rollback restores the old row.
Everything goes through `lock` (the HTTP server thread and a test
seeding data may run at once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from . import rules
from .errors import RecordError
from .history import HISTORY_FIELDS, HistoryRows, ParentChain
from .ids import ORG_ID18, id_number, make_id, normalize_id
from .indexes import EqIndex, RangeIndex, RefIndex
from .rows import Row, Shapes
from .schema import FieldDef, ObjectDef, Schema, stage_rows, task_status_rows
from .values import coerce, parse_datetime

Record = Mapping[str, Any]  # a stored row is a `Row`; a row being built is a dict
DEFAULT_USERNAME = "leadsync@sandbox.example"
UNINDEXED = frozenset({"CreatedById", "LastModifiedById"})  # one value for every row: useless, costly
RANGE_FIELDS = {"OpportunityHistory": ("SystemModstamp", "CreatedDate")}

# Children deleted with their parent (to the recycle bin, IsDeleted = true, visible to queryAll): an
# opportunity's contact roles and stage history go with it (UNVERIFIED: no source found stating it;
# leadsync keeps a deleted deal's roles either way, reading them by id when a subquery answers none).
CASCADE: dict[str, tuple[tuple[str, str], ...]] = {
    "Opportunity": (("OpportunityContactRole", "OpportunityId"), ("OpportunityHistory", "OpportunityId")),
}


def _copy(rec: Record) -> dict[str, Any]:
    return rec.to_dict() if type(rec) is Row else dict(rec)


_STRING_KINDS = frozenset({"string", "textarea", "phone", "url", "combobox", "picklist", "email"})


def _trusted(obj: ObjectDef, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form `values.coerce` gives valid `fields`, without its checks: "" is null for text,
    numbers are ints or floats by field type."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        kind = obj.by_name[name].type
        if value is None or (value == "" and kind in _STRING_KINDS):
            out[name] = None
        elif kind in ("double", "currency", "percent"):
            out[name] = float(value)
        elif kind == "int":
            out[name] = int(value)
        else:
            out[name] = value
    return out


def value_of(rec: Record, fd: FieldDef) -> Any:
    return rec.get(fd.name, fd.default if fd.type == "boolean" else None)


class Table:
    """The rows of one object, in creation (= id) order, with their indexes."""

    def __init__(self, obj: ObjectDef):
        self.obj = obj
        self.rows: MutableMapping[str, Row] = {}
        self.shapes = Shapes()
        self.counter = 0
        self.eq: dict[str, EqIndex | ParentChain] = {  # RefIndex for references
            f.name: RefIndex() if f.type == "reference" else EqIndex()
            for f in obj.fields
            if (f.type in ("reference", "email") or f.external_id or f.unique) and f.name not in UNINDEXED
        }
        self.unique = [f.name for f in obj.fields if f.unique]
        self.ranges: dict[str, RangeIndex] = {
            name: RangeIndex(name, obj.key_prefix) for name in RANGE_FIELDS.get(obj.name, ("SystemModstamp",))
        }
        if obj.name == "OpportunityHistory" and {f.name for f in obj.fields} <= HISTORY_FIELDS:
            # stored as columns (history.py): the largest table of a demo book by far
            stages = next(f.picklist for f in obj.fields if f.name == "StageName")
            self.rows = HistoryRows(self.shapes, stages)
            self.eq["OpportunityId"] = ParentChain()

    def put(self, rid: str, rec: Record) -> None:
        """Store `rec` as row `rid` (compact: a `Row`, or packed columns for history)."""
        rows = self.rows
        if type(rows) is dict:
            rows[rid] = self.shapes.row(rec)
        else:
            rows[rid] = rec

    def index(self, rec: Record) -> None:
        rid = rec["Id"]
        for name, idx in self.eq.items():
            idx.add(rec.get(name), rid)
        number = id_number(rid)
        for name, ridx in self.ranges.items():
            ridx.add(rec.get(name), number)

    def unindex(self, rec: Record) -> None:
        rid = rec["Id"]
        for name, idx in self.eq.items():
            idx.remove(rec.get(name), rid)
        for name, ridx in self.ranges.items():
            ridx.remove(rec.get(name), rid)

    def reindex(self, old: Record, new: Record) -> None:
        """Move index entries of fields whose value changed between two versions of one row."""
        rid = new["Id"]
        if type(old) is Row:
            old = old.to_dict()
        for name, idx in self.eq.items():
            before, after = old.get(name), new.get(name)
            if before != after:
                idx.remove(before, rid)
                idx.add(after, rid)
        number = -1
        for name, ridx in self.ranges.items():
            before, after = old.get(name), new.get(name)
            if before != after:
                if number < 0:
                    number = id_number(rid)
                ridx.remove(before, rid)
                ridx.add(after, number)

    def current(self, field: str) -> Callable[[str], Any]:
        rows = self.rows
        if isinstance(rows, HistoryRows):
            from_column = rows.instant(field)
            if from_column is not None:
                return from_column
        return lambda rid: rows[rid].get(field) if rid in rows else None


class Journal:
    """Undo log of one all-or-none operation."""

    def __init__(self, store: Store):
        self._store = store
        self.entries: list[tuple[Table, str, Record | None]] = []  # (table, id, previous row or None)

    def rollback(self) -> None:
        for table, rid, previous in reversed(self.entries):
            current = table.rows.get(rid)
            if current is not None:
                table.unindex(current)
            if previous is None:
                table.rows.pop(rid, None)
            else:
                table.rows[rid] = previous
                table.index(previous)
        self.entries.clear()


class Store:
    """Public handle: `create`, `update`, `delete`, `upsert`, `get`, `all` (see the package docs)."""

    def __init__(self, schema: Schema, clock: Callable[[], datetime]):
        self.schema = schema
        self.clock = clock
        self.lock = threading.RLock()
        self._journal: Journal | None = None
        self.tables: dict[str, Table] = {}
        self.user_id = ""
        self.org_id = ORG_ID18  # the org's 18-character id (the Organization row; see `reset`)
        self.allow_inactive_task_owners = False  # see rules.INACTIVE_OWNER
        self.reset()

    def reset(self) -> None:
        """Empty every table, then create the integration user (whose id stays the same) and the org's
        OpportunityStage rows."""
        with self.lock:
            self.tables = {name: Table(obj) for name, obj in self.schema.objects.items()}
            self.user_id = make_id("005", 1)
            at = self.now()
            user = {
                "Id": self.user_id,
                "Username": DEFAULT_USERNAME,
                "Email": DEFAULT_USERNAME,
                "FirstName": "Leadsync",
                "LastName": "Integration",
                "Name": "Leadsync Integration",
                "Alias": "lsync",
                "IsActive": True,
                "CreatedDate": at,
                "CreatedById": self.user_id,
                "LastModifiedDate": at,
                "LastModifiedById": self.user_id,
                "SystemModstamp": at,
            }
            table = self.tables["User"]
            table.counter = 1
            row = table.shapes.row(user)
            table.rows[self.user_id] = row
            table.index(row)
            org = {"Id": self.org_id, "Name": "leadsync sandbox", "OrganizationType": "Enterprise Edition",
                   "IsSandbox": True, "InstanceName": "SB1", "CreatedDate": at, "CreatedById": self.user_id,
                   "LastModifiedDate": at, "LastModifiedById": self.user_id, "SystemModstamp": at}
            orgs = self.tables["Organization"]
            org_row = orgs.shapes.row(org)
            orgs.rows[self.org_id] = org_row
            orgs.index(org_row)
            for row in stage_rows():  # the org's stages (read-only over the API)
                row.update(LastModifiedDate=at, LastModifiedById=self.user_id)
                self.insert_system_row("OpportunityStage", row, at=at, user_id=self.user_id)
            for row in task_status_rows():  # the org's task statuses (read-only over the API)
                row.update(LastModifiedDate=at, LastModifiedById=self.user_id)
                self.insert_system_row("TaskStatus", row, at=at, user_id=self.user_id)

    def now(self) -> datetime:
        return parse_datetime(self.clock())

    # ------------------------------------------------------------ lookups
    def table(self, sobject: str) -> Table:
        obj = self.schema.get(sobject)
        if obj is None:
            raise RecordError("NOT_FOUND", f"sObject type '{sobject}' is not supported.")
        return self.tables[obj.name]

    def lookup(self, record_id: str) -> tuple[ObjectDef, Record] | None:
        obj = self.schema.by_prefix(record_id)
        if obj is None:
            return None
        rec = self.tables[obj.name].rows.get(record_id)
        return (obj, rec) if rec is not None else None

    def get(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        """All fields of one record (deleted ones too, with IsDeleted=True), or None."""
        with self.lock:
            table = self.table(sobject)
            rec = table.rows.get(normalize_id(record_id) or "")
            return None if rec is None else self.public(table.obj, rec)

    def all(self, sobject: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            table = self.table(sobject)
            return [
                self.public(table.obj, rec)
                for rec in table.rows.values()
                if include_deleted or not rec.get("IsDeleted")
            ]

    @staticmethod
    def public(obj: ObjectDef, rec: Record) -> dict[str, Any]:
        return {f.name: value_of(rec, f) for f in obj.fields}

    # ------------------------------------------------------------ writes
    def create(self, sobject: str, fields: Mapping[str, Any], *, at: datetime | str | None = None) -> str:
        """Insert one record (validated like the API); returns its 18-character Id."""
        with self.lock:
            table = self.table(sobject)
            obj = table.obj
            self._writable(obj, obj.createable, "insert")
            when = parse_datetime(at) if at is not None else self.now()
            changes = self._prepare(obj, fields, creating=True)
            rec = self._new_row(obj, changes)
            missing = [name for name in obj.required if rec.get(name) is None]
            if missing:
                raise RecordError(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
                )
            self._derive(obj, rec, changes, None, when)
            rec.update(self._check_references(obj, changes))
            self._check_unique(table, rec, None)
            rules.validate(self, obj.name, rec, True)
            return self._insert(table, rec, when)

    def _insert(self, table: Table, rec: dict[str, Any], when: datetime) -> str:
        table.counter += 1
        rid = make_id(table.obj.key_prefix, table.counter)
        rec["Id"] = rid
        self._stamp(table, rec, when, created=True)
        self._put(table, rid, rec)
        rules.after_write(self, table.obj.name, None, rec, when)
        return rid

    def _new_row(self, obj: ObjectDef, changes: Mapping[str, Any]) -> dict[str, Any]:
        rec: dict[str, Any] = {
            name: self.user_id if default == "$user" else default for name, default in obj.defaults.items()
        }
        rec.update(changes)
        return rec

    # ------------------------------------------------------------ trusted writes (demo data)
    def load(self, sobject: str, fields: Mapping[str, Any], *, at: datetime) -> str:
        """Insert a record the sandbox generated itself (demo_load): the row `create` would build from
        the same fields (defaults, derived fields, Id, system fields, indexes, history rows), without
        checking them. `fields` use the exact field names and valid values; references must be ids this
        store returned. Everything that comes through the API goes through `create`."""
        with self.lock:
            table = self.tables[sobject]
            obj = table.obj
            changes = _trusted(obj, fields)
            rec = self._new_row(obj, changes)
            self._derive(obj, rec, changes, None, parse_datetime(at))
            return self._insert(table, rec, parse_datetime(at))

    def load_update(self, sobject: str, record_id: str, fields: Mapping[str, Any], *, at: datetime) -> None:
        """`update` for demo data, unchecked like `load`."""
        with self.lock:
            table = self.tables[sobject]
            obj = table.obj
            old = table.rows[record_id]
            changes = _trusted(obj, fields)
            rec = _copy(old)
            self._apply(rec, changes)
            when = parse_datetime(at)
            self._derive(obj, rec, changes, old, when)
            self._stamp(table, rec, when, created=False)
            self._put(table, record_id, rec)
            rules.after_write(self, obj.name, old, rec, when)

    def _derive(self, obj: ObjectDef, rec: dict[str, Any], changes: dict[str, Any], old: Record | None,
                when: datetime) -> None:
        """The fields the org sets itself on a save (`rules.DERIVE`; a Task's from its TaskStatus)."""
        derive = rules.DERIVE.get(obj.name)
        if derive:
            derive(rec, changes, old is None)
        if obj.name == "Task":
            rules.task_closed(self, rec, old, when)

    @staticmethod
    def _apply(rec: dict[str, Any], changes: Mapping[str, Any]) -> None:
        for name, value in changes.items():
            if value is None:
                rec.pop(name, None)
            else:
                rec[name] = value

    def update(
        self, sobject: str, record_id: str, fields: Mapping[str, Any], *, at: datetime | str | None = None
    ) -> None:
        """Change fields of one record; raises RecordError (ENTITY_IS_DELETED, MALFORMED_ID, ...)."""
        with self.lock:
            table = self.table(sobject)
            obj = table.obj
            self._writable(obj, obj.updateable, "update")
            old = self._existing(table, record_id)
            when = parse_datetime(at) if at is not None else self.now()
            changes = self._prepare(obj, fields, creating=False)
            for name, value in changes.items():
                if value is None and (obj.by_name[name].required or not obj.by_name[name].nillable):
                    raise RecordError(
                        "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name]
                    )
            rec = _copy(old)
            self._apply(rec, changes)
            self._derive(obj, rec, changes, old, when)
            rec.update(self._check_references(obj, changes))
            self._check_unique(table, rec, old["Id"])
            rules.validate(self, obj.name, rec, False, old)
            self._stamp(table, rec, when, created=False)
            self._put(table, old["Id"], rec)
            rules.after_write(self, obj.name, old, rec, when)

    def delete(self, sobject: str, record_id: str, *, at: datetime | str | None = None) -> None:
        """Move a record to the recycle bin: IsDeleted=true, still visible to queryAll."""
        with self.lock:
            table = self.table(sobject)
            if not table.obj.deletable:
                raise RecordError("INVALID_TYPE", f"entity type {table.obj.name} does not support delete")
            old = self._existing(table, record_id)
            rec = _copy(old)
            rec["IsDeleted"] = True
            when = parse_datetime(at) if at is not None else self.now()
            self._stamp(table, rec, when, created=False)
            self._put(table, old["Id"], rec)
            for child, lookup in CASCADE.get(table.obj.name, ()):
                kids = self.tables[child]
                for kid_id in sorted(kids.eq[lookup].find(old["Id"])) if lookup in kids.eq else [
                        k for k, r in kids.rows.items() if r.get(lookup) == old["Id"]]:
                    kid = kids.rows[kid_id]
                    if not kid.get("IsDeleted"):
                        gone = _copy(kid)
                        gone["IsDeleted"] = True
                        self._stamp(kids, gone, when, created=False)
                        self._put(kids, kid_id, gone)

    def upsert(
        self,
        sobject: str,
        id_field: str,
        id_value: Any,
        fields: Mapping[str, Any],
        *,
        at: datetime | str | None = None,
    ) -> tuple[str, bool]:
        """Update the record whose external id `id_field` equals `id_value`, or create it.
        Returns (Id, created). Several matches raise MULTIPLE_CHOICES (`RecordError.fields` = ids)."""
        with self.lock:
            table = self.table(sobject)
            fd = table.obj.field(id_field)
            if fd is None or not (fd.external_id or fd.name == "Id"):
                raise RecordError(
                    "INVALID_FIELD",
                    f"Field {id_field} is not an external id field on {table.obj.name}",
                    [id_field],
                )
            if fd.name == "Id":
                if id_value:
                    self.update(sobject, str(id_value), fields, at=at)
                    return normalize_id(id_value) or str(id_value), False
                return self.create(sobject, fields, at=at), True
            body = {k: v for k, v in fields.items() if k.lower() != fd.name.lower()}
            if id_value is None or id_value == "":
                raise RecordError(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{fd.name}]", [fd.name]
                )
            matches = sorted(
                rid
                for rid in table.eq[fd.name].find(coerce(fd, id_value))
                if not table.rows[rid].get("IsDeleted")
            )
            if len(matches) > 1:
                raise RecordError(
                    "MULTIPLE_CHOICES", f"more than one record found for external id field {fd.name}", matches
                )
            if matches:
                self.update(sobject, matches[0], body, at=at)
                return matches[0], False
            return self.create(sobject, {**body, fd.name: id_value}, at=at), True

    def insert_system_row(self, sobject: str, values: Record, *, at: datetime, user_id: str) -> str:
        """A row the org writes itself (OpportunityHistory, OpportunityStage): no field-level write checks."""
        table = self.tables[sobject]
        table.counter += 1
        rid = make_id(table.obj.key_prefix, table.counter)
        rec = {k: v for k, v in values.items() if v is not None}
        rec.update(Id=rid, CreatedDate=at, CreatedById=user_id, SystemModstamp=at)
        self._put(table, rid, rec)
        return rid

    # ------------------------------------------------------------ all-or-none
    @contextmanager
    def atomic(self) -> Iterator[Journal]:
        """Record every write made inside; `journal.rollback()` undoes them (also on an exception)."""
        with self.lock:
            if self._journal is not None:
                raise RuntimeError("nested atomic blocks are not supported")
            journal = Journal(self)
            self._journal = journal
            try:
                yield journal
            except BaseException:
                journal.rollback()
                raise
            finally:
                self._journal = None

    # ------------------------------------------------------------ internals
    @staticmethod
    def _writable(obj: ObjectDef, allowed: bool, operation: str) -> None:
        """Objects the org writes itself (OpportunityHistory, OpportunityStage) refuse API writes, with
        the code and wording delete uses here (the exact real message is unverified)."""
        if not allowed:
            raise RecordError("INVALID_TYPE", f"entity type {obj.name} does not support {operation}")

    def _existing(self, table: Table, record_id: str) -> Record:
        rid = normalize_id(record_id)
        if rid is None or rid[:3] != table.obj.key_prefix:
            raise RecordError(
                "MALFORMED_ID", f"{table.obj.label} ID: id value of incorrect type: {record_id}", ["Id"]
            )
        old = table.rows.get(rid)
        if old is None:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        if old.get("IsDeleted"):
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [])
        return old

    def _prepare(self, obj: ObjectDef, fields: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, raw in fields.items():
            if key == "attributes":
                continue
            fd = obj.by_name.get(key) or obj.by_lower.get(key.lower())
            if fd is None:
                raise RecordError(
                    "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", [key]
                )
            if not (fd.createable if creating else fd.updateable):  # (rare) read-only field
                if fd.name == "Id" and creating:
                    raise RecordError(
                        "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
                    )
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {fd.name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile "
                    "or permission set.",
                    [fd.name],
                )
            values[fd.name] = coerce(fd, raw)
        return values

    def _check_references(self, obj: ObjectDef, changes: Record) -> dict[str, Any]:
        """Raise unless every reference in `changes` names a live record of an allowed type; returns
        the references as the target's own Id string (one string per id in the whole store, not one
        per reference: at a million records the copies would cost ~70 bytes each)."""
        canonical: dict[str, Any] = {}
        for name, value in changes.items():
            fd = obj.by_name[name]
            if fd.type != "reference" or value is None:
                continue
            target = self.schema.by_prefix(value)
            if target is None or target.name not in fd.reference_to:
                raise RecordError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"{fd.display_label}: id value of incorrect type: {value}",
                    [name],
                )
            rec = self.tables[target.name].rows.get(value)
            if rec is None:
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])
            if rec.get("IsDeleted"):
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [name])
            canonical[name] = rec["Id"]
        return canonical

    def _check_unique(self, table: Table, rec: Record, own_id: str | None) -> None:
        for name in table.unique:
            if rec.get(name) is None:
                continue
            for other in table.eq[name].find(rec[name]):
                if other != own_id and not table.rows[other].get("IsDeleted"):
                    raise RecordError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {name} duplicates value on record with id: {other}",
                        [name],
                    )

    def _stamp(self, table: Table, rec: dict[str, Any], when: datetime, *, created: bool) -> None:
        if created:
            rec["CreatedDate"] = when
            rec["CreatedById"] = self.user_id
        if "LastModifiedDate" in table.obj.by_name:
            rec["LastModifiedDate"] = when
            rec["LastModifiedById"] = self.user_id
        rec["SystemModstamp"] = when

    def _put(self, table: Table, rid: str, rec: Record) -> None:
        previous = table.rows.get(rid)
        table.put(rid, rec)  # indexed below from `rec` (the same values, read faster)
        if previous is None:
            table.index(rec)
        else:
            table.reindex(previous, rec)
        if self._journal is not None:
            self._journal.entries.append((table, rid, previous))
