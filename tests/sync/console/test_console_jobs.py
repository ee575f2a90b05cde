"""The console's background jobs: progress, result, error, one at a time per kind, expiry."""

from __future__ import annotations

import threading

import pytest

from sync.console.jobs import Busy, Job, JobBoard


def _wait(job: Job) -> None:
    for _ in range(500):
        if not job.running:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the job did not finish")


def test_a_job_reports_progress_then_its_result() -> None:
    board = JobBoard()
    release = threading.Event()

    def work(job: Job) -> int:
        job.advance("people", 25, 100)
        release.wait(5)
        return 7

    job = board.start("preview", "ops", work)
    for _ in range(500):
        if job.done == 25:
            break
        threading.Event().wait(0.01)
    assert (job.phase, job.done, job.total, job.percent) == ("people", 25, 100, 25)
    assert job.running and board.get(job.id) is job
    with pytest.raises(Busy) as refused:
        board.start("preview", "other", lambda j: None)
    assert refused.value.job is job and "ops" in str(refused.value)
    other = board.start("run", "ops", lambda j: "ran")  # another kind is not blocked
    release.set()
    _wait(job)
    _wait(other)
    assert (job.result, job.error, other.result) == (7, None, "ran")
    assert board.latest("preview") is job


def test_a_failing_job_keeps_its_error_and_frees_its_kind() -> None:
    board = JobBoard()

    def work(job: Job) -> None:
        raise ValueError("bad mapping")

    job = board.start("preview", "ops", work)
    _wait(job)
    assert job.error == "ValueError: bad mapping" and job.result is None
    again = board.start("preview", "ops", lambda j: 1)
    _wait(again)
    assert again.result == 1


def test_finished_jobs_are_forgotten_after_keep_seconds() -> None:
    board = JobBoard(keep_seconds=0)
    job = board.start("preview", "ops", lambda j: 1)
    _wait(job)
    threading.Event().wait(0.01)
    board.start("preview", "ops", lambda j: 2)
    assert board.get(job.id) is None
