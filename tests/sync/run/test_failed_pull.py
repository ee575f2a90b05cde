"""A run whose pull fails for good (issue 11): what was read is kept, earlier record failures are
retried, no watermark moves, and several runs in a row under heavy faults (2 attempts per call) make
progress. Real clients over HTTP against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import RetriableAPIError
from sandbox.launcher import Sandbox
from sync.run.context import open_context
from sync.run.runner import RunOptions, RunResult, run
from sync.run.setup import run_setup
from sync.run.streams import batches_keeping_partial
from sync.settings import load_settings
from sync.state.store import StateStore


def failing_after(n: int) -> Iterator[int]:
    yield from range(n)
    raise RetriableAPIError("read failed after retries", status=503)


def test_batches_keep_what_was_read_before_a_failure() -> None:
    got: list[list[int]] = []
    with pytest.raises(RetriableAPIError):
        for batch in batches_keeping_partial(failing_after(7), 3):
            got.append(batch)
    assert got == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(RetriableAPIError):
        next(batches_keeping_partial(failing_after(0), 3))
    assert list(batches_keeping_partial(range(4), 2)) == [[0, 1], [2, 3]]


def sync(path: Path, box: Sandbox) -> RunResult:
    settings = load_settings(path)
    quick = settings.sync.model_copy(update={"max_attempts": 2, "max_backoff_seconds": 0.01,
                                             "verify_sample": 0})
    ctx = open_context(settings.model_copy(update={"sync": quick}))
    try:
        return run(ctx, RunOptions(now=box.now))
    finally:
        ctx.close()


def open_failures(path: Path) -> int:
    with StateStore.open(load_settings(path).state.url) as store:
        return len([f for f in store.list_failures() if f.stage == "write"])


@pytest.mark.slow
def test_runs_whose_pull_fails_still_retry_earlier_failures_and_keep_what_they_read(
        sandbox: Sandbox, tmp_path: Path) -> None:
    path = sandbox.write_settings(tmp_path / "settings.toml", state_url=f"sqlite:///{tmp_path}/state.db")
    ctx = open_context(load_settings(path))
    try:
        assert run_setup(ctx, create_missing=True).ok
    finally:
        ctx.close()
    # a first run whose writes half fail: record failures are stored
    sandbox.salesforce.faults.add("salesforce.collections", "record", 0.6, arg="UNABLE_TO_LOCK_ROW")
    first = sync(path, sandbox)
    assert first.status == "partial", first.error
    before = open_failures(path)
    assert before > 5
    with StateStore.open(f"sqlite:///{tmp_path}/state.db") as store:
        marks = store.watermarks()
        deals = len(list(store.iter_deals(include_deleted=True)))

    # heavy faults from now on: HubSpot's search never answers (every pull fails after the deals are
    # read), Salesforce writes keep failing some records, writes meet transient errors. (Only the
    # writes: a transient error outlasting the retries in a call before the pull, such as the login or
    # the binding check, ends a run for another reason, which is not what this test is about.)
    sandbox.hubspot.faults.add("hubspot.search", "503", 1.0)
    sandbox.hubspot.faults.add("hubspot.batch_update", "500", 0.2)
    sandbox.salesforce.faults.add("salesforce.collections", "503", 0.1)
    left, results = [before], []
    for _ in range(4):
        results.append(sync(path, sandbox))
        left.append(open_failures(path))
    assert left[-1] < left[0] / 2, left  # before: the same failures, run after run (no progress)
    assert all(b <= a for a, b in zip(left, left[1:], strict=False)), left
    for result in results:
        assert result.status == "failed" and result.exit_code == 1, result.error
        assert "the pull did not finish" in (result.error or "")
    with StateStore.open(f"sqlite:///{tmp_path}/state.db") as store:
        assert store.watermarks() == marks  # nothing moved past what was not read
        assert len(list(store.iter_deals(include_deleted=True))) == deals  # the deals read are kept
