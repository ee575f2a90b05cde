"""The Dagster definitions (issue 15), run with Dagster's in-process execution: a job per tenant that
runs the normal sync, retried when the run stopped (exit 1) and never for bad configuration (exit 2),
its counts and API calls as output metadata; three sandbox tenants, each with its own emulator pair, on
one real PostgreSQL server run in parallel and end as each does alone; a tenant with a wrong token fails
alone. Skipped without Dagster (`pip install 'leadsync[dagster]'`; `make test` installs it)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

dg = pytest.importorskip("dagster")

from sandbox.launcher import Sandbox  # noqa: E402
from sync.orchestrators.dagster_defs import TENANT_TAG, build_definitions, pool_name  # noqa: E402
from sync.run.context import open_context  # noqa: E402
from sync.run.lock import RunLock  # noqa: E402
from sync.run.setup import run_setup  # noqa: E402
from sync.settings import load_tenant  # noqa: E402
from sync.state.store import StateStore  # noqa: E402
from sync.tenants import Tenant  # noqa: E402
from tests.reliability.state_compare import FinalState, capture, differences  # noqa: E402
from tests.sync.state.conftest import (  # noqa: E402
    drop_tenant_schemas,
    postgres_url,  # noqa: F401  (the session's PostgreSQL server)
)

PEOPLE = 40
GOOD = {"acme": 11, "globex": 12, "initech": 13}  # tenant -> the seed of its sandbox's demo book
NO_RETRY_DELAY = dg.RetryPolicy(max_retries=2, delay=0)


# ----------------------------------------------------------------------------------- the definitions

def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_job_per_tenant_and_a_schedule_per_cron(tmp_path: Path) -> None:
    folder = tmp_path / "tenants"
    _write(folder, "acme", '[schedule]\ncron = "*/20 * * * *"\n')
    _write(folder, "big-co", "[state]\nlock_wait_seconds = 1\n")  # no cron: on demand only
    _write(folder, "typo", '[schedule]\ncron = "every morning"\n')  # not a cron: no schedule, job still there
    _write(folder, "Not A Tenant", '[schedule]\ncron = "* * * * *"\n')  # not a tenant name: ignored
    defs = build_definitions(folder)
    jobs = {j.name: j for j in defs.resolve_all_job_defs()}
    assert set(jobs) == {"leadsync_acme", "leadsync_big_co", "leadsync_typo"}
    schedules = {s.name: s for s in (defs.schedules or [])}
    assert set(schedules) == {"leadsync_acme_schedule"}
    acme = schedules["leadsync_acme_schedule"]
    assert acme.cron_schedule == "*/20 * * * *" and acme.execution_timezone == "UTC"
    assert acme.job_name == "leadsync_acme"

    big = jobs["leadsync_big_co"]
    assert big.tags[TENANT_TAG] == "big-co"  # the run-level tag concurrency limit's key
    (node,) = big.nodes
    op = node.definition
    assert op.pool == pool_name("big-co") == "leadsync_big_co"
    assert op.retry_policy is not None and op.retry_policy.max_retries == 3


def test_module_defs_read_the_tenants_folder_from_the_environment(tmp_path: Path) -> None:
    """What `dagster dev -m sync.orchestrators.dagster_defs` loads."""
    folder = tmp_path / "elsewhere"
    _write(folder, "one", "")
    _write(folder, "two", '[schedule]\ncron = "0 * * * *"\n')
    probe = ("from sync.orchestrators.dagster_defs import defs\n"
             "print(sorted(j.name for j in defs.resolve_all_job_defs()),"
             " sorted(s.name for s in (defs.schedules or [])))")
    env = {**os.environ, "LEADSYNC_TENANTS_DIR": str(folder)}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120,
                         check=True, cwd=tmp_path)
    assert out.stdout.strip() == "['leadsync_one', 'leadsync_two'] ['leadsync_two_schedule']"


def test_the_documented_dagster_yaml_limits_each_tenant_to_one_run(tmp_path: Path) -> None:
    """docs/dagster.md's dagster.yaml is valid instance configuration and limits on the tag and pool
    the definitions use."""
    yaml = pytest.importorskip("yaml")
    doc = (Path(__file__).resolve().parents[2] / "docs" / "dagster.md").read_text(encoding="utf-8")
    block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    instance = dg.DagsterInstance.local_temp(str(tmp_path), overrides=yaml.safe_load(block))
    try:
        config = instance.get_concurrency_config()
    finally:
        instance.dispose()
    assert config.pool_config.default_pool_limit == 1
    (limit,) = config.run_queue_config.tag_concurrency_limits
    assert limit == {"key": TENANT_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}


# ------------------------------------------------------------------------ three tenants on PostgreSQL

@pytest.fixture(scope="module")
def boxes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Sandbox]]:
    """An emulator pair per good tenant (its own org, portal and quota)."""
    started: dict[str, Sandbox] = {}
    try:
        for name in GOOD:
            started[name] = Sandbox.start(people=0, workdir=tmp_path_factory.mktemp(f"box-{name}"))
        yield started
    finally:
        for box in started.values():
            box.stop()


def fresh_state(server_url: str, name: str) -> str:
    """Tenant `name`'s state emptied: its schema (`leadsync_<name>`, the tenant's default) dropped in
    the one database every tenant shares. The URL to give the tenant: the database's."""
    drop_tenant_schemas(server_url, [name])
    return server_url


