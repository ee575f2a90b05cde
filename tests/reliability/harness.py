"""The reliability harness: one sandbox (emulators in this process, free ports), a settings file and a
fresh SQLite state file per scenario, and two ways to run a sync — in this process (`run`) or as the
real `leadsync sync` command in a subprocess (`spawn`, `sync_cli`).

All runs use the fixed instant `NOW`, both for the demo data's ages and for `--now`, so two runs over
the same book compute the same assignments whatever the wall clock says.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.launcher import Sandbox
from sandbox.settings_toml import dumps_toml
from sync.run.context import SyncContext, open_context
from sync.run.runner import RunOptions, RunResult, run
from sync.run.setup import run_setup
from sync.settings import load_settings
from sync.state.store import StateStore
from tests.reliability.forkserver import ForkedProcess, ForkServer
from tests.reliability.state_compare import FinalState, capture

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
PEOPLE = 300
SEED = 11
CLI_TIMEOUT = 240.0  # seconds; generous: a loaded 2-core CI machine, never a timed assertion

# Retries in tests: as many attempts as in production, but no real waiting.
FAST_RETRIES: dict[str, dict[str, Any]] = {"sync": {"max_attempts": 6, "max_backoff_seconds": 0.05}}
SF_DEFAULT_LIMIT = 1_000_000
HS_DEFAULT_LIMIT = 1_000_000

Process = subprocess.Popen[bytes] | ForkedProcess


def leadsync_executable() -> list[str]:
    """The installed `leadsync` console script (the one next to this interpreter first)."""
    beside = Path(sys.executable).with_name("leadsync")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("leadsync")
    return [found] if found else [sys.executable, "-m", "sync.cli.main"]


def merge(base: Mapping[str, Mapping[str, Any]], *overrides: Mapping[str, Mapping[str, Any]]
          ) -> dict[str, dict[str, Any]]:
    out = {k: dict(v) for k, v in base.items()}
    for extra in overrides:
        for section, values in extra.items():
            out.setdefault(section, {}).update(values)
    return out


@dataclass
class CliResult:
    code: int
    result: dict[str, Any] | None  # the --json RunResult, when the command printed one
    stdout: str
    stderr: str

    @property
    def status(self) -> str | None:
        return None if self.result is None else self.result.get("status")


@dataclass
class Harness:
    """A sandbox plus one scenario's folder, settings file and state file."""

    box: Sandbox
    folder: Path
    now: datetime = NOW
    settings_extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    generation: int = 0  # bumped by `fresh_state`

    # ---------------------------------------------------------------- files
    @property
    def settings_path(self) -> Path:
        return self.folder / "settings.toml"

    @property
    def state_path(self) -> Path:
        return self.folder / f"state-{self.generation}.db"

    @property
    def state_url(self) -> str:
        return f"sqlite:///{self.state_path}"

    def configure(self, **sections: dict[str, Any]) -> Path:
        """(Re)write the settings file: the sandbox's, fast retries, then `sections` overrides."""
        self.settings_extra = merge(self.settings_extra, sections)
        data = merge(self.box.settings_dict(self.state_url), FAST_RETRIES, self.settings_extra)
        self.settings_path.write_text("# reliability test settings\n" + dumps_toml(data), encoding="utf-8")
        self.settings_path.chmod(0o600)
        return self.settings_path

    def fresh_state(self) -> Path:
        """Point the settings at a new, empty state file (the old one stays for inspection)."""
        self.generation += 1
        return self.configure()

    # ---------------------------------------------------------------- sandbox data
    def load(self, *, people: int = PEOPLE, seed: int = SEED, faults: str | None = None) -> None:
        """Fresh demo book in both emulators (no leadsync writes yet), default daily limits."""
        self.box.reset(people=people, seed=seed, now=self.now, faults=faults)
        self.box.salesforce.daily_limit = SF_DEFAULT_LIMIT
        self.box.hubspot.limiter.daily_limit = HS_DEFAULT_LIMIT

    def capture(self) -> FinalState:
        return capture(self.box)

    # ---------------------------------------------------------------- in-process runs
    @contextmanager
    def context(self) -> Iterator[SyncContext]:
        ctx = open_context(load_settings(self.settings_path))
        try:
            yield ctx
        finally:
            ctx.close()

    @contextmanager
    def store(self) -> Iterator[StateStore]:
        store = StateStore.open(self.state_url)
        try:
            yield store
        finally:
            store.close()

    def setup(self) -> None:
        """`leadsync setup`: the HubSpot properties and lists the mapping needs."""
        with self.context() as ctx:
            report = run_setup(ctx, create_missing=True)
        assert report.ok, report.to_dict()

    def run(self, *, now: datetime | None = None) -> RunResult:
        """One `leadsync sync` in this process."""
        with self.context() as ctx:
            return run(ctx, RunOptions(now=now or self.now))

    # ---------------------------------------------------------------- the real command
    def sync_argv(self) -> list[str]:
        return [*leadsync_executable(), "sync", "--config", str(self.settings_path), "--json",
                "--now", self.now.isoformat()]

    def spawn(self, name: str = "sync", *, via: ForkServer | None = None) -> Process:
        """Start `leadsync sync --config ... --json --now ...` (the installed executable, or a child of
        the fork server `via`); output goes to files named `name` in the folder."""
        if via is not None:
            return via.spawn(self.sync_argv()[len(leadsync_executable()):], cwd=self.folder,
                             stdout=self.folder / f"{name}.out", stderr=self.folder / f"{name}.err")
        out = (self.folder / f"{name}.out").open("wb")
        err = (self.folder / f"{name}.err").open("wb")
        try:
            return subprocess.Popen(self.sync_argv(), stdout=out, stderr=err, cwd=self.folder,
                                    env=cli_environment(), stdin=subprocess.DEVNULL)
        finally:
            out.close()
            err.close()

    def finish(self, proc: Process, name: str = "sync",
               timeout: float = CLI_TIMEOUT) -> CliResult:
        """Wait for a spawned command (killing it after `timeout`) and read what it printed."""
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill(proc)
            raise
        stdout = (self.folder / f"{name}.out").read_text(encoding="utf-8", errors="replace")
        stderr = (self.folder / f"{name}.err").read_text(encoding="utf-8", errors="replace")
        return CliResult(code, parse_json(stdout), stdout, stderr)

    def sync_cli(self, name: str = "sync", *, via: ForkServer | None = None) -> CliResult:
        return self.finish(self.spawn(name, via=via), name)


def cli_environment() -> dict[str, str]:
    """This environment without LEADSYNC_* overrides (the settings file says everything)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("COLUMNS", "160")
    return env


def parse_json(stdout: str) -> dict[str, Any] | None:
    """The last line of `stdout` that is a JSON object, if any."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def kill(proc: Process) -> int:
    """SIGKILL the process (if still running) and reap it; its return code."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
    return proc.wait(timeout=CLI_TIMEOUT)
