"""CRM search evaluation: filters, one sort, offset paging (requests are parsed in search_request.py).

filterGroups are ORed, filters inside a group ANDed. Values compare by the property's type: numbers
numerically, dates/datetimes as epoch ms (filter values may be epoch-ms strings or ISO), everything
else case-insensitively. A group is evaluated from the smallest index that covers one of its filters
(lastmodifieddate window, hs_object_id range, email equality) and the remaining filters are checked on
those candidates only, so windowed incremental searches stay fast on a million contacts.
"""

from __future__ import annotations

import fnmatch
import heapq
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .properties import PropertyDef
from .search_request import Filter, SearchRequest
from .serialize import property_names, public_object
from .store import ID_BITS, ID_MASK, Contact, ContactStore
from .timefmt import parse_ms

RANGE_OPS = frozenset({"EQ", "LT", "LTE", "GT", "GTE", "BETWEEN"})
QUERY_PROPERTIES = ("email", "firstname", "lastname", "company")
TOKEN_SPLIT = re.compile(r"[\s,;:/()\[\]<>\"']+")
INF = float("inf")

# ------------------------------------------------------------------------------------ evaluation

Getter = Callable[[Contact], Any]


def _getter(prop: PropertyDef) -> tuple[Getter, Callable[[str], Any]]:
    """(value of the contact in comparable form or None, converter for filter values)."""
    name = prop.name
    if name == "hs_object_id":
        return (lambda c: c.id), _num
    if name == "createdate":
        return (lambda c: c.created), _ms
    if name == "lastmodifieddate":
        return (lambda c: c.updated), _ms
    if prop.type == "number":
        return (lambda c: _num_or_none(c.values.get(name))), _num
    if prop.type in ("date", "datetime"):
        return (lambda c: _ms_or_none(c.values.get(name))), _ms
    return (lambda c: _low(c.values.get(name))), str.lower


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ApiError.validation(f"{text!r} is not a valid number for this filter") from None


def _ms(text: str) -> int:
    ms = parse_ms(text)
    if ms is None:
        raise ApiError.validation(f"{text!r} is not a valid date: use epoch milliseconds or ISO 8601")
    return ms


