"""Tenants on one real PostgreSQL database, a schema each (`leadsync_<name>`): two tenants with the
same people never see each other's people, snapshots, writes, runs, failures, console users or mapping
versions; each tenant's run lock is its own (tenant B runs while A is locked, a second A is refused);
a tenant's secrets come from its own variables and are never written to the store.

Skipped, like every PostgreSQL test here, where the machine has no PostgreSQL binaries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sandbox.launcher import Sandbox
from sync.cli.main import app
from sync.exit_codes import EXIT_LOCKED
from sync.run.context import open_context
from sync.run.lock import LockHeld, RunLock
from sync.run.runner import RunOptions, RunResult, run
from sync.run.setup import run_setup
from sync.settings import load_settings
from sync.state import schema as s
from sync.state.runs import NewFailure
from sync.state.store import StateStore
from sync.tenants import DIR_VARIABLE, TenantConfig

from .conftest import drop_tenant_schemas, emptied
from .state_samples import contact

TENANTS = ("acme", "beta")
PASSWORD = "hunter2"  # the session's server trusts everyone: any password connects


@pytest.fixture
def pg(postgres_url: str) -> Iterator[str]:
    """The session's PostgreSQL database, empty, with no tenant schema; its URL carries a password."""
    drop_tenant_schemas(postgres_url, TENANTS)
    yield emptied(postgres_url).replace("leadsync@", f"leadsync:{PASSWORD}@")
    drop_tenant_schemas(postgres_url, TENANTS)


def schemas(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.text("SELECT nspname FROM pg_namespace"))}
    finally:
        engine.dispose()


def tables_in(url: str, schema: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names(schema=schema))
    finally:
        engine.dispose()


def test_two_tenants_with_the_same_emails_see_only_their_own_state(pg: str) -> None:
    a = StateStore.open(pg, schema="leadsync_acme")
    b = StateStore.open(pg, schema="leadsync_beta")
    try:
        assert {"leadsync_acme", "leadsync_beta"} <= schemas(pg)
        assert tables_in(pg, "leadsync_acme") == tables_in(pg, "leadsync_beta") >= set(s.table_names())
        assert tables_in(pg, "public") == set()  # nothing of leadsync's outside the tenants' schemas
        same = "same.person@example.com"
        a.upsert_contacts("hubspot", [contact(1, email=same, props={"jobtitle": "CEO at acme"})])
        b.upsert_contacts("hubspot", [contact(1, email=same, props={"jobtitle": "CTO at beta"}),
                                      contact(2, email="only.beta@example.com")])
        run_a = a.start_run(mapping_version=None)
        a.finish_run(run_a, status="ok", counts={"people": 1})
        for _ in range(3):
            b.finish_run(b.start_run(mapping_version=None), status="failed", error="beta's trouble")
        a.add_failures(run_a, [NewFailure("hubspot", same, "write", "acme's failure")])
        a.set_console_user("admin", "admin", "$argon2id$acme")
        saved = b.record_mapping_version(1, "# beta's mapping", "", action="save", saved_by="ops")

        def view(st: StateStore) -> dict[str, object]:
            contacts = st.iter_contacts("hubspot")
            return {"contacts": {(c.email, c.properties.get("jobtitle")) for c in contacts},
                    "runs": [r.status for r in st.list_runs()],
                    "failures": [f.reason for f in st.list_failures()],
                    "users": [u.name for u in st.console_users()],
                    "mappings": [m.saved_by for m in st.mapping_versions()]}

        assert view(a) == {"contacts": {(same, "CEO at acme")}, "runs": ["ok"],
                           "failures": ["acme's failure"], "users": ["admin"], "mappings": []}
        assert view(b) == {"contacts": {(same, "CTO at beta"), ("only.beta@example.com", None)},
                           "runs": ["failed"] * 3, "failures": [], "users": [], "mappings": ["ops"]}
        assert a.mapping_version(saved.id) is None
        # run ids are per tenant (each schema its own sequence)
        assert [r.id for r in b.list_runs()] == [3, 2, 1] and [r.id for r in a.list_runs()] == [1]
    finally:
        a.close()
        b.close()


def test_run_locks_are_per_tenant(pg: str) -> None:
    a, a_again, b = (StateStore.open(pg, schema=f"leadsync_{n}") for n in ("acme", "acme", "beta"))
    try:
        # B runs alongside A; a second worker for A is refused
        with RunLock(a.engine, heartbeat_interval=1, stale_after=60), \
                RunLock(b.engine, heartbeat_interval=1, stale_after=60) as lock_b:
            assert lock_b.holder() is not None
            with pytest.raises(LockHeld, match="holds the lock"):
                RunLock(a_again.engine).acquire()
        with RunLock(a_again.engine):  # A's lock is free again once A's holder let go
            pass
    finally:
        for st in (a, a_again, b):
            st.close()


# --------------------------------------------------------------------------- real syncs, one sandbox


