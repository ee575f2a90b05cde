"""Fixtures for the report and explain tests: a synced demo book, and a hand-seeded small world.

- `synced` (module scope): the small demo book of the shared sandbox servers, `setup` and one full
  run into a SQLite state file in a temporary folder; read-only for the tests.
- `seeded_world`: the empty sandbox with people seeded one by one (a Contact on an Opportunity that
  walked its stages and closed lost, a HubSpot contact with engagement), so a test can state exactly
  which recycle group and re-engagement each person should get; its state store is a SQLite file, or
  an empty PostgreSQL database when the test is parametrized with `backend` "postgresql".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sandbox.launcher import Sandbox
from sync.run.runner import RunOptions, run
from tests.sync.state.conftest import emptied, postgres_url  # noqa: F401  (the PostgreSQL fixture)

from .worlds import SeededWorld, Synced, open_synced_context

SYNCED_PEOPLE = 60  # the demo book of `synced` (the same size and seed as the shared `sandbox` fixture)
SYNCED_SEED = 7


@pytest.fixture(scope="module")
def synced(_sandbox_servers: Sandbox, sandbox_now: datetime,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """The shared sandbox servers reloaded with the small demo book (as the `sandbox` fixture does),
    set up and synced once for the whole module (a run takes seconds on a loaded machine). Tests that
    use it only read the emulators and the state store. A module's tests run one after the other on a
    worker (also under xdist), so no other test resets the servers in between."""
    box = _sandbox_servers
    box.reset(people=SYNCED_PEOPLE, seed=SYNCED_SEED, now=sandbox_now)
    settings_path, ctx = open_synced_context(box, tmp_path_factory.mktemp("synced"))
    result = run(ctx, RunOptions(now=sandbox_now))
    assert result.status == "ok", result.to_dict()
    yield Synced(box, ctx, settings_path, sandbox_now, result)
    ctx.close()


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def seeded_world(empty_sandbox: Sandbox, tmp_path: Path, backend: str,
                 request: pytest.FixtureRequest) -> Iterator[SeededWorld]:
    state_url = emptied(request.getfixturevalue("postgres_url")) if backend == "postgresql" else None
    box = empty_sandbox
    now = datetime.now().astimezone().replace(microsecond=0)
    sf = box.salesforce.store
    owner = sf.create("User", {"Username": "owner@example.com", "Email": "owner@example.com",
                               "FirstName": "Hanako", "LastName": "Sato", "Alias": "hsato", "IsActive": True},
                      at=now - timedelta(days=900))
    account = sf.create("Account", {"Name": "株式会社テスト", "NumberOfEmployees": 500, "OwnerId": owner},
                        at=now - timedelta(days=800))
    settings_path, ctx = open_synced_context(box, tmp_path, state_url)
    yield SeededWorld(box, ctx, settings_path, now, owner, account)
    ctx.close()
