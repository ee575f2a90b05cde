"""HubSpot setup: the custom contact properties and the MANUAL lists leadsync writes.

Checking is always safe (read-only); creating happens only when the caller asks for it (`leadsync
setup` or `--create-missing`). Existing properties are never changed except to add missing
enumeration options; a property with the wrong type is reported, not altered.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hubspot.crm.lists import ListCreateRequest, ListSearchRequest
from hubspot.crm.properties import OptionInput, PropertyCreate, PropertyGroupCreate, PropertyUpdate

from connectors.base import ConfigurationError, FieldSpec, ValueKind
from connectors.hubspot.transport import HubSpotTransport
from connectors.hubspot.write import PropertyRule

log = logging.getLogger(__name__)

OBJECT_TYPE = "contacts"
CONTACT_TYPE_ID = "0-1"
WRITABLE_LIST_TYPES = frozenset({"MANUAL", "SNAPSHOT"})
LIST_SEARCH_PAGE = 100  # lists per search page (the spec allows up to 500)


@dataclass(frozen=True)
class PropertySpec:
    """A contact property leadsync needs. `options`: the enumeration values (labels = values)."""

    name: str
    label: str
    type: str  # HubSpot type: string, number, enumeration, bool, date, datetime
    field_type: str  # HubSpot fieldType: text, number, select, radio, booleancheckbox, date, ...
    options: tuple[str, ...] | None = None
    group: str = "leadsync"


# what a value kind becomes in HubSpot: (property type, fieldType)
PROPERTY_TYPES: dict[ValueKind, tuple[str, str]] = {
    "enumeration": ("enumeration", "select"),
    "number": ("number", "number"),
    "date": ("date", "date"),
    "text": ("string", "text"),
    "long_text": ("string", "textarea"),
}


def property_spec(spec: FieldSpec) -> PropertySpec:
    """The HubSpot contact property for a neutral field description (options only on enumerations)."""
    kind, field_type = PROPERTY_TYPES[spec.kind]
    options = spec.options if kind == "enumeration" else None
    return PropertySpec(spec.name, spec.label, kind, field_type, options)


@dataclass(frozen=True)
class ListInfo:
    list_id: str
    name: str
    processing_type: str


# --------------------------------------------------------------------------- properties


def read_rules(transport: HubSpotTransport) -> dict[str, PropertyRule]:
    """Every contact property's type and options (one call)."""
    return {p.name: _rule(p) for p in _all_properties(transport)}


def _all_properties(transport: HubSpotTransport) -> list[Any]:
    api = transport.client.crm.properties.core_api
    data, _ = transport.request("properties", api.get_all_with_http_info, OBJECT_TYPE, archived=False)
    return list(data.results or []) if data is not None else []


def _rule(prop: Any) -> PropertyRule:
    options = frozenset(str(o.value) for o in (prop.options or [])) if prop.type == "enumeration" else None
    meta = getattr(prop, "modification_metadata", None)
    read_only = bool(getattr(meta, "read_only_value", False)) or bool(getattr(prop, "calculated", False))
    return PropertyRule(prop.name, prop.type, options, read_only)


def ensure_properties(transport: HubSpotTransport, specs: Sequence[PropertySpec], *,
                      create_missing: bool) -> list[str]:
    """Problems that remain (empty: all good). With `create_missing`, creates missing groups and
    properties and adds missing enumeration options; without it, reports them."""
    existing = {p.name: p for p in _all_properties(transport)}
    problems: list[str] = []
    groups_known: set[str] | None = None
    for spec in specs:
        prop = existing.get(spec.name)
        if prop is None:
            if not create_missing:
                problems.append(f"contact property {spec.name!r} is missing (run `leadsync setup`)")
                continue
            if groups_known is None:
                groups_known = _group_names(transport)
            if spec.group not in groups_known:
                _create_group(transport, spec.group)
                groups_known.add(spec.group)
            _create_property(transport, spec)
            continue
        if prop.type != spec.type:
            problems.append(f"contact property {spec.name!r} has type {prop.type!r} "
                            f"(fieldType {prop.field_type!r}); leadsync needs {spec.type!r}")
            continue
        have = [str(o.value) for o in (prop.options or [])]
        missing = [v for v in (spec.options or ()) if v not in have]
        if not missing:
            continue
        if not create_missing:
            problems.append(f"contact property {spec.name!r} lacks option(s) {', '.join(missing)} "
                            "(run `leadsync setup`)")
            continue
        _add_options(transport, prop, missing)
    return problems


def _group_names(transport: HubSpotTransport) -> set[str]:
    api = transport.client.crm.properties.groups_api
    data, _ = transport.request("properties", api.get_all_with_http_info, OBJECT_TYPE)
    return {g.name for g in (data.results or [])} if data is not None else set()


