"""Parsing and validating a CRM search request body (limits as the real API enforces them).

Limits: `limit` <= 200; `after + limit` <= 10,000 (paging beyond the 10,000th result is a 400);
at most 5 filterGroups, 6 filters per group and 18 filters in all (HubSpot's search guide; a 2024
changelog announced 10 per group / 25 in all, so staying within these works with either); one sort.
At most 100 `values` in one IN / NOT_IN filter: UNVERIFIED. HubSpot's search guide and the OpenAPI
`Filter` give no limit on `values` (searched: search guide 2026-03, the v3 contacts spec, HubSpot SDK
issues); 100 is the stricter plausible reading (HubSpot's own per-request caps elsewhere are 100 inputs
per batch call), so a client that fits it fits any larger real limit.

A top-level `filters` list (outside `filterGroups`) is ANDed with every filter group (alone, it is one
group). PARTLY VERIFIED: it is not in the OpenAPI `PublicObjectSearchRequest`, but the API accepts it and
ANDs its filters (hubspot-api-nodejs #491, 2024, citing examples in the official search guide); how it
combines with `filterGroups` is UNVERIFIED. ANDing is what clients that send it rely on, and it never
widens a result (ignoring it, as the emulator did, returned every contact: a watermark client paging on
a top-level `lastmodifieddate` filter then hit the 10,000 cap and restarted forever). The top-level list
counts as one group for the limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .store import ContactStore

MAX_LIMIT = 200
MAX_RESULTS = 10_000
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_IN_VALUES = 100  # UNVERIFIED (see the module docstring)
OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)


@dataclass(frozen=True, slots=True)
class Filter:
    prop: str
    op: str
    value: str | None
    high: str | None
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SearchRequest:
    groups: tuple[tuple[Filter, ...], ...]
    sort_prop: str
    sort_desc: bool
    properties: tuple[str, ...]
    limit: int
    after: int
    query: str | None


# ------------------------------------------------------------------------------------ parsing


def parse_request(body: Any, store: ContactStore) -> SearchRequest:
    if not isinstance(body, dict):
        raise ApiError.validation("Invalid input JSON: expected an object")
    limit = _int(body.get("limit", 10), "limit")
    if limit < 0 or limit > MAX_LIMIT:
        raise ApiError.validation(f"limit must be between 0 and {MAX_LIMIT}, got {limit}")
    raw_after = body.get("after")
    after = 0 if raw_after in (None, "") else _int(raw_after, "after")
    if after < 0:
        raise ApiError.validation(f"after must not be negative, got {after}")
    if after + limit > MAX_RESULTS:
        raise ApiError.validation(
            f"The search endpoints are limited to {MAX_RESULTS} total results for any given query; "
            f"after={after} with limit={limit} pages beyond that limit",
            context={"after": [str(after)], "limit": [str(limit)]},
        )
    groups = _parse_groups(body.get("filterGroups") or [], store, top=body.get("filters"))
    sort_prop, sort_desc = _parse_sorts(body.get("sorts") or [], store)
    props = body.get("properties") or []
    if not isinstance(props, list):
        raise ApiError.validation("properties must be a list of property names")
    query = body.get("query")
    return SearchRequest(
        groups,
        sort_prop,
        sort_desc,
        tuple(str(p) for p in props),
        limit,
        after,
        str(query) if query else None,
    )


def _int(raw: Any, name: str) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ApiError.validation(f"{name} must be an integer, got {raw!r}") from None


def _parse_groups(raw: Any, store: ContactStore, *, top: Any = None) -> tuple[tuple[Filter, ...], ...]:
    if not isinstance(raw, list):
        raise ApiError.validation("filterGroups must be a list")
    if top is not None and not isinstance(top, list):
        raise ApiError.validation("filters must be a list")
    if top:  # checked as one more group, then ANDed into every group
        common = _parse_groups([{"filters": top}], store)[0]
        rest = _parse_groups(raw, store)
        if len(common) + sum(len(g) for g in rest) > MAX_FILTERS:
            raise ApiError.validation(
                f"Too many filters: {len(common) + sum(len(g) for g in rest)} (the maximum is {MAX_FILTERS})"
            )
        return tuple(common + g for g in rest) if rest else (common,)
    if len(raw) > MAX_GROUPS:
        raise ApiError.validation(f"Too many filter groups: {len(raw)} (the maximum is {MAX_GROUPS})")
    groups: list[tuple[Filter, ...]] = []
    total = 0
    for group in raw:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or not filters:
            raise ApiError.validation("Each filter group needs a non-empty filters list")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise ApiError.validation(
                f"Too many filters in a group: {len(filters)} (the maximum is {MAX_FILTERS_PER_GROUP})"
            )
        total += len(filters)
        groups.append(tuple(_parse_filter(f, store) for f in filters))
    if total > MAX_FILTERS:
        raise ApiError.validation(f"Too many filters: {total} (the maximum is {MAX_FILTERS})")
    return tuple(groups)


def _parse_filter(raw: Any, store: ContactStore) -> Filter:
    if not isinstance(raw, dict):
        raise ApiError.validation("A filter must be an object")
    prop, op = str(raw.get("propertyName") or ""), str(raw.get("operator") or "EQ")
    if op not in OPERATORS:
        raise ApiError.validation(f"Unknown filter operator {op}; expected one of {sorted(OPERATORS)}")
    if store.schema.get(prop) is None:
        raise ApiError.validation(f"Filter on unknown property {prop!r}", context={"propertyName": [prop]})
    value = raw.get("value")
    high = raw.get("highValue")
    values = tuple(str(v) for v in (raw.get("values") or []))
    if op in ("IN", "NOT_IN") and not values:
        raise ApiError.validation(f"Operator {op} needs a non-empty 'values' list")
    if len(values) > MAX_IN_VALUES:
        raise ApiError.validation(
            f"Too many values for operator {op}: {len(values)} (the maximum is {MAX_IN_VALUES})",
            context={"values": [str(len(values))]},
        )
    if op == "BETWEEN" and (value is None or high is None):
        raise ApiError.validation("Operator BETWEEN needs 'value' and 'highValue'")
    if op not in ("IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY") and value is None:
        raise ApiError.validation(f"Operator {op} needs a 'value'")
    return Filter(
        prop, op, None if value is None else str(value), None if high is None else str(high), values
    )


def _parse_sorts(raw: Any, store: ContactStore) -> tuple[str, bool]:
    if not isinstance(raw, list):
        raise ApiError.validation("sorts must be a list")
    if len(raw) > 1:
        raise ApiError.validation("Only one sort is supported per search request")
    if not raw:
        return "hs_object_id", False
    item = raw[0]
    if isinstance(item, dict):
        prop, desc = (
            str(item.get("propertyName") or ""),
            str(item.get("direction", "ASCENDING")) == "DESCENDING",
        )
    else:
        text = str(item)
        prop, desc = text.lstrip("-"), text.startswith("-")
    if store.schema.get(prop) is None:
        raise ApiError.validation(f"Sort on unknown property {prop!r}")
    return prop, desc
