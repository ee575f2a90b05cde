"""The report cache: the overview (and the loss analysis's report) computed once per finished run in a
background thread, shown "as of run N"; while the first computation runs the page says so (never blank
or wrong); a new run is picked up; a failed computation is shown and tried again. Over a real store."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from sync.console.report_cache import CacheView, ReportCache
from sync.state.store import StateStore

from .conftest import ADMIN_PASSWORD, Site


class Gate:
    """A compute function that blocks until released and counts its calls (value: the call number)."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.release = threading.Event()
        self.entered = threading.Event()
        self.fail = fail

    def __call__(self, mapping: Any) -> Any:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(30)
        if self.fail:
            raise RuntimeError("database is locked <script>")
        return ("value", self.calls, mapping)


def finished_run(store: StateStore) -> int:
    run = store.start_run(mapping_version=1)
    store.finish_run(run, status="ok")
    return run


def settled(cache: ReportCache, mapping: Any) -> CacheView:
    """The cache's view once its computation has ended (at most 10 s)."""
    for _ in range(200):
        view = cache.get(mapping)
        if not view.updating:
            return view
        threading.Event().wait(0.05)
    raise AssertionError("the computation did not end")


@pytest.fixture
def store(site: Site) -> Iterator[StateStore]:
    yield site.local.store


def test_the_first_computation_is_reported_then_served_from_the_cache(store: StateStore) -> None:
    run = finished_run(store)
    gate = Gate()
    cache = ReportCache(store, gate, first_wait=0.0)
    mapping = object()
    first = cache.get(mapping)
    assert first.computed is None and first.updating and first.error is None
    gate.release.set()
    done = settled(cache, mapping)
    assert done.computed is not None and not done.updating
    assert done.computed.value == ("value", 1, mapping) and done.computed.run.run_id == run
    for _ in range(3):
        assert cache.get(mapping).computed.value == ("value", 1, mapping)
    assert gate.calls == 1


def test_a_new_finished_run_is_computed_again_and_a_running_one_is_not(store: StateStore) -> None:
    first_run = finished_run(store)
    gate = Gate()
    gate.release.set()
    cache = ReportCache(store, gate, sync_below=0.0)  # as at 1M people: never wait for a recomputation
    mapping = object()
    assert cache.get(mapping).computed.run.run_id == first_run
    store.start_run(mapping_version=1)  # still running: the figures stand
    assert cache.get(mapping).computed.value[1] == 1 and gate.calls == 1
    second_run = finished_run(store)
    gate.release.clear()
    stale = cache.get(mapping)
    assert stale.updating and stale.computed.run.run_id == first_run  # the old one, labelled with its run
    assert gate.entered.wait(10)
    gate.release.set()
    fresh = settled(cache, mapping)
    assert fresh.computed.run.run_id == second_run and fresh.computed.value[1] == 2
    assert gate.calls == 2


def test_a_changed_mapping_is_not_shown_with_the_old_figures(store: StateStore) -> None:
    gate = Gate()
    gate.release.set()
    cache = ReportCache(store, gate)
    old, new = object(), object()
    assert cache.get(old).computed.value[2] is old
    assert cache.get(new).computed.value[2] is new and gate.calls == 2


def test_a_failed_computation_is_shown_and_tried_again(store: StateStore) -> None:
    gate = Gate(fail=True)
    gate.release.set()
    cache = ReportCache(store, gate)
    failed = cache.get(object())
    assert failed.computed is None and "database is locked" in (failed.error or "")
    gate.fail = False
    mapping = object()
    assert cache.get(mapping).computed.value == ("value", 2, mapping)


def test_the_pages_say_as_of_which_run(site: Site) -> None:
    run = finished_run(site.local.store)
    admin = site.signed_in("ops", ADMIN_PASSWORD)
    for path in ("/", "/losses"):
        page = admin.get(path)
        assert page.status_code == 200 and f"As of run {run} (" in page.text, path
        assert "data-computing" not in page.text
    ja = site.signed_in("ops", ADMIN_PASSWORD, lang="ja")
    assert f"集計対象: 実行 {run}" in ja.get("/").text
    # a small store (its last computation under sync_below) waits for the new run's figures; the
    # bound is lifted here so that a loaded machine cannot make this store count as a slow one
    console = admin.app.state.console  # type: ignore[attr-defined]
    console.reports.sync_below = math.inf
    newer = finished_run(site.local.store)
    assert f"As of run {newer} (" in admin.get("/").text


def test_while_the_first_computation_runs_the_pages_say_so(site: Site) -> None:
    admin = site.signed_in("ops", ADMIN_PASSWORD)
    console = admin.app.state.console  # type: ignore[attr-defined]
    real = console.reports.compute
    gate = Gate()
    console.reports = ReportCache(site.local.store, lambda m: (gate(m), real(m))[1], first_wait=0.0)
    for path, title in (("/", "Overview"), ("/losses", "Loss analysis")):
        page = admin.get(path)
        assert page.status_code == 200 and 'data-computing="1"' in page.text
        assert "being computed" in page.text and page.headers["refresh"] == "3"
        assert f"<h1>{title}" in page.text and "people in the store" not in page.text
    gate.release.set()
    for _ in range(200):  # as the page's Refresh does
        page = admin.get("/")
        if "data-computing" not in page.text:
            break
        threading.Event().wait(0.05)
    assert page.status_code == 200 and "people in the store" in page.text
    assert "data-computing" not in page.text
    assert "Before the first run" in page.text  # no run finished in this store
    assert gate.calls == 1


def test_a_failed_computation_shows_its_error_escaped(site: Site) -> None:
    admin = site.signed_in("ops", ADMIN_PASSWORD)
    gate = Gate(fail=True)
    gate.release.set()
    admin.app.state.console.reports = ReportCache(site.local.store, gate)  # type: ignore[attr-defined]
    page = admin.get("/losses")
    assert page.status_code == 200 and "could not be computed" in page.text
    assert "database is locked &lt;script&gt;" in page.text and "<script>" not in page.text
    assert "refresh" not in page.headers
