"""Requests reuse the client's API objects and connections, and build no per-record `Configuration`
(issue 12: one `Configuration`, `ApiClient` and urllib3 pool per request was a top CPU cost)."""

from __future__ import annotations

from typing import Any

import pytest
from hubspot.crm.contacts import configuration as contacts_configuration
from pydantic import SecretStr

from connectors.base import FieldUpdate, ListChange
from connectors.hubspot.settings import HubSpotSettings
from connectors.hubspot.transport import build_client

from .conftest import SEEDED, Hub


def test_the_client_hands_out_one_api_object_per_api() -> None:
    client = build_client(HubSpotSettings(access_token=SecretStr("tok"), host="http://127.0.0.1:9"))
    assert client.crm.contacts.batch_api is client.crm.contacts.batch_api
    assert client.crm.contacts.search_api is client.crm.contacts.search_api
    assert client.crm.contacts.batch_api is not client.crm.contacts.search_api
    assert client.crm.lists.memberships_api is client.crm.lists.memberships_api


def test_a_changed_token_gets_new_api_objects() -> None:
    client = build_client(HubSpotSettings(access_token=SecretStr("tok"), host="http://127.0.0.1:9"))
    before = client.crm.contacts.batch_api
    client.access_token = "other"
    after = client.crm.contacts.batch_api
    assert after is not before and after.api_client.configuration.access_token == "other"
    assert before.api_client.configuration.access_token == "tok"


def open_pools(api: Any) -> list[Any]:
    """The urllib3 connection pools of an API object's client (one per host)."""
    manager = api.api_client.rest_client.pool_manager
    return [manager.pools[key] for key in manager.pools.keys()]  # noqa: SIM118 (the container is not iterable)


@pytest.fixture
def configurations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts `Configuration` objects built by the contacts client package."""
    built: list[int] = []
    original = contacts_configuration.Configuration.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(contacts_configuration.Configuration, "__init__", counting)
    return built


def test_batch_updates_reuse_one_connection_and_build_no_configuration_per_record(
        hub: Hub, configurations: list[int]) -> None:
    ids = [hub.emu.store.create_contact({"email": f"r{i}@example.com"}, at=SEEDED) for i in range(1_000)]
    conn = hub.connector()
    results = conn.update_fields([FieldUpdate("contacts", c, {"firstname": "x"}) for c in ids])
    assert all(r.ok for r in results) and hub.calls()["batch_update"] == 10
    assert len(configurations) <= 2  # one for the API object; without reuse: 1,010 (a model each)
    pools = open_pools(conn.transport.client.crm.contacts.batch_api)
    assert [(p.num_requests, p.num_connections) for p in pools] == [(10, 1)]  # kept alive


def test_list_changes_reuse_one_connection(hub: Hub) -> None:
    ids = [hub.emu.store.create_contact({"email": f"l{i}@example.com"}, at=SEEDED) for i in range(1_500)]
    conn = hub.connector(membership_chunk=500)
    conn.ensure_lists(["Reuse"], create_missing=True)
    assert all(r.ok for r in conn.change_lists([ListChange("Reuse", c, "add") for c in ids]))
    pools = open_pools(conn.transport.client.crm.lists.memberships_api)
    assert [(p.num_requests, p.num_connections) for p in pools] == [(3, 1)]