@pytest.fixture
def tenants_of(sandbox: Sandbox, pg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """settings.toml and tenants/acme.toml, tenants/beta.toml, both reaching the sandbox and the same
    PostgreSQL database. acme's HubSpot token in its file is wrong: the right one comes from its own
    variable; the plain LEADSYNC_ variable carries a wrong one that neither tenant may read."""
    monkeypatch.delenv(DIR_VARIABLE, raising=False)
    main = tmp_path / "settings.toml"
    main.write_text("", encoding="utf-8")
    (tmp_path / "tenants").mkdir()
    for name in TENANTS:
        path = sandbox.write_settings(tmp_path / "tenants" / f"{name}.toml", state_url=pg)
        if name == "acme":
            text = path.read_text(encoding="utf-8")
            assert text.count(sandbox.hubspot_token) == 1
            path.write_text(text.replace(sandbox.hubspot_token, "wrong-in-the-file"), encoding="utf-8")
    monkeypatch.setenv("LEADSYNC_TENANT_ACME__HUBSPOT__ACCESS_TOKEN", sandbox.hubspot_token)
    monkeypatch.setenv("LEADSYNC_HUBSPOT__ACCESS_TOKEN", "plain-and-wrong")
    return main


def sync(main: Path, tenant: str, now: datetime) -> RunResult:
    """`leadsync setup` then `leadsync sync --tenant TENANT`, through the run code."""
    ctx = open_context(load_settings(TenantConfig(main, tenant)))
    try:
        assert run_setup(ctx, create_missing=True).ok
        return run(ctx, RunOptions(now=now))
    finally:
        ctx.close()


def counts(url: str, schema: str) -> dict[str, int]:
    with StateStore.open(url, schema=schema) as st:
        return {"runs": len(st.list_runs(100)), "contacts": st.count_contacts("hubspot"),
                "deals": st.count_deals(), "written": st.count_written_records("hubspot")}


def test_real_syncs_of_two_tenants_on_one_database_stay_apart(tenants_of: Path, pg: str, sandbox: Sandbox,
                                                               sandbox_now: datetime) -> None:
    main = tenants_of
    first = sync(main, "acme", sandbox_now)
    assert first.status == "ok", first.to_dict()
    acme = counts(pg, "leadsync_acme")
    assert acme["runs"] == 1 and acme["contacts"] > 0 and acme["deals"] > 0 and acme["written"] > 0
    assert "leadsync_beta" not in schemas(pg)  # beta's state does not exist until beta runs

    # beta runs while acme's lock is held (another worker on acme), and a second acme is refused
    with StateStore.open(pg, schema="leadsync_acme") as acme_store, RunLock(acme_store.engine):
        second = sync(main, "beta", sandbox_now)
        assert second.status == "ok", second.to_dict()
        refused = sync(main, "acme", sandbox_now)
        assert refused.status == "locked" and "holds the lock" in (refused.error or "")
        cli = CliRunner().invoke(app, ["sync", "--config", str(main), "--tenant", "acme", "--json"])
        assert cli.exit_code == EXIT_LOCKED, cli.output  # the command line says so too
    again = sync(main, "acme", sandbox_now)
    assert again.status == "ok", again.to_dict()

    acme, beta = counts(pg, "leadsync_acme"), counts(pg, "leadsync_beta")
    assert (acme["runs"], beta["runs"]) == (2, 1)  # the refused run was not recorded anywhere
    assert beta["deals"] == acme["deals"] == first.counts["deals_read"]  # the same book, read by each
    with StateStore.open(pg, schema="leadsync_acme") as a, StateStore.open(pg, schema="leadsync_beta") as b:
        emails_a = {c.email for c in a.iter_contacts("hubspot")}
        emails_b = {c.email for c in b.iter_contacts("hubspot")}
        assert len(emails_a & emails_b) >= sandbox.loaded.hubspot_contacts  # the same people, by email
        assert [r.id for r in b.list_runs()] == [1]
        assert all(r.kind == "sync" for r in a.list_runs())

    # the HubSpot token (acme's from its variable, beta's from its file) is in neither schema
    engine = sa.create_engine(pg)
    try:
        with engine.connect() as conn:
            columns = conn.execute(sa.text(
                "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                "WHERE table_schema IN ('leadsync_acme', 'leadsync_beta') "
                "AND data_type IN ('text', 'character varying', 'json', 'jsonb')")).all()
            assert len(columns) > 20
            leaks = [f"{t}.{c}" for schema, t, c in columns if conn.execute(sa.text(
                f'SELECT count(*) FROM "{schema}"."{t}" WHERE CAST("{c}" AS text) LIKE :v'),
                {"v": f"%{sandbox.hubspot_token}%"}).scalar()]
    finally:
        engine.dispose()
    assert leaks == []

    # `leadsync tenants`: each tenant's store and last run, the password hidden
    result = CliRunner().invoke(app, ["tenants", "--config", str(main), "--json"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["tenants"]}
    assert PASSWORD not in result.output
    assert rows["acme"]["state"].endswith("(schema leadsync_acme)") and ":***@" in rows["acme"]["state"]
    assert (rows["acme"]["last_run"]["id"], rows["beta"]["last_run"]["id"]) == (2, 1)
