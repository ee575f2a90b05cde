"""The state belongs to one org and one portal (issue 11): a state file kept while the org and portal
behind it were replaced (a sandbox refresh, a restored portal) stops with exit 2 and says what to do,
instead of reporting `ok` while writing nothing. Run as a user runs it: the `leadsync` command, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from sandbox.launcher import Sandbox
from sandbox.salesforce.ids import make_id
from tests.conftest import SANDBOX_PEOPLE, SANDBOX_SEED
from tests.sync.cli.test_cli import leadsync
from tests.sync.state.conftest import emptied, postgres_url  # noqa: F401 (the session's PostgreSQL server)

OTHER_ORG = make_id("00D", 7)
OTHER_PORTAL = 99_000_777


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("db_url_postgres"))


@pytest.fixture
def db_url_postgres(request: pytest.FixtureRequest) -> str:
    return emptied(request.getfixturevalue("postgres_url"))


def written(result: dict) -> int:
    """Values, memberships and tasks a run wrote (both systems)."""
    counts = result["plan"]["counts"]
    return sum(counts.get(s, {}).get(k, 0) for s in ("salesforce", "hubspot")
               for k in ("fields", "list_adds", "tasks"))


def sync_json(settings: Path, *extra: str) -> tuple[int, dict | None, str]:
    done = leadsync("sync", "--config", str(settings), "--json", *extra)
    try:
        return done.returncode, json.loads(done.stdout), done.stderr
    except ValueError:
        return done.returncode, None, done.stdout + done.stderr


@pytest.mark.slow
def test_a_state_file_kept_across_a_refreshed_org_and_portal_stops_with_exit_2(
        sandbox: Sandbox, sandbox_now: datetime, state_url: str, tmp_path: Path) -> None:
    settings = sandbox.write_settings(tmp_path / "settings.toml", state_url=state_url)
    assert leadsync("setup", "--config", str(settings)).returncode == 0
    code, first, err = sync_json(settings)
    assert code == 0 and first is not None, err
    expected = written(first)
    assert expected > 0

    # both systems refreshed: the same records (same ids), another org and another portal, nothing of
    # what leadsync wrote is there any more
    sandbox.reset(people=SANDBOX_PEOPLE, seed=SANDBOX_SEED, now=sandbox_now, org_id=OTHER_ORG,
                  portal_id=OTHER_PORTAL)
    assert leadsync("setup", "--config", str(settings)).returncode == 0
    sandbox.salesforce.calls.reset()
    sandbox.hubspot.calls.reset()
    done = leadsync("sync", "--config", str(settings))
    out = done.stdout + done.stderr
    assert done.returncode == 2, out  # without the binding: exit 0 and 0 values written
    assert "Traceback" not in out
    flat = " ".join(out.split())
    assert OTHER_ORG in flat and str(OTHER_PORTAL) in flat and "00D5g0000000001EAA" in flat
    assert "new state file" in flat and "leadsync sync --rebind" in flat
    writes = {k: v for k, v in {**sandbox.salesforce.calls.snapshot(), **sandbox.hubspot.calls.snapshot()}
              .items() if k in ("salesforce.collections", "hubspot.batch_update", "hubspot.memberships")}
    assert not writes  # stopped before writing anything

    # rebinding on purpose writes everything again, as on the first run against the old org
    code, again, err = sync_json(settings, "--rebind")
    assert code == 0 and again is not None, err
    assert written(again) == expected
    code, third, err = sync_json(settings)
    assert code == 0 and third is not None and written(third) == 0, err


@pytest.mark.slow
def test_the_binding_is_per_system_and_a_new_state_file_just_works(
        sandbox: Sandbox, sandbox_now: datetime, tmp_path: Path) -> None:
    settings = sandbox.write_settings(tmp_path / "settings.toml", state_url=f"sqlite:///{tmp_path}/a.db")
    assert leadsync("setup", "--config", str(settings)).returncode == 0
    assert sync_json(settings)[0] == 0
    sandbox.reset(people=SANDBOX_PEOPLE, seed=SANDBOX_SEED, now=sandbox_now, portal_id=OTHER_PORTAL)
    assert leadsync("setup", "--config", str(settings)).returncode == 0
    done = leadsync("sync", "--config", str(settings), "--dry-run")
    flat = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2 and "HubSpot portal 24100001" in flat and "Salesforce org" not in flat
    assert leadsync("sync", "--config", str(settings), "--dry-run", "--rebind").returncode == 2

    fresh = sandbox.write_settings(tmp_path / "fresh.toml", state_url=f"sqlite:///{tmp_path}/b.db")
    code, result, err = sync_json(fresh)
    assert code == 0 and result is not None and written(result) > 0, err
