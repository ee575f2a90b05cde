"""Fixtures for the state store tests.

`db_url` / `store` run each test twice: on a real SQLite file in tmp_path (never :memory:) and on a
real PostgreSQL server started for the test session from the machine's PostgreSQL binaries (skipped
when there are none, or no psycopg driver). `sqlite_url` is for tests about the SQLite file itself.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import sqlalchemy as sa

from sync import tenants
from sync.state.store import StateStore

REQUIRE_POSTGRES = "LEADSYNC_REQUIRE_POSTGRES"  # "1" (CI): no PostgreSQL test may skip for want of a server


def no_postgres(reason: str) -> NoReturn:
    """Skip the test for want of a PostgreSQL server, or fail it where one is required (`.ci/run`)."""
    if os.environ.get(REQUIRE_POSTGRES) == "1":
        pytest.fail(f"{reason} ({REQUIRE_POSTGRES}=1: the PostgreSQL tests must run)", pytrace=False)
    pytest.skip(reason)


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 for this test session (one per xdist worker)."""
    if importlib.util.find_spec("psycopg") is None:
        no_postgres("no psycopg driver")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        no_postgres("PostgreSQL server binaries (initdb, pg_ctl) not found")
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use its own account
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            no_postgres("running as root and there is no 'postgres' user to run the server")
        run_as = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="leadsync-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if owner is not None:
        for p in (base, sock):
            os.chown(p, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    try:
        subprocess.run(
            [
                *run_as,
                initdb,
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "leadsync",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [
                *run_as,
                pg_ctl,
                "-D",
                str(data),
                "-o",
                opts,
                "-l",
                str(base / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(base, ignore_errors=True)
        no_postgres(f"could not start PostgreSQL: {exc}")
    try:
        yield f"postgresql+psycopg://leadsync@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'leadsync.db'}"


def emptied(url: str) -> str:
    """`url`'s PostgreSQL database emptied (every table dropped), for a test that needs a new one."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        engine.dispose()
    return url


def drop_tenant_schemas(url: str, names: Iterable[str]) -> None:
    """Each tenant's schema (`leadsync_<name>`) dropped from `url`'s database, with all it holds."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for name in names:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{tenants.schema_name(name)}" CASCADE')
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'leadsync.db'}"
    return emptied(request.getfixturevalue("postgres_url"))  # an empty database for every test


@pytest.fixture
def store(db_url: str) -> Iterator[StateStore]:
    with StateStore.open(db_url) as st:
        yield st
