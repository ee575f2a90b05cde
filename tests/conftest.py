"""Shared fixtures: the sandbox emulators, started in-process on free ports.

- `sandbox`: both emulators with a small deterministic demo book (`SANDBOX_PEOPLE` people, seed
  `SANDBOX_SEED`, ages relative to `sandbox.now`), reset and reloaded before every test.
- `empty_sandbox`: both emulators with no data, reset before every test.

The servers start once per test session (per xdist worker) and are reused, so a test costs only the
reset and the reload (tens of milliseconds). A test may add faults (`sandbox.salesforce.faults.add(...)`)
and records freely; the next test starts clean. Do not stop these servers: a test that needs its own
options (ports, limits, a fault spec at start) calls `Sandbox.start(...)` itself.
Settings for leadsync: `sandbox.write_settings(tmp_path / "settings.toml", state_url=...)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sandbox.launcher import Sandbox

SANDBOX_PEOPLE = 60
SANDBOX_SEED = 7


@pytest.fixture(scope="session")
def sandbox_now() -> datetime:
    """The instant the demo data's ages are relative to (fixed for the session, whole seconds)."""
    return datetime.now(UTC).replace(microsecond=0)


def _start(tmp_path_factory: pytest.TempPathFactory, name: str) -> Sandbox:
    from sandbox.launcher import Sandbox

    return Sandbox.start(people=0, workdir=tmp_path_factory.mktemp(name))


@pytest.fixture(scope="session")
def _sandbox_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = _start(tmp_path_factory, "sandbox")
    yield box
    box.stop()


@pytest.fixture(scope="session")
def _empty_sandbox_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = _start(tmp_path_factory, "empty-sandbox")
    yield box
    box.stop()


@pytest.fixture
def sandbox(_sandbox_servers: Sandbox, sandbox_now: datetime) -> Sandbox:
    """Both emulators running with the small demo book (fresh for this test)."""
    _sandbox_servers.reset(people=SANDBOX_PEOPLE, seed=SANDBOX_SEED, now=sandbox_now)
    return _sandbox_servers


@pytest.fixture
def empty_sandbox(_empty_sandbox_servers: Sandbox) -> Sandbox:
    """Both emulators running with no records (fresh for this test)."""
    _empty_sandbox_servers.reset(people=0)
    return _empty_sandbox_servers


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many PostgreSQL tests ran (their ids name PostgreSQL: a `postgresql` parameter or a
    `test_postgresql_...` name), so a run that quietly skipped them shows it."""
    def count(kind: str) -> int:
        return sum(1 for r in terminalreporter.stats.get(kind, []) if "postgres" in r.nodeid.lower())
    terminalreporter.write_line(f"PostgreSQL tests: {count('passed')} passed, {count('failed')} failed, "
                                f"{count('skipped')} skipped")
