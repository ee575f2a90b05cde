"""The console's "retry now": one sync run started from a page, through the path `leadsync sync` and
`leadsync schedule` take (`sync.cli.sync.execute`: the same context, run code and run lock), with the
settings file the console was opened with, read again (an edited mapping counts, as in `schedule`).

    start = run_starter(config)      # handed to sync.console.app.create_app(start_run=...)
    start(job) -> RunResult          # in the console's job thread; job.advance gets the run's progress,
                                     # job.stop is the run's stop event (POST /runs/stop sets it)

A held run lock is not an error: the result's status is "locked" and its error names the holder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from sync.cli.sync import execute
from sync.run.runner import RunOptions, RunResult
from sync.settings import ConfigSource, load_settings

if TYPE_CHECKING:
    from sync.console.jobs import Job


class RunNotStarted(RuntimeError):
    """The settings or mapping could not be used (the console's terminal shows why)."""


def run_starter(config: ConfigSource) -> Callable[[Job], RunResult]:
    def start(job: Job) -> RunResult:
        settings = load_settings(config)  # SettingsFileError: its message is the job's error

        def progress(phase: str, done: int) -> None:
            job.advance(phase, done)

        try:
            return execute(settings, RunOptions(stop=job.stop, progress=progress), show_progress=False)
        except typer.Exit as exc:  # the mapping or a connector refused the settings (printed on stderr)
            raise RunNotStarted("the run could not start: the settings or mapping file cannot be used "
                                "(the console's terminal says why; `leadsync sync` says it too)") from exc

    return start
