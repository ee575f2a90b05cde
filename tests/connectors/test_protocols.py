"""Both connectors satisfy the role Protocols `sync` types them with (`SalesSystem`, `MarketingSystem`):
every Protocol member exists on the connector, and every method takes the Protocol's parameters (same
names, order and kinds, defaults where the Protocol has them; extras only with defaults) and returns
what it declares. `isinstance` on the runtime-checkable Protocols checks the names only, hence both."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import pytest

from connectors.base import (
    CallCounter,
    ContactRef,
    FieldSpec,
    MarketingSystem,
    SalesSystem,
)
from connectors.factory import build_connectors
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.settings import HubSpotSettings
from connectors.retry import RetryPolicy
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.settings import SalesforceSettings

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def protocol_members(proto: type) -> tuple[dict[str, Any], dict[str, Callable[..., Any]]]:
    """(attribute name -> annotation, method name -> function) of a Protocol and the ones it extends."""
    attributes: dict[str, Any] = {}
    methods: dict[str, Callable[..., Any]] = {}
    for klass in reversed(proto.__mro__):
        if not getattr(klass, "_is_protocol", False) or klass is Protocol:
            continue
        attributes.update(typing.get_type_hints(klass))
        methods.update({name: fn for name, fn in vars(klass).items()
                        if inspect.isfunction(fn) and not name.startswith("_")})
    for name in methods:
        attributes.pop(name, None)
    return attributes, methods


def signature_problems(name: str, wanted: Callable[..., Any], given: Callable[..., Any]) -> list[str]:
    want = inspect.signature(wanted, eval_str=True)
    have = inspect.signature(given, eval_str=True)
    problems = []
    want_pos = [p for p in want.parameters.values() if p.kind in POSITIONAL]
    have_pos = [p for p in have.parameters.values() if p.kind in POSITIONAL]
    if [p.name for p in have_pos[:len(want_pos)]] != [p.name for p in want_pos]:
        problems.append(f"{name}: positional parameters {[p.name for p in have_pos]}, "
                        f"the Protocol has {[p.name for p in want_pos]}")
    for p in have_pos[len(want_pos):]:
        if p.default is inspect.Parameter.empty:
            problems.append(f"{name}: extra parameter {p.name!r} has no default")
    for p in want.parameters.values():
        q = have.parameters.get(p.name)
        if q is None:
            if p.kind not in POSITIONAL:
                problems.append(f"{name}: no keyword parameter {p.name!r}")
            continue
        if p.kind == inspect.Parameter.KEYWORD_ONLY and q.kind not in (p.kind, *POSITIONAL[1:]):
            problems.append(f"{name}: {p.name!r} is not a keyword parameter")
        if p.default is not inspect.Parameter.empty and q.default is inspect.Parameter.empty:
            problems.append(f"{name}: {p.name!r} has no default")
        if p.name != "self" and q.annotation != p.annotation:
            problems.append(f"{name}: {p.name!r} is {q.annotation}, the Protocol says {p.annotation}")
    for q in have.parameters.values():
        if q.kind == inspect.Parameter.KEYWORD_ONLY and q.name not in want.parameters \
                and q.default is inspect.Parameter.empty:
            problems.append(f"{name}: extra keyword {q.name!r} has no default")
    if have.return_annotation != want.return_annotation:
        problems.append(f"{name}: returns {have.return_annotation}, "
                        f"the Protocol says {want.return_annotation}")
    return problems


def conformance_problems(cls: type, instance: object, proto: type) -> list[str]:
    attributes, methods = protocol_members(proto)
    problems = [f"no attribute {name!r}" for name in attributes if not hasattr(instance, name)]
    for name, fn in methods.items():
        impl = getattr(cls, name, None)
        if impl is None or not callable(impl):
            problems.append(f"no method {name!r}")
            continue
        problems += signature_problems(name, fn, impl)
    return problems


@pytest.fixture(scope="module")
def built() -> tuple[SalesSystem, MarketingSystem]:
    return build_connectors(SalesforceSettings(lookback_minutes=12),
                            HubSpotSettings(access_token="not-used", lookback_minutes=7),
                            counter=CallCounter(), policy=RetryPolicy())


def test_the_factory_builds_one_connector_per_role(built: tuple[SalesSystem, MarketingSystem]) -> None:
    sales, marketing = built
    assert type(sales) is SalesforceConnector and type(marketing) is HubSpotConnector
    assert isinstance(sales, SalesSystem) and isinstance(marketing, MarketingSystem)
    assert (sales.system, marketing.system) == ("salesforce", "hubspot")
    assert (sales.lookback, marketing.lookback) == (timedelta(minutes=12), timedelta(minutes=7))


def test_the_role_protocols_cover_what_sync_calls() -> None:
    _, sales = protocol_members(SalesSystem)
    _, marketing = protocol_members(MarketingSystem)
    assert set(sales) == {"iter_deals", "iter_managed_contacts", "read_current", "check_fields", "connect",
                          "update_fields", "change_lists", "prepare_lists", "create_tasks",
                          "check_read_fields", "task_owner_outlook", "daily_allowance", "account_id",
                          "iter_task_states"}
    assert set(marketing) == {"connect", "iter_contacts", "iter_archived", "read_by_email",
                              "ensure_properties", "ensure_lists", "confirm_lists", "remember_list_ids",
                              "update_fields", "change_lists", "daily_allowance", "account_id"}
    assert set(protocol_members(SalesSystem)[0]) == {"system", "write_sizes", "lookback"}
    assert set(protocol_members(MarketingSystem)[0]) == {"system", "write_sizes", "lookback"}


@pytest.mark.parametrize("role", ["sales", "marketing"])
def test_each_connector_satisfies_its_protocol(built: tuple[SalesSystem, MarketingSystem], role: str) -> None:
    sales, marketing = built
    cls, instance, proto = ((SalesforceConnector, sales, SalesSystem) if role == "sales"
                            else (HubSpotConnector, marketing, MarketingSystem))
    assert conformance_problems(cls, instance, proto) == []


class _Drifted:
    """A marketing connector whose methods drifted from the Protocol: the check must say so."""

    system = "hubspot"

    def iter_contacts(self, properties: Sequence[str], since: datetime | None) -> Iterator[ContactRef]:
        return iter(())

    def read_by_email(self, emails: Sequence[str], properties: Sequence[str],
                      batch: int) -> Iterator[ContactRef]:
        return iter(())

    def ensure_properties(self, definitions: Sequence[FieldSpec], *, create: bool = False) -> list[str]:
        return []

    def ensure_lists(self, names: Sequence[str], *, create_missing: bool) -> list[str]:
        return []


def test_the_check_finds_missing_members_and_drifted_signatures() -> None:
    problems = conformance_problems(_Drifted, _Drifted(), MarketingSystem)
    assert isinstance(_Drifted(), MarketingSystem) is False  # names missing: even isinstance sees it
    text = "\n".join(problems)
    for expected in ("no attribute 'write_sizes'", "no method 'iter_archived'", "no method 'update_fields'",
                     "iter_contacts: positional parameters", "extra parameter 'batch' has no default",
                     "ensure_properties: no keyword parameter 'create_missing'", "ensure_lists: returns"):
        assert expected in text, (expected, text)
