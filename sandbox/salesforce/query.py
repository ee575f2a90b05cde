"""Running a parsed SOQL query against the store: field resolution, index planning, filtering,
ordering, and the JSON shape of each row (parent relationships nested with their own `attributes`,
child relationship subqueries as `{totalSize, done, records}`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from . import filters
from .errors import ApiError
from .indexes import index_key
from .schema import STRING_TYPES, FieldDef, ObjectDef
from .soql import Comparison, Count, FieldPath, InValues, Query, SoqlSyntaxError, parse
from .store import Record, Store, Table, value_of
from .values import to_csv, to_json

Getter = Callable[[Record], Any]
Overflow = Callable[["Compiled", list[Record], int], str]  # (child query, all its rows, rows given) -> url
MAX_OFFSET = 2000
# A child relationship subquery answers at most this many rows per parent inline; the rest come from the
# child result's own nextRecordsUrl (`done: false`), one queryMore call each. The number is not
# documented: captured answers show 199 of 257 child rows inline (jsforce PR #1752) and a child locator
# at row 499 (simple-salesforce issue #311); the emulator takes the lower, ~200 (PARTLY VERIFIED).
CHILD_INLINE = 200
# "Maximum length of SOQL statements: by default, 100,000 characters" (Salesforce App Limits
# cheatsheet, "SOQL and SOSL Limits for Search Queries"). VERIFIED limit; the error code and text for a
# longer statement are UNVERIFIED (the emulator answers MALFORMED_QUERY).
MAX_SOQL_CHARS = 100_000


def invalid_field(name: str, obj: ObjectDef) -> ApiError:
    return ApiError(
        400,
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{obj.name}'. If you are "
        "attempting to use a custom field, be sure to append the '__c' after the custom field "
        "name. Please reference your WSDL or the describe call for the appropriate names.",
    )


@dataclass(frozen=True)
class Resolved:
    """A field path checked against the schema."""

    hops: tuple[FieldDef, ...]  # reference fields followed from the root object
    field: FieldDef  # the final field (on the first target that has it, for polymorphic hops)
    names: tuple[str, ...]  # canonical spelling: relationship names then the field name


def resolve(obj: ObjectDef, path: FieldPath, schema_get: Callable[[str], ObjectDef | None]) -> Resolved:
    hops: list[FieldDef] = []
    names: list[str] = []
    current: list[ObjectDef] = [obj]
    for part in path.parts[:-1]:
        hop = next(
            (o.relationships.get(part.lower()) for o in current if part.lower() in o.relationships), None
        )
        if hop is None:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"Didn't understand relationship '{part}' in field path. If "
                "you are attempting to use a custom relationship, be sure to append the '__r' after "
                "the custom relationship name. Please reference your WSDL or the describe call for "
                "the appropriate names.",
            )
        if len(current) > 1:
            raise ApiError(
                400, "INVALID_FIELD", f"polymorphic relationship '{names[-1]}' can only be followed one level"
            )
        hops.append(hop)
        names.append(hop.relationship_name or part)
        current = [o for o in (schema_get(t) for t in hop.reference_to) if o is not None]
    last = path.parts[-1]
    found = next((f for f in (o.field(last) for o in current) if f is not None), None)
    if found is None:
        raise invalid_field(last, current[0])
    names.append(found.name)
    return Resolved(tuple(hops), found, tuple(names))


@dataclass
class Spec:
    """What to output for rows of one object: ordered keys -> field name, parent spec or child query."""

    fields: dict[str, str] = field(default_factory=dict)
    parents: dict[str, tuple[FieldDef, Spec]] = field(default_factory=dict)
    children: dict[str, Compiled] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)


@dataclass
class Compiled:
    obj: ObjectDef
    table: Table
    predicate: Callable[[Record], bool] | None
    candidates: Callable[[], Iterable[str]] | None
    sort: list[tuple[Getter, bool, bool]]
    limit: int | None
    offset: int
    spec: Spec
    count: Count | None
    columns: list[Resolved]
    getters: list[Getter]
    long_text_fields: int
    child_field: str | None = None  # for a child subquery: the lookup field to its parent


class QueryEngine:
    def __init__(self, store: Store):
        self.store = store
        # whether a queryAll child subquery returns deleted children (UNVERIFIED which Salesforce does;
        # True: like the top level). False makes a deleted deal's subquery answer no roles.
        self.subquery_deleted_children = True

    # ------------------------------------------------------------ compile
    def compile(self, text: str, today: date) -> Compiled:
        if len(text) > MAX_SOQL_CHARS:
            raise filters.malformed(f"SOQL statements cannot be longer than {MAX_SOQL_CHARS:,} characters")
        try:
            ast = parse(text)
        except SoqlSyntaxError as exc:
            raise filters.malformed(str(exc)) from None
        return self._compile(ast, today, parent=None)

    def _table(self, name: str) -> Table:
        obj = self.store.schema.get(name)
        if obj is None:
            raise ApiError(
                400,
                "INVALID_TYPE",
                f"\nsObject type '{name}' is not supported. If you are attempting "
                "to use a custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
            )
        return self.store.tables[obj.name]

    def _getter(self, res: Resolved) -> Getter:
        fd = res.field
        if not res.hops:
            name, default = fd.name, (fd.default if fd.type == "boolean" else None)
            return lambda rec: rec.get(name, default)
        lookup = self.store.lookup
        hops = [h.name for h in res.hops]

        def follow(rec: Record) -> Any:
            current = rec
            for hop in hops:
                rid = current.get(hop)
                found = lookup(rid) if rid else None
                if found is None:
                    return None
                current = found[1]
            target = found[0].by_name.get(fd.name)
            return value_of(current, target) if target else None

        return follow

    def _compile(self, ast: Query, today: date, parent: ObjectDef | None) -> Compiled:
        child_field = None
        if parent is not None:
            rel = parent.child_relationship(ast.sobject)
            if rel is None:
                raise ApiError(
                    400,
                    "INVALID_TYPE",
                    f"Didn't understand relationship '{ast.sobject}' in FROM part of query call.",
                )
            table, child_field = self.store.tables[rel.child], rel.field
        else:
            table = self._table(ast.sobject)
        obj = table.obj
        schema_get = self.store.schema.get
        spec, columns, count, long_text = Spec(), [], None, 0
        seen: set[str] = set()
        for item in ast.select:
            if isinstance(item, Count):
                if len(ast.select) > 1 or parent is not None:
                    raise filters.malformed("COUNT() must be the only element in the SELECT list")
                if item.field is not None:
                    resolve(obj, item.field, schema_get)
                count = item
                continue
            if isinstance(item, Query):
                if parent is not None:
                    raise filters.malformed("Nesting of child relationship subqueries is not supported")
                sub = self._compile(item, today, parent=obj)
                key = obj.child_relationship(item.sobject).name  # type: ignore[union-attr]
                spec.children[key] = sub
                spec.order.append(key)
                continue
            res = resolve(obj, item, schema_get)
            text = ".".join(res.names).lower()
            if text in seen:
                raise filters.malformed(f"duplicate field selected: {'.'.join(res.names)}")
            seen.add(text)
            long_text += res.field.long_text
            columns.append(res)
            self._add_to_spec(spec, res)
        predicate, candidates = None, None
        if ast.where is not None:
            predicate = filters.combine(ast.where, lambda leaf: self._leaf(obj, leaf, today))
            candidates = self._plan(table, ast.where, today) if parent is None else None
        sort = []
        for item in ast.order_by:
            res = resolve(obj, item.field, schema_get)
            if res.field.long_text:
                raise filters.malformed(f"field '{res.field.name}' can not be sorted in a query call")
            get = self._getter(res)
            if res.field.type in STRING_TYPES:
                get = (lambda g: lambda rec: v.lower() if (v := g(rec)) is not None else None)(get)
            sort.append((get, item.descending, item.nulls_last))
        if ast.offset is not None and ast.offset > MAX_OFFSET:
            raise ApiError(400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        return Compiled(
            obj,
            table,
            predicate,
            candidates,
            sort,
            ast.limit,
            ast.offset or 0,
            spec,
            count,
            columns,
            [self._getter(c) for c in columns],
            long_text,
            child_field,
        )

    @staticmethod
    def _add_to_spec(spec: Spec, res: Resolved) -> None:
        node = spec
        for hop, name in zip(res.hops, res.names, strict=False):
            if name not in node.parents:
                node.parents[name] = (hop, Spec())
                node.order.append(name)
            node = node.parents[name][1]
        if res.names[-1] not in node.fields:
            node.fields[res.names[-1]] = res.field.name
            node.order.append(res.names[-1])

    def _leaf(self, obj: ObjectDef, leaf: Comparison | InValues, today: date) -> filters.Predicate:
        res = resolve(obj, leaf.field, self.store.schema.get)
        if res.field.long_text:
            raise filters.malformed(f"field '{res.field.name}' can not be filtered in a query call")
        get = self._getter(res)
        if isinstance(leaf, Comparison):
            return filters.comparison(leaf, res.field, get, today)
        semi = None
        if isinstance(leaf.values, Query):
            sub_ast = leaf.values
            if res.field.type not in ("id", "reference"):
                raise filters.malformed("semi join sub-selects are only allowed on Id or reference fields")
            sub = self._compile(sub_ast, today, parent=None)
            if len(sub.columns) != 1 or sub.spec.children or sub.count is not None:
                raise filters.malformed("semi join sub-selects must select exactly one field")
            sub_get = self._getter(sub.columns[0])
            semi = (lambda s, g: lambda: {g(r) for r in self.rows(s, include_deleted=False)})(sub, sub_get)
        return filters.membership(leaf, res.field, get, today, semi)

    # ------------------------------------------------------------ planning
    def _plan(self, table: Table, where: Any, today: date) -> Callable[[], Iterable[str]] | None:
        """Candidate ids from an index for one top-level AND term, or None for a full scan."""
        terms = where.items if getattr(where, "op", None) == "and" else (where,)
        best: set[str] | None = None
        ranged = None
        for term in terms:
            if not isinstance(term, Comparison | InValues) or len(term.field.parts) != 1:
                continue
            fd = table.obj.field(term.field.parts[0])
            if fd is None:
                continue
            if fd.name in table.eq and isinstance(term, Comparison) and term.op == "=":
                value = filters.literal_value(fd, term.value, today)
                if value is not None and not isinstance(value, tuple):
                    ids = table.eq[fd.name].find(index_key(value))
                    best = ids if best is None or len(ids) < len(best) else best
            elif (
                fd.name in table.eq
                and isinstance(term, InValues)
                and not term.negate
                and isinstance(term.values, tuple)
            ):
                ids = set()
                for lit in term.values:
                    value = filters.literal_value(fd, lit, today)
                    if value is not None:
                        ids |= table.eq[fd.name].find(index_key(value))
                best = ids if best is None or len(ids) < len(best) else best
            elif (
                fd.name in table.ranges
                and isinstance(term, Comparison)
                and term.op in ("<", "<=", ">", ">=", "=")
                and term.value.kind == "datetime"
            ):
                ranged = self._range(table, fd.name, term.op, term.value.value)
        if best is not None:
            found = best
            return lambda: sorted(found)
        return ranged

    @staticmethod
    def _range(table: Table, name: str, op: str, value: Any) -> Callable[[], Iterable[str]]:
        low = value if op in (">", ">=", "=") else None
        high = value if op in ("<", "<=", "=") else None
        index, current = table.ranges[name], table.current(name)
        return lambda: sorted(index.find(low, high, op != ">", op != "<", current))

    # ------------------------------------------------------------ execution
    def rows(
        self, compiled: Compiled, *, include_deleted: bool, parent_id: str | None = None
    ) -> list[Record]:
        table = compiled.table
        if parent_id is not None and compiled.child_field:
            ids: Iterable[str] = sorted(table.eq[compiled.child_field].find(parent_id))
        elif compiled.candidates is not None:
            ids = compiled.candidates()
        else:
            ids = table.rows.keys()
        pred = compiled.predicate
        rows_map = table.rows
        out = []
        for rid in ids:
            rec = rows_map[rid]
            if (include_deleted or not rec.get("IsDeleted")) and (pred is None or pred(rec)):
                out.append(rec)
        for get, descending, nulls_last in reversed(compiled.sort):
            nulls_high = nulls_last != descending  # where nulls go in an ascending sort
            out.sort(
                key=lambda r, g=get, h=nulls_high: (
                    (1, 0) if (v := g(r)) is None and h else (-1, 0) if v is None else (0, v)
                ),
                reverse=descending,
            )
        end = None if compiled.limit is None else compiled.offset + compiled.limit
        return out[compiled.offset : end] if compiled.offset or end is not None else out

    def count(self, compiled: Compiled, rows: list[Record]) -> int:
        if compiled.count is None or compiled.count.field is None:
            return len(rows)
        get = self._getter(resolve(compiled.obj, compiled.count.field, self.store.schema.get))
        return sum(1 for r in rows if get(r) is not None)

    # ------------------------------------------------------------ rendering
    def render(
        self, compiled: Compiled, rec: Record, version: str, *, include_deleted: bool = False,
        overflow: Overflow | None = None,
    ) -> dict[str, Any]:
        """One row as JSON. With `overflow`, a child subquery with more than CHILD_INLINE rows for this
        parent answers the first CHILD_INLINE with `done: false` and the url `overflow` opens for the
        rest (without it, every child row inline: the Bulk CSV and tests that do not page)."""
        return self._render(compiled.obj, rec, compiled.spec, version, include_deleted, overflow)

    def children_cost(self, compiled: Compiled, rec: Record, *, include_deleted: bool) -> int:
        """Rows this parent's child subqueries put in a page (each capped at CHILD_INLINE): child rows
        count toward the batch size ("Child objects count toward the number of records for the batch
        size": SOAP API Developer Guide, QueryOptions header)."""
        deleted = include_deleted and self.subquery_deleted_children
        return sum(
            min(CHILD_INLINE, len(self.rows(child, include_deleted=deleted, parent_id=rec["Id"])))
            for child in compiled.spec.children.values()
        )

    def _render(
        self, obj: ObjectDef, rec: Record, spec: Spec, version: str, include_deleted: bool,
        overflow: Overflow | None = None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {
                "type": obj.name,
                "url": f"/services/data/v{version}/sobjects/{obj.name}/{rec['Id']}",
            }
        }
        for key in spec.order:
            if key in spec.fields:
                fd = obj.by_name.get(spec.fields[key])
                out[key] = to_json(fd, value_of(rec, fd)) if fd else None
            elif key in spec.parents:
                hop, sub = spec.parents[key]
                rid = rec.get(hop.name)
                found = self.store.lookup(rid) if rid else None
                out[key] = self._render(found[0], found[1], sub, version, include_deleted) if found else None
            else:
                child = spec.children[key]
                kids = self.rows(child, include_deleted=include_deleted and self.subquery_deleted_children,
                                 parent_id=rec["Id"])
                inline = kids if overflow is None else kids[:CHILD_INLINE]
                result: dict[str, Any] = {"totalSize": len(kids), "done": len(inline) == len(kids)}
                if len(inline) < len(kids):
                    result["nextRecordsUrl"] = overflow(child, kids, len(inline))  # type: ignore[misc]
                result["records"] = [self._render(child.obj, k, child.spec, version, include_deleted)
                                     for k in inline]
                out[key] = result if kids else None
        return out

    @staticmethod
    def csv_row(compiled: Compiled, rec: Record) -> list[str]:
        """The selected columns of one row as Bulk API CSV cells (parent fields flattened)."""
        return [
            to_csv(res.field, get(rec)) for res, get in zip(compiled.columns, compiled.getters, strict=True)
        ]


def headers_of(compiled: Compiled) -> list[str]:
    return [".".join(res.names) for res in compiled.columns]
