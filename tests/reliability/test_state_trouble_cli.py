"""State-store trouble, for every command, through the console script's entry point: a sentence that
names the store and says what to do, exit 2, never a traceback (README "Exit codes").

SQLite: the kinds of broken file in `broken_state.BREAKERS`, a read-only folder, a full disk (a real
tmpfs, root only). PostgreSQL: a server that is down, a refused password, a URL without a usable
driver, a newer schema, a foreign database. `doctor` does not open the state store: it must still end
with a documented code and no traceback.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sync.state.store import StateStore
from tests.reliability.broken_state import (
    BREAKERS,
    COMMANDS,
    DOCTOR,
    EXIT_CODES,
    Result,
    Runner,
    can_mount,
    fill,
    make_store,
    read_only,
    small_disk,
    squeeze,
    write_settings,
)
from tests.sync.state.conftest import emptied, postgres_url  # noqa: F401  (the session's PostgreSQL server)


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    r = Runner(tmp_path_factory.mktemp("state-trouble-cli"))
    yield r
    r.close()


def assert_sentence(result: Result, *words: str) -> None:
    assert not result.traceback, result.stderr
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    said = squeeze(result.stderr)
    for word in words:
        assert squeeze(word) in said, f"{word!r} not in {result.stderr!r}"


@pytest.mark.parametrize("kind", sorted(BREAKERS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_broken_sqlite_state_file(runner: Runner, tmp_path: Path, kind: str, command: str) -> None:
    db = tmp_path / "state.db"
    BREAKERS[kind].make(db)
    before = _content(db)
    settings = write_settings(tmp_path, f"sqlite:///{db}")
    result = runner(*COMMANDS[command], "--config", str(settings))
    assert_sentence(result, str(db), *BREAKERS[kind].words)
    assert _content(db) == before  # refused, not repaired or overwritten


def _content(db: Path) -> list[str] | bytes:
    """What the file holds: its SQL dump where SQLite can read it, else its bytes (the header may
    change: leadsync switches every store it opens to WAL mode)."""
    try:
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
        try:
            return list(conn.iterdump())
        finally:
            conn.close()
    except sqlite3.Error:
        return db.read_bytes()


@pytest.mark.parametrize("kind", sorted(BREAKERS))
def test_doctor_with_a_broken_state_file_ends_cleanly(runner: Runner, tmp_path: Path, kind: str) -> None:
    db = tmp_path / "state.db"
    BREAKERS[kind].make(db)
    result = runner(*DOCTOR, "--config", str(write_settings(tmp_path, f"sqlite:///{db}")))
    assert not result.traceback, result.stderr
    assert result.exit_code in EXIT_CODES


def test_an_empty_state_file_is_taken_as_new_only_with_reset_state(runner: Runner, tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(b"")
    settings = write_settings(tmp_path, f"sqlite:///{db}")
    assert_sentence(runner("sync", "--config", str(settings)), "0 bytes", "--reset-state")
    assert db.stat().st_size == 0
    reset = runner("sync", "--reset-state", "--config", str(settings))
    assert not reset.traceback, reset.stderr
    assert "0 bytes" not in reset.stderr  # the store was accepted: the run then fails on the systems
    with StateStore.open(f"sqlite:///{db}") as store:
        assert store.schema_version() > 0


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_read_only_state_folder(runner: Runner, tmp_path: Path, command: str) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    db = folder / "state.db"
    make_store(db)
    settings = write_settings(tmp_path, f"sqlite:///{db}")
    with read_only(folder):
        result = runner(*COMMANDS[command], "--config", str(settings))
    if command in ("runs", "runs show", "failures", "report", "mappings explain") and result.exit_code != 2:
        assert not result.traceback, result.stderr  # reading a read-only store may work: fine
        assert result.exit_code == 0 or command == "mappings explain"
        return
    assert_sentence(result, str(db), "cannot be")


def test_read_only_folder_and_no_store_yet(runner: Runner, tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    db = folder / "state.db"
    settings = write_settings(tmp_path, f"sqlite:///{db}")
    with read_only(folder):
        result = runner("sync", "--config", str(settings))
    assert_sentence(result, str(db), "cannot be written", "Read-only file system" if can_mount()
                    else "Permission denied")
    assert not db.exists()


@pytest.mark.skipif(not can_mount(), reason="needs root to mount a small tmpfs (a disk that fills up)")
def test_disk_full_at_start(runner: Runner, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    with small_disk(disk, 1024):
        filler = fill(disk)
        settings = write_settings(tmp_path, f"sqlite:///{disk / 'state.db'}")
        result = runner("sync", "--config", str(settings))
        assert_sentence(result, str(disk / "state.db"), "full", "the run can simply be repeated")
        assert not (disk / "state.db").exists()  # no 0-byte file left behind to be refused next time
        filler.unlink()
        again = runner("runs", "--config", str(settings))
        assert again.exit_code == 0 and not again.traceback, again.stderr


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_empty(postgres_url: str) -> str:  # noqa: F811
    return emptied(postgres_url)


PG_COMMANDS = ["sync", "runs", "failures", "report", "mappings explain", "schedule"]


@pytest.mark.parametrize("command", PG_COMMANDS)
def test_postgresql_newer_schema(runner: Runner, tmp_path: Path, pg_empty: str, command: str) -> None:
    StateStore.open(pg_empty).close()
    engine = sa.create_engine(pg_empty)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO schema_version VALUES (99, 'future', now())")
    engine.dispose()
    result = runner(*COMMANDS[command], "--config", str(write_settings(tmp_path, pg_empty)))
    assert_sentence(result, "schema version 99", "upgrade leadsync", "127.0.0.1")


@pytest.mark.parametrize("command", PG_COMMANDS)
def test_postgresql_foreign_database(runner: Runner, tmp_path: Path, pg_empty: str, command: str) -> None:
    engine = sa.create_engine(pg_empty)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE runs (id serial primary key, athlete text)")
    engine.dispose()
    result = runner(*COMMANDS[command], "--config", str(write_settings(tmp_path, pg_empty)))
    assert_sentence(result, "not a leadsync state store", "runs")


@pytest.mark.parametrize("command", ["sync", "runs", "report"])
def test_postgresql_down(runner: Runner, tmp_path: Path, command: str) -> None:
    url = "postgresql+psycopg://leadsync:hunter2@127.0.0.1:9/leadsync"
    result = runner(*COMMANDS[command], "--config", str(write_settings(tmp_path, url)))
    assert_sentence(result, "cannot be reached", "127.0.0.1:9")
    assert "hunter2" not in result.stderr + result.stdout


@pytest.mark.parametrize(("url", "words"), [
    ("postgres://leadsync@127.0.0.1/leadsync", ("postgres://", "dialect+driver")),
    ("mysql://leadsync@127.0.0.1/leadsync", ("driver", "'MySQLdb'", "not installed")),
    ("not a url", ("state.url",)),
])
@pytest.mark.parametrize("command", ["sync", "runs", "report"])
def test_url_without_a_usable_driver(runner: Runner, tmp_path: Path, url: str, words: tuple[str, ...],
                                     command: str) -> None:
    result = runner(*COMMANDS[command], "--config", str(write_settings(tmp_path, url)))
    assert_sentence(result, *words)


def test_sqlite_file_opened_by_another_program_is_left_alone(runner: Runner, tmp_path: Path) -> None:
    """A foreign database is refused before anything is written to it (no leadsync table added)."""
    db = tmp_path / "other.db"
    BREAKERS["foreign runs table"].make(db)
    runner("sync", "--config", str(write_settings(tmp_path, f"sqlite:///{db}")))
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert tables == {"runs"}
