"""Fixtures of the reliability suite.

- `rel_box`: both emulators, started once per xdist worker on free ports (this suite changes daily
  limits and fault injectors, so it does not share the suite-wide `sandbox` servers).
- `harness`: a `Harness` over `rel_box` with this test's folder and settings file (demo data not yet
  loaded: call `harness.load(...)`).
- `references`: final states of clean, fault-free runs, computed once per worker and per book.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.launcher import Sandbox
from tests.reliability.harness import HS_DEFAULT_LIMIT, NOW, PEOPLE, SEED, SF_DEFAULT_LIMIT, Harness
from tests.reliability.state_compare import FinalState, history_rows


class References:
    """Final state of an uninterrupted, fault-free run per (people, seed), computed on first use.

    Computing one reloads the sandbox: call `get` before `harness.load(...)`."""

    def __init__(self, box: Sandbox, folder: Path) -> None:
        self.box = box
        self.folder = folder
        self._cache: dict[tuple[int, int], FinalState] = {}
        self._history: dict[tuple[int, int], list[tuple[object, ...]]] = {}

    def get(self, people: int = PEOPLE, seed: int = SEED) -> FinalState:
        key = (people, seed)
        if key not in self._cache:
            folder = self.folder / f"ref-{people}-{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            h = Harness(self.box, folder)
            h.load(people=people, seed=seed)
            h.configure()
            h.setup()
            result = h.run()
            assert result.status == "ok", (result.status, result.error)
            state = h.capture()
            assert not state.duplicates, state.duplicates
            assert state.leadsync_writes() > 0
            self._cache[key] = state
            with h.store() as store:
                self._history[key] = history_rows(store)
            assert self._history[key], "the reference run recorded no stage history"
        return self._cache[key]

    def history(self, people: int = PEOPLE, seed: int = SEED) -> list[tuple[object, ...]]:
        """The stage history an uninterrupted run records (`state_compare.history_rows`)."""
        self.get(people, seed)
        return self._history[(people, seed)]


@pytest.fixture(scope="session")
def rel_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = Sandbox.start(people=0, workdir=tmp_path_factory.mktemp("reliability-sandbox"), now=NOW)
    yield box
    box.stop()


@pytest.fixture(scope="session")
def references(rel_box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> References:
    return References(rel_box, tmp_path_factory.mktemp("reliability-references"))


@pytest.fixture
def harness(rel_box: Sandbox, tmp_path: Path) -> Iterator[Harness]:
    h = Harness(rel_box, tmp_path)
    yield h
    rel_box.salesforce.faults.clear()
    rel_box.hubspot.faults.clear()
    rel_box.reset(people=0)
    rel_box.salesforce.daily_limit = SF_DEFAULT_LIMIT
    rel_box.hubspot.limiter.daily_limit = HS_DEFAULT_LIMIT
