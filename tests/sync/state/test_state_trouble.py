"""State-store trouble leaves the store as one `StateStoreError` sentence (the CLI prints it, exit 2):
a full database, a damaged, empty, foreign or newer store, a PostgreSQL server that is down, refuses
the password, restarts or goes away during a run. Real databases throughout: SQLite's own "database or
disk is full" (its page limit), a PostgreSQL server of the test's own that is stopped and started."""

from __future__ import annotations

import logging
import os
import pwd
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.base import FieldUpdate
from sandbox.faults import KINDS, Fault, FaultInjector
from sandbox.launcher import Sandbox
from sync.state import sql
from sync.state.errors import StateStoreError, StateStoreFullError, StateStoreGoneError, describe
from sync.state.schema import NotAStateStoreError, SchemaTooNewError
from sync.state.store import StateStore
from tests.reliability.broken_state import can_mount, small_disk
from tests.sync.state.own_postgres import PASSWORD, OwnPostgres


def updates(tag: str, n: int) -> list[FieldUpdate]:
    return [FieldUpdate("contacts", f"{tag}{i}", {"leadsync_stage": "mql", "leadsync_explanation": "x" * 200})
            for i in range(n)]


def db_path(url: str) -> Path:
    return Path(sa.engine.make_url(url).database or "")


# --------------------------------------------------------------------------- both backends


def test_a_newer_schema_is_refused_naming_the_store(db_url: str) -> None:
    StateStore.open(db_url).close()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO schema_version (version, description, applied_at) "
                             "VALUES (99, 'future', :at)"), {"at": "2030-01-01 00:00:00.000000"})
    engine.dispose()
    with pytest.raises(SchemaTooNewError) as info:
        StateStore.open(db_url)
    assert isinstance(info.value, StateStoreError)
    text = str(info.value)
    assert text.startswith("state store ") and "schema version 99" in text and "upgrade leadsync" in text