def _num_or_none(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def _ms_or_none(text: str | None) -> int | None:
    return None if text is None else parse_ms(text)


def _low(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _predicate(flt: Filter, prop: PropertyDef) -> Callable[[Contact], bool]:
    get, conv = _getter(prop)
    op = flt.op
    multi = prop.type == "enumeration" and prop.field_type == "checkbox"
    if op == "HAS_PROPERTY":
        return lambda c: get(c) is not None
    if op == "NOT_HAS_PROPERTY":
        return lambda c: get(c) is None
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = (flt.value or "").lower()
        if op == "CONTAINS_TOKEN":
            return lambda c: _contains_token(get(c), pattern)
        return lambda c: not _contains_token(get(c), pattern)
    if op in ("IN", "NOT_IN"):
        wanted = {conv(v) for v in flt.values}
        if multi:
            found: Callable[[Contact], bool] = lambda c: bool(_parts(get(c)) & wanted)  # noqa: E731
        else:
            found = lambda c: get(c) in wanted  # noqa: E731
        return found if op == "IN" else (lambda c: not found(c))
    value = conv(flt.value or "")
    if op == "EQ":
        return (lambda c: value in _parts(get(c))) if multi else (lambda c: get(c) == value)
    if op == "NEQ":
        return (lambda c: value not in _parts(get(c))) if multi else (lambda c: get(c) != value)
    if op == "BETWEEN":
        high = conv(flt.high or "")
        return lambda c: (v := get(c)) is not None and value <= v <= high
    compare = {
        "LT": lambda v: v < value,
        "LTE": lambda v: v <= value,
        "GT": lambda v: v > value,
        "GTE": lambda v: v >= value,
    }[op]
    return lambda c: (v := get(c)) is not None and compare(v)


def _parts(value: Any) -> set[Any]:
    return set(value.split(";")) if isinstance(value, str) else set()


def _contains_token(value: Any, pattern: str) -> bool:
    if value is None:
        return False
    text = str(value).lower()
    tokens = [text, *filter(None, TOKEN_SPLIT.split(text))]
    if "*" in pattern:
        return any(fnmatch.fnmatchcase(t, pattern) for t in tokens)
    return pattern in tokens


def _query_predicate(query: str) -> Callable[[Contact], bool]:
    words = [w for w in TOKEN_SPLIT.split(query.lower()) if w]

    def match(c: Contact) -> bool:
        text = " ".join(str(c.values.get(p, "")).lower() for p in QUERY_PROPERTIES)
        tokens = set(filter(None, re.split(r"[\s@.\-_]+", text))) | set(text.split())
        return all(any(t.startswith(w) for t in tokens) for w in words)

    return match


# ------------------------------------------------------------------------------------ planning


def _range_of(
    filters: Iterable[Filter], conv: Callable[[str], int | None]
) -> tuple[float, float, list[Filter]]:
    """Tightest integer [lo, hi] over the range filters on one integer-valued property, and the filters
    it covers (a filter with a non-integer bound is left as a residual check)."""
    lo: float = -INF
    hi: float = INF
    covered: list[Filter] = []
    for f in filters:
        if f.op not in RANGE_OPS:
            continue
        v = conv(f.value or "")
        h = conv(f.high or "") if f.op == "BETWEEN" else v
        if v is None or h is None:
            continue
        if f.op in ("EQ", "BETWEEN"):
            lo, hi = max(lo, v), min(hi, h)
        elif f.op in ("GT", "GTE"):
            lo = max(lo, v + 1 if f.op == "GT" else v)
        else:
            hi = min(hi, v - 1 if f.op == "LT" else v)
        covered.append(f)
    return lo, hi, covered


@dataclass(frozen=True)
class _Candidates:
    """Ids a group can match, from one index: how many, and a scan in the order of `order`."""

    count: int
    scan: Callable[[bool], Iterable[int]]  # reverse=True scans descending
    order: str
    covered: tuple[Filter, ...] = ()


def _by_updated(store: ContactStore, lo: float, hi: float, covered: tuple[Filter, ...]) -> _Candidates:
    index = store.by_updated
    lo_key = None if lo == -INF else int(lo) << ID_BITS
    hi_key = None if hi == INF else (int(hi) << ID_BITS) | ID_MASK
    count = (index.bisect_right(hi_key) if hi_key is not None else len(index)) - (
        index.bisect_left(lo_key) if lo_key is not None else 0
    )
    return _Candidates(
        count,
        lambda rev: (k & ID_MASK for k in index.irange(lo_key, hi_key, reverse=rev)),
        "lastmodifieddate",
        covered,
    )


def _by_id(store: ContactStore, lo: float, hi: float, covered: tuple[Filter, ...]) -> _Candidates:
    index = store.active_ids
    lo_i = None if lo == -INF else int(lo)
    hi_i = None if hi == INF else int(hi)
    count = (index.bisect_right(hi_i) if hi_i is not None else len(index)) - (
        index.bisect_left(lo_i) if lo_i is not None else 0
    )
    return _Candidates(count, lambda rev: index.irange(lo_i, hi_i, reverse=rev), "hs_object_id", covered)


def _candidates(group: tuple[Filter, ...], store: ContactStore, sort_prop: str) -> _Candidates:
    """The smallest index scan that covers one of the group's filters (all contacts, in the sort's
    order when it can be, if none does)."""
    options: list[_Candidates] = []
    for name, build in (("lastmodifieddate", _by_updated), ("hs_object_id", _by_id)):
        lo, hi, covered = _range_of(
            [f for f in group if f.prop == name], _ms if name == "lastmodifieddate" else _int_bound
        )
        if lo > hi:
            options.append(_Candidates(0, lambda rev: (), name, tuple(covered)))
        elif covered:
            options.append(build(store, lo, hi, tuple(covered)))
    for f in group:
        if f.prop == "email" and f.op in ("EQ", "IN"):
            emails = [f.value or ""] if f.op == "EQ" else list(f.values)
            ids = sorted({i for e in emails if (i := store.by_email.get(e.strip().lower())) is not None})
            options.append(
                _Candidates(len(ids), lambda rev, ids=ids: ids[::-1] if rev else ids, "hs_object_id", (f,))
            )
    if options:
        return min(options, key=lambda o: o.count)
    if sort_prop == "lastmodifieddate":
        return _by_updated(store, -INF, INF, ())
    return _by_id(store, -INF, INF, ())


def _int_bound(text: str) -> int | None:
    value = _num(text)
    return int(value) if value.is_integer() else None


def run(request: SearchRequest, store: ContactStore) -> dict[str, Any]:
    """Evaluate a parsed request against the store (caller holds `store.lock`)."""
    lagging = store.search_view()
    if lagging:
        return _run_lagging(request, store, lagging)
    schema = store.schema
    groups = request.groups or ((),)
    query_ok = _query_predicate(request.query) if request.query else None
    names = property_names(request.properties, {p.name for p in schema.all()})
    contact = store.contact
    matched: list[int] | set[int]
    order: str | None = None
    if len(groups) == 1:
        cand = _candidates(groups[0], store, request.sort_prop)
        checks = [_predicate(f, schema.get(f.prop)) for f in groups[0] if f not in cand.covered]  # type: ignore[arg-type]
        if query_ok:
            checks.append(query_ok)
        if not checks and cand.order == request.sort_prop:  # the index answers alone: count, then one slice
            page = list(
                itertools.islice(cand.scan(request.sort_desc), request.after, request.after + request.limit)
            )
            return _body(request, cand.count, [public_object(contact(i), names) for i in page])
        matched = [i for i in cand.scan(False) if all(chk(contact(i)) for chk in checks)]
        order = cand.order
    else:
        fast = _run_or_indexed(request, store, groups, query_ok, names)
        if fast is not None:
            return fast
        matched = set()
        for group in groups:
            cand = _candidates(group, store, request.sort_prop)
            checks = [_predicate(f, schema.get(f.prop)) for f in group if f not in cand.covered]  # type: ignore[arg-type]
            if query_ok:
                checks.append(query_ok)
            matched.update(i for i in cand.scan(False) if all(chk(contact(i)) for chk in checks))
    ordered = _sorted(matched, request, store, already=order)
    page = ordered[request.after : request.after + request.limit]
    return _body(request, len(ordered), [public_object(contact(i), names) for i in page])


def _run_or_indexed(
    request: SearchRequest,
    store: ContactStore,
    groups: tuple[tuple[Filter, ...], ...],
    query_ok: Callable[[Contact], bool] | None,
    names: list[str],
) -> dict[str, Any] | None:
    """ORed groups where the largest is answered by an index alone, in the sort's order (a keyset
    page: `GT t AND LT until` OR `EQ t AND hs_object_id NOT_IN [...]`): the other groups are
    evaluated, the largest is only counted and merged lazily, so a page costs what it returns plus the
    small groups, not the whole window. None when the shape does not fit (the general path answers)."""
    if query_ok is not None or request.sort_prop not in ("hs_object_id", "lastmodifieddate"):
        return None
    schema = store.schema
    cands = [_candidates(g, store, request.sort_prop) for g in groups]
    big_at = max(range(len(groups)), key=lambda k: cands[k].count)
    big, big_group = cands[big_at], groups[big_at]
    if big.order != request.sort_prop or any(f not in big.covered for f in big_group):
        return None
    contact = store.contact
    big_checks = [_predicate(f, schema.get(f.prop)) for f in big_group]  # type: ignore[arg-type]
    small: set[int] = set()
    for k, (group, cand) in enumerate(zip(groups, cands, strict=True)):
        if k != big_at:
            checks = [_predicate(f, schema.get(f.prop)) for f in group if f not in cand.covered]  # type: ignore[arg-type]
            small.update(i for i in cand.scan(False) if all(chk(contact(i)) for chk in checks))
    extra = [i for i in small if not all(chk(contact(i)) for chk in big_checks)]
    key = (lambda i: i) if request.sort_prop == "hs_object_id" else (lambda i: (contact(i).updated, i))
    extra.sort(key=key, reverse=request.sort_desc)
    merged = heapq.merge(big.scan(request.sort_desc), extra, key=key, reverse=request.sort_desc)
    page = list(itertools.islice(merged, request.after, request.after + request.limit))
    return _body(request, big.count + len(extra), [public_object(contact(i), names) for i in page])


def _run_lagging(
    request: SearchRequest, store: ContactStore, lagging: dict[int, Contact | None]
) -> dict[str, Any]:
    """The search index lags (`search_lag`): contacts written in the last seconds are seen as they
    were before (new ones not at all). A full scan over that view, without the indexes."""
    view: dict[int, Contact] = {c.id: c for c in store.all_active() if c.id not in lagging}
    view.update((i, c) for i, c in lagging.items() if c is not None)
    schema = store.schema
    names = property_names(request.properties, {p.name for p in schema.all()})
    query_ok = _query_predicate(request.query) if request.query else None
    groups = [
        [_predicate(f, schema.get(f.prop)) for f in group] + ([query_ok] if query_ok else [])  # type: ignore[arg-type]
        for group in (request.groups or ((),))
    ]
    matched = {i for i, c in view.items() if any(all(chk(c) for chk in checks) for checks in groups)}
    ordered = _sorted(matched, request, store, already=None, contact=view.__getitem__)
    page = ordered[request.after : request.after + request.limit]
    return _body(request, len(ordered), [public_object(view[i], names) for i in page])


def _body(request: SearchRequest, total: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {"total": total, "results": results}
    end = request.after + request.limit
    if end < total and request.limit:
        body["paging"] = {"next": {"after": str(end)}}
    return body


def _sorted(
    ids: list[int] | set[int],
    request: SearchRequest,
    store: ContactStore,
    *,
    already: str | None,
    contact: Callable[[int], Contact] | None = None,
) -> list[int]:
    prop = request.sort_prop
    if isinstance(ids, list) and already == prop and prop in ("hs_object_id", "lastmodifieddate"):
        return ids[::-1] if request.sort_desc else ids
    if prop == "hs_object_id":
        return sorted(ids, reverse=request.sort_desc)
    get, _ = _getter(store.schema.get(prop))  # type: ignore[arg-type]
    contact = contact or store.contact
    keyed = [(get(contact(i)), i) for i in ids]
    present = sorted((k for k in keyed if k[0] is not None), reverse=request.sort_desc)
    missing = sorted(i for v, i in keyed if v is None)
    return [i for _, i in present] + missing