def _create_group(transport: HubSpotTransport, name: str) -> None:
    api = transport.client.crm.properties.groups_api
    body = PropertyGroupCreate(name=name, label=name.replace("_", " ").title(), display_order=-1)
    transport.request("properties", api.create_with_http_info, OBJECT_TYPE, body)
    log.info("hubspot: created contact property group %r", name)


def _options(values: Sequence[str], start: int = 0) -> list[OptionInput]:
    return [OptionInput(label=v, value=v, display_order=start + i, hidden=False)
            for i, v in enumerate(values)]


def _create_property(transport: HubSpotTransport, spec: PropertySpec) -> None:
    api = transport.client.crm.properties.core_api
    body = PropertyCreate(
        name=spec.name, label=spec.label, type=spec.type, field_type=spec.field_type,
        group_name=spec.group, options=_options(spec.options or ()),
        description="Written by leadsync", form_field=False,
    )
    transport.request("properties", api.create_with_http_info, OBJECT_TYPE, body)
    log.info("hubspot: created contact property %r", spec.name)


def _add_options(transport: HubSpotTransport, prop: Any, missing: Sequence[str]) -> None:
    api = transport.client.crm.properties.core_api
    kept = [OptionInput(label=o.label, value=o.value, display_order=o.display_order,
                        hidden=bool(o.hidden), description=getattr(o, "description", None))
            for o in (prop.options or [])]
    body = PropertyUpdate(options=kept + _options(missing, start=len(kept)))
    transport.request("properties", api.update_with_http_info, OBJECT_TYPE, prop.name, body)
    log.info("hubspot: added option(s) %s to contact property %r", ", ".join(missing), prop.name)


# --------------------------------------------------------------------------- lists


def find_list(transport: HubSpotTransport, name: str) -> ListInfo | None:
    """The contact list called `name`, found through the lists search (POST /crm/v3/lists/search,
    paged by offset) and matched here, exactly but case-insensitively (HubSpot list names are unique
    regardless of case); None when there is none. Never by name in a URL: names may hold a `/`
    (the default "Nurture - Call/DM"), which a gateway may refuse percent-encoded or not."""
    api = transport.client.crm.lists.lists_api
    wanted = name.casefold()
    offset = 0
    while True:
        body = ListSearchRequest(query=name, offset=offset, count=LIST_SEARCH_PAGE, additional_properties=[])
        data, _ = transport.request("lists", api.do_search_with_http_info, body)
        page = list(getattr(data, "lists", None) or [])
        for found in page:
            if str(found.name).casefold() == wanted and str(found.object_type_id) == CONTACT_TYPE_ID:
                return ListInfo(str(found.list_id), found.name, str(found.processing_type))
        next_offset = getattr(data, "offset", None)
        if not page or not getattr(data, "has_more", False) or not isinstance(next_offset, int) \
                or next_offset <= offset:
            return None
        offset = next_offset


def lists_by_id(transport: HubSpotTransport, list_ids: Sequence[str]) -> dict[str, ListInfo]:
    """list id -> the list, for those of `list_ids` that exist, in ONE call (GET /crm/v3/lists/ with
    `listIds`); an id HubSpot does not know is absent from the answer."""
    if not list_ids:
        return {}
    api = transport.client.crm.lists.lists_api
    data, _ = transport.request("lists", api.get_all_with_http_info, list_ids=list(list_ids))
    return {str(x.list_id): ListInfo(str(x.list_id), x.name, str(x.processing_type))
            for x in (getattr(data, "lists", None) or [])}


def create_list(transport: HubSpotTransport, name: str) -> ListInfo:
    api = transport.client.crm.lists.lists_api
    body = ListCreateRequest(name=name, object_type_id=CONTACT_TYPE_ID, processing_type="MANUAL")
    data, _ = transport.request("lists", api.create_with_http_info, body)
    created = data.list
    log.info("hubspot: created MANUAL list %r (id %s)", name, created.list_id)
    return ListInfo(str(created.list_id), created.name, str(created.processing_type))


def ensure_lists(transport: HubSpotTransport, names: Sequence[str], *,
                 create_missing: bool) -> dict[str, str]:
    """name -> list id for the lists that exist (or were created). A list leadsync cannot add members
    to (DYNAMIC) is a `ConfigurationError`; a missing list without `create_missing` is left out."""
    out: dict[str, str] = {}
    for name in dict.fromkeys(names):
        info = find_list(transport, name)
        if info is None and create_missing:
            info = create_list(transport, name)
        if info is None:
            continue
        if info.processing_type not in WRITABLE_LIST_TYPES:
            raise ConfigurationError(
                f"HubSpot list {name!r} is {info.processing_type}; leadsync adds and removes members "
                "itself and needs a MANUAL list (rename the existing list or choose another name)"
            )
        out[name] = info.list_id
    return out