def test_a_foreign_database_with_a_runs_table_is_refused_untouched(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        db_path(db_url).parent.mkdir(parents=True)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE runs (id INTEGER PRIMARY KEY, athlete VARCHAR(50))"))
    with pytest.raises(NotAStateStoreError, match="not a leadsync state store .*runs"):
        StateStore.open(db_url)
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == ["runs"]  # nothing of leadsync's added
    engine.dispose()


# --------------------------------------------------------------------------- SQLite


def test_an_empty_file_is_refused_unless_reset(sqlite_url: str) -> None:
    path = db_path(sqlite_url)
    StateStore.open(sqlite_url).close()
    path.write_bytes(b"")
    with pytest.raises(StateStoreError, match=r"empty \(0 bytes\).*--reset-state"):
        StateStore.open(sqlite_url)
    with StateStore.open(sqlite_url, reset_empty=True) as store:
        assert store.schema_version() > 0


@pytest.mark.parametrize("damage", ["junk", "truncated", "page one overwritten"])
def test_a_damaged_file_is_one_sentence(sqlite_url: str, damage: str) -> None:
    path = db_path(sqlite_url)
    with StateStore.open(sqlite_url) as store:
        store.record_writes("hubspot", updates("a", 300), run_id=None, mapping_version=1)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    data = bytearray(path.read_bytes())
    if damage == "junk":
        data = bytearray(b"not a database " * 1000)
    elif damage == "truncated":
        data = data[: len(data) // 3]
    else:
        data[100:4096] = b"\xff" * (4096 - 100)
    path.write_bytes(bytes(data))
    with pytest.raises(StateStoreError) as info, StateStore.open(sqlite_url) as store:
        store.last_written("hubspot", "contacts", [f"a{i}" for i in range(300)])  # a truncated file opens
    assert str(info.value).startswith(f"state store {path}: it is damaged or not a SQLite database")


@pytest.mark.parametrize(("table", "column", "bad", "words"), [
    ("runs", "counts", "{not json", "a stored run record cannot be read"),
    ("runs", "started_at", "yesterday-ish", "a stored date and time cannot be read"),
])
def test_a_stored_value_that_does_not_decode_is_one_sentence(db_url: str, table: str, column: str, bad: str,
                                                              words: str) -> None:
    with StateStore.open(db_url) as store:
        store.start_run(mapping_version=1)
        if column == "started_at" and not db_url.startswith("sqlite"):
            pytest.skip("PostgreSQL keeps timestamps typed: no text to damage")
        with store.engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {table} SET {column} = :bad"), {"bad": bad})
        with pytest.raises(StateStoreError, match=f"{words}.*damaged or was edited"):
            store.list_runs(10)


def test_a_full_database_mid_write_keeps_every_earlier_batch(sqlite_url: str) -> None:
    """SQLite's own SQLITE_FULL ("database or disk is full"), from a page limit set on each connection."""
    store = StateStore.open(sqlite_url)
    store.record_writes("hubspot", updates("early", 10), run_id=None, mapping_version=1)
    with store.engine.connect() as conn:
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar() or 0)
    store.engine.dispose()

    def limit(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    sa.event.listen(store.engine, "connect", limit)
    with pytest.raises(StateStoreFullError) as info:
        store.record_writes("hubspot", updates("late", 2_000), run_id=None, mapping_version=1)
    text = str(info.value)
    assert text.startswith(f"state store {db_path(sqlite_url)}: the disk holding it is full")
    assert "the run can simply be repeated once there is space" in text and "database or disk is full" in text

    sa.event.remove(store.engine, "connect", limit)
    store.engine.dispose()
    assert len(store.last_written("hubspot", "contacts", [f"early{i}" for i in range(10)])) == 20
    assert store.last_written("hubspot", "contacts", [f"late{i}" for i in range(2_000)]) == {}  # all or none
    assert store.record_writes("hubspot", updates("late", 2_000), run_id=None, mapping_version=1) == 4_000
    store.close()


def test_errors_that_are_bugs_are_not_dressed_up(sqlite_url: str) -> None:
    with StateStore.open(sqlite_url) as store, store.engine.connect() as conn:
        with pytest.raises(sa.exc.OperationalError):  # SQL syntax: a bug to show in full, not a sentence
            conn.exec_driver_sql("SELEC 1")
        with pytest.raises(sa.exc.IntegrityError):
            conn.exec_driver_sql("INSERT INTO schema_version (version, description, applied_at) "
                                 "VALUES (1, 'again', '2020-01-01')")


def test_the_translation_reads_the_drivers_words() -> None:
    cases = {
        "database or disk is full": StateStoreFullError,
        'could not extend file "base/5/16384": No space left on device': StateStoreFullError,
        "attempt to write a readonly database": StateStoreError,
        'password authentication failed for user "leadsync"': StateStoreError,
        "server closed the connection unexpectedly": StateStoreGoneError,
        'connection to server at "127.0.0.1", port 9 failed: Connection refused': StateStoreGoneError,
    }
    for text, kind in cases.items():
        error = describe(sa.exc.OperationalError("SELECT 1", {}, Exception(text)), "db")
        assert type(error) is kind, text
        assert str(error).startswith("state store db: ") and text in str(error)


# --------------------------------------------------------------------------- PostgreSQL, its own server


@pytest.fixture(scope="module")
def own_pg() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    yield server
    server.close()


@pytest.fixture
def fresh_pg(own_pg: OwnPostgres) -> OwnPostgres:
    if not _up(own_pg):
        own_pg.start()
    engine = sa.create_engine(own_pg.url())
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()
    return own_pg


def _up(server: OwnPostgres) -> bool:
    try:
        sa.create_engine(server.url()).connect().close()
    except sa.exc.OperationalError:
        return False
    return True


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql, "CONNECT_BACKOFF", 0.05)


def test_postgresql_wrong_password_is_not_retried(fresh_pg: OwnPostgres, caplog: pytest.LogCaptureFixture
                                                  ) -> None:
    caplog.set_level(logging.WARNING)
    with pytest.raises(StateStoreError) as info:
        StateStore.open(fresh_pg.url("wrong-password"))
    text = str(info.value)
    assert "refused the user name or password" in text and "state.url" in text
    assert "wrong-password" not in text and "***" in text
    assert "trying again" not in caplog.text


def test_postgresql_down_at_start(fresh_pg: OwnPostgres, quick_retries: None,
                                  caplog: pytest.LogCaptureFixture) -> None:
    fresh_pg.stop()
    try:
        with pytest.raises(StateStoreGoneError) as info:
            StateStore.open(fresh_pg.url())
    finally:
        fresh_pg.start()
    text = str(info.value)
    assert "cannot be reached" in text and f"127.0.0.1:{fresh_pg.port}" in text and PASSWORD not in text
    assert caplog.text.count("trying again") == sql.CONNECT_ATTEMPTS - 1


def test_postgresql_restart_between_two_calls_is_ridden_out(fresh_pg: OwnPostgres,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql, "CONNECT_ATTEMPTS", 200)  # room for a slow restart on a loaded machine
    monkeypatch.setattr(sql, "CONNECT_BACKOFF", 0.05)
    with StateStore.open(fresh_pg.url()) as store:
        run_id = store.start_run(mapping_version=1)
        fresh_pg.stop()
        restart = threading.Thread(target=lambda: (time.sleep(0.3), fresh_pg.start()))
        restart.start()
        try:
            store.finish_run(run_id, status="ok")  # the dead pooled connection is replaced
        finally:
            restart.join()
        record = store.get_run(run_id)
        assert record is not None and record.status == "ok"


class StopTheDatabase(FaultInjector):
    """Stops the PostgreSQL server when the first HubSpot batch update arrives (before it is answered)."""

    def __init__(self, server: OwnPostgres) -> None:
        super().__init__()
        self.server = server
        self.stopped = threading.Event()

    def draw(self, endpoint: str, kinds: tuple[str, ...] = KINDS) -> Fault | None:
        if endpoint == "hubspot.batch_update" and not self.stopped.is_set():
            self.stopped.set()
            self.server.stop()
        return super().draw(endpoint, kinds)


def leadsync(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])  # this checkout's leadsync
    return subprocess.run([sys.executable, "-m", "sync.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300, check=False)


def test_postgresql_going_away_mid_run_stops_it_and_the_next_run_knows(
        fresh_pg: OwnPostgres, empty_sandbox: Sandbox, tmp_path: Path) -> None:
    for i in range(30):
        empty_sandbox.hubspot.store.create_contact({"email": f"p{i}@example.com", "hs_email_open": "1"})
    settings = empty_sandbox.write_settings(tmp_path / "settings.toml", fresh_pg.url())
    assert leadsync("setup", "--config", str(settings), cwd=tmp_path).returncode == 0
    stopper = StopTheDatabase(fresh_pg)
    empty_sandbox.hubspot.faults = stopper
    try:
        gone = leadsync("sync", "--config", str(settings), cwd=tmp_path)
    finally:
        empty_sandbox.hubspot.faults = FaultInjector()
        fresh_pg.start()
    assert stopper.stopped.is_set()
    assert "Traceback" not in gone.stderr, gone.stderr
    assert gone.returncode == 2, gone.stderr
    said = " ".join(gone.stderr[gone.stderr.index("error:"):].split())
    assert "state store postgresql+psycopg://leadsync:***@" in said and PASSWORD not in gone.stderr
    assert "trying again (4 of 4)" in gone.stderr  # the connection was retried first

    again = leadsync("sync", "--config", str(settings), "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    with StateStore.open(fresh_pg.url()) as store:
        first, second = sorted(store.list_runs(10), key=lambda r: r.id)
    assert first.status == "interrupted" and first.error  # marked by the next run
    assert second.status == "ok"


@pytest.mark.skipif(not can_mount(), reason="needs root to mount a small tmpfs")
def test_postgresql_disk_full_mid_write_keeps_every_earlier_batch(fresh_pg: OwnPostgres) -> None:
    """A real full disk under PostgreSQL: the store's tables live in a tablespace on a tiny tmpfs."""
    disk = fresh_pg.base / "pgdisk"  # a folder the server's account can reach
    owner = pwd.getpwnam("postgres")
    admin = sa.create_engine(fresh_pg.url(), isolation_level="AUTOCOMMIT")
    with small_disk(disk, 768):
        os.chown(disk, owner.pw_uid, owner.pw_gid)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE TABLESPACE leadsync_small LOCATION '{disk}'")
        try:
            url = fresh_pg.url() + "?options=-c%20default_tablespace%3Dleadsync_small"
            with StateStore.open(url) as store:
                store.record_writes("hubspot", updates("early", 10), run_id=None, mapping_version=1)
                with pytest.raises(StateStoreFullError) as info:
                    for n in range(50):  # until the tablespace is full
                        store.record_writes("hubspot", updates(f"late{n}-", 1_000), run_id=None,
                                            mapping_version=1)
                text = str(info.value)
                assert "the disk holding it is full" in text and "the run can simply be repeated" in text
                assert "No space left on device" in text and PASSWORD not in text
                assert len(store.last_written("hubspot", "contacts", [f"early{i}" for i in range(10)])) == 20
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
                conn.exec_driver_sql("DROP TABLESPACE leadsync_small")
            admin.dispose()


def test_postgresql_read_only_database(fresh_pg: OwnPostgres) -> None:
    """PostgreSQL's "read-only folder": a database (or a hot standby) that takes no writes."""
    with StateStore.open(fresh_pg.url()) as store:
        store.record_writes("hubspot", updates("early", 10), run_id=None, mapping_version=1)
    admin = sa.create_engine(fresh_pg.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("ALTER DATABASE postgres SET default_transaction_read_only = on")
    try:
        with StateStore.open(fresh_pg.url()) as store:  # up to date: opening writes nothing
            assert len(store.last_written("hubspot", "contacts", [f"early{i}" for i in range(10)])) == 20
            with pytest.raises(StateStoreError) as info:
                store.record_writes("hubspot", updates("late", 10), run_id=None, mapping_version=1)
        assert "it cannot be written" in str(info.value) and "read-only transaction" in str(info.value)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql("SET default_transaction_read_only = off")
            conn.exec_driver_sql("ALTER DATABASE postgres SET default_transaction_read_only = off")
        admin.dispose()