def prepare(folder: Path, boxes: dict[str, Sandbox], server_url: str, now: datetime) -> dict[str, Tenant]:
    """Each good tenant's sandbox loaded afresh (same book every time), its state emptied, its
    HubSpot properties and lists set up (`leadsync setup`); a tenant `broken` whose HubSpot token (from
    its own environment variable) is wrong."""
    found: dict[str, Tenant] = {}
    for name, seed in GOOD.items():
        box = boxes[name]
        box.reset(people=PEOPLE, seed=seed, now=now)
        path = _write(folder, name, box.settings_toml(fresh_state(server_url, name))
                      + '\n[schedule]\ncron = "*/15 * * * *"\n')
        found[name] = Tenant(name, path)
        ctx = open_context(load_tenant(found[name]))
        try:
            assert run_setup(ctx, create_missing=True).ok
        finally:
            ctx.close()
    path = _write(folder, "broken", boxes["acme"].settings_toml(fresh_state(server_url, "broken")))
    found["broken"] = Tenant("broken", path)
    return found


def execute(defs: Any, names: list[str]) -> dict[str, Any]:
    """Each tenant's job in its own thread, all at once: name -> ExecuteInProcessResult."""
    results: dict[str, Any] = {}

    def one(name: str) -> None:
        results[name] = defs.resolve_job_def(f"leadsync_{name}").execute_in_process(raise_on_error=False)

    threads = [threading.Thread(target=one, args=(n,), name=f"tenant-{n}") for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert set(results) == set(names), "a tenant's job did not return"
    return results


def events(result: Any, kind: str) -> list[Any]:
    return [e for e in result.all_events if e.event_type_value == kind]


def output_metadata(result: Any) -> dict[str, Any]:
    (out,) = events(result, "STEP_OUTPUT")
    return {k: v.value for k, v in out.event_specific_data.metadata.items()}


def failure_metadata(result: Any) -> dict[str, Any]:
    (failed,) = result.get_step_failure_events()
    return {k: v.value for k, v in failed.step_failure_data.user_failure_data.metadata.items()}


@pytest.mark.slow
def test_postgresql_three_tenants_in_parallel_converge_as_alone_and_a_wrong_token_fails_alone(
        boxes: dict[str, Sandbox], postgres_url: str, tmp_path: Path, sandbox_now: datetime,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSYNC_TENANT_BROKEN__HUBSPOT__ACCESS_TOKEN", "pat-wrong-token")
    folder = tmp_path / "tenants"

    # each tenant alone, one after the other: the final state each converges to
    prepare(folder, boxes, postgres_url, sandbox_now)
    defs = build_definitions(folder, retry_policy=NO_RETRY_DELAY)
    alone: dict[str, FinalState] = {}
    for name in GOOD:
        result = execute(defs, [name])[name]
        assert result.success, name
        alone[name] = capture(boxes[name])
        assert alone[name].leadsync_writes() > PEOPLE  # the run did write (fields, list members)
        assert not alone[name].duplicates
    assert len({str(s) for s in alone.values()}) == len(GOOD)  # three different books, three results

    # all at once, the broken tenant among them, from a fresh start
    found = prepare(folder, boxes, postgres_url, sandbox_now)
    defs = build_definitions(folder, retry_policy=NO_RETRY_DELAY)
    results = execute(defs, [*GOOD, "broken"])
    for name in GOOD:
        assert results[name].success, name
        problems = differences(alone[name], capture(boxes[name]), limit=20)
        assert not problems, f"{name}:\n" + "\n".join(problems)
        # the metadata are the run's own record: counts and API calls per system
        meta = output_metadata(results[name])
        state = load_tenant(found[name]).state
        assert state.pg_schema == f"leadsync_{name}"  # one database, a schema per tenant
        with StateStore.open(state.url, schema=state.pg_schema) as store:
            (run,) = store.list_runs(limit=5)  # this tenant's run only
        assert (meta["tenant"], meta["status"], meta["exit_code"], meta["run_id"]) == (name, "ok", 0, run.id)
        assert meta["counts"] == dict(run.counts) and meta["people"] == run.counts["people"] > 0
        assert meta["api_calls"] == dict(run.api_calls)
        for system in ("salesforce", "hubspot"):
            assert meta[f"api_calls.{system}"] == sum(run.api_calls[system].values()) > 0
        assert meta["write_failures"] == 0

    broken = results["broken"]
    assert not broken.success
    assert events(broken, "STEP_UP_FOR_RETRY") == []  # exit 2: not retried
    meta = failure_metadata(broken)
    assert (meta["tenant"], meta["exit_code"], meta["status"]) == ("broken", 2, "failed")
    assert "pat-wrong-token" not in str(meta)  # the secret is not shown


@pytest.mark.slow
def test_a_run_stopped_by_the_budget_is_retried_then_fails(
        boxes: dict[str, Sandbox], tmp_path: Path, sandbox_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 1 (the day's HubSpot budget below the tenant's reserve): the retry policy runs it again,
    each attempt stops the same way, the job fails with the run's status in its metadata. The state is
    the tenant's default: its own SQLite file next to its settings file."""
    box = boxes["acme"]
    box.reset(people=PEOPLE, seed=GOOD["acme"], now=sandbox_now)
    folder = tmp_path / "tenants"
    text = box.settings_toml("sqlite:///x.db").replace('[state]\nurl = "sqlite:///x.db"', "[state]")
    assert "sqlite" not in text  # no state.url: the tenant's default
    _write(folder, "thrifty", text)
    monkeypatch.setenv("LEADSYNC_TENANT_THRIFTY__HUBSPOT__DAILY_RESERVE", str(10**9))
    result = build_definitions(folder, retry_policy=NO_RETRY_DELAY).resolve_job_def(
        "leadsync_thrifty").execute_in_process(raise_on_error=False)
    assert not result.success
    assert len(events(result, "STEP_UP_FOR_RETRY")) == NO_RETRY_DELAY.max_retries
    meta = failure_metadata(result)
    assert (meta["exit_code"], meta["status"]) == (1, "budget_stopped")
    assert (folder / "thrifty.db").is_file()  # the tenant's own SQLite state
    with StateStore.open(f"sqlite:///{folder / 'thrifty.db'}") as store:
        assert [r.status for r in store.list_runs(limit=10)] == ["budget_stopped"] * 3


@pytest.mark.slow
def test_a_tenant_whose_lock_is_held_is_retried_and_runs_once_it_is_free(
        boxes: dict[str, Sandbox], tmp_path: Path, sandbox_now: datetime) -> None:
    """The backstop under Dagster's own limits: the tenant's run lock in its state store. A run that
    finds it held (exit 3, another worker runs the tenant) is retried; once it is free the job runs."""
    box = boxes["globex"]
    box.reset(people=PEOPLE, seed=GOOD["globex"], now=sandbox_now)
    folder = tmp_path / "tenants"
    tenant = Tenant("busy", _write(folder, "busy", box.settings_toml(f"sqlite:///{tmp_path / 'busy.db'}")))
    ctx = open_context(load_tenant(tenant))
    try:
        assert run_setup(ctx, create_missing=True).ok
    finally:
        ctx.close()
    job = build_definitions(folder, retry_policy=NO_RETRY_DELAY).resolve_job_def("leadsync_busy")
    with StateStore.open(f"sqlite:///{tmp_path / 'busy.db'}") as store, RunLock(store.engine):
        held = job.execute_in_process(raise_on_error=False)
    assert not held.success
    assert len(events(held, "STEP_UP_FOR_RETRY")) == NO_RETRY_DELAY.max_retries
    assert (failure_metadata(held)["exit_code"], failure_metadata(held)["status"]) == (3, "locked")
    free = job.execute_in_process(raise_on_error=False)
    assert free.success and output_metadata(free)["status"] == "ok"
