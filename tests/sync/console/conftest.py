"""Fixtures of the console's handler tests: the seeded sandbox world of the report tests
(tests/sync/views/conftest.py), synced, opened as `leadsync console` opens it (`open_local_state`),
with an admin and a viewer, and a Starlette TestClient on the app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from sync.console import auth
from sync.console.app import create_app
from sync.views.local_state import LocalState, open_local_state
from tests.sync.views.conftest import backend, seeded_world  # noqa: F401  (the seeded sandbox world)
from tests.sync.views.worlds import SeededWorld

ADMIN_PASSWORD = "correct horse battery staple"
VIEWER_PASSWORD = "viewer password 1234"


@dataclass
class Site:
    world: SeededWorld
    local: LocalState

    def client(self) -> TestClient:
        return TestClient(create_app(self.local.store, self.local.mapping), follow_redirects=False)

    def signed_in(self, user: str, password: str, lang: str | None = None) -> TestClient:
        client = self.client()
        if lang:
            client.cookies.set("leadsync_lang", lang)
        token = csrf_of(client.get("/login").text)
        response = client.post("/login", data={"user": user, "password": password, "csrf": token})
        assert response.status_code == 303, response.text
        return client


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def open_site(world: SeededWorld) -> Iterator[Site]:
    with open_local_state(world.settings_path) as local:
        auth.set_password(local.store, "ops", "admin", ADMIN_PASSWORD, by=None)
        auth.set_password(local.store, "reader", "viewer", VIEWER_PASSWORD, by=None)
        yield Site(world, local)


@pytest.fixture
def site(seeded_world: SeededWorld) -> Iterator[Site]:  # noqa: F811
    """The empty world (no person, no run) with its two users."""
    yield from open_site(seeded_world)
