"""Running `leadsync` for the bad-input and security tests: in-process (Typer's CliRunner) or as a real
subprocess, and the checks every mapping-validation answer must pass."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from sync.cli.main import app

LEADSYNC = Path(sys.executable).with_name("leadsync")
SUMMARY = re.compile(r"^(\d+) errors?$")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # would break or overwrite a terminal line (tab is fine)


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    crash: str | None = None  # the uncaught exception, formatted, when the command raised one

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def invoke(*args: str, env: dict[str, str] | None = None) -> Outcome:
    """`leadsync ARGS` in this process (fast; an uncaught exception is reported in `.crash`), with
    `env` set in os.environ for the call. Only for commands that stop before configuring logging."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=True, env=env)
    crash = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        crash = "".join(traceback.format_exception(result.exception))
    return Outcome(result.exit_code, result.stdout, result.stderr, crash)


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 120, umask: int = -1) -> Outcome:
    """`leadsync ARGS` as a subprocess (the real entry point, real stdout/stderr); `umask` >= 0 sets
    the child's umask. LEADSYNC_* variables of this process are not passed on."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
    full_env.update({"COLUMNS": "200", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"})
    full_env.update(env or {})
    proc = subprocess.run([str(LEADSYNC), *args], capture_output=True, text=True, env=full_env, cwd=cwd,
                          timeout=timeout, check=False, umask=umask)
    crash = proc.stderr if "Traceback (most recent call last)" in proc.stderr else None
    return Outcome(proc.returncode, proc.stdout, proc.stderr, crash)


def check_validate_answer(outcome: Outcome, path: Path, text: str) -> list[tuple[int, str]]:
    """Assert the contract of `leadsync mappings validate FILE`; return the (line, rest) of each error.

    Exit 0 with a one-line "FILE: valid (...)" summary, or exit 2 with every error on its own line as
    `FILE:LINE key: message` (or `FILE:LINE: message`), LINE within the file, then "N error(s)"."""
    assert outcome.crash is None, f"traceback:\n{outcome.crash}"
    assert "Traceback" not in outcome.output, outcome.output
    if outcome.exit_code == 0:
        assert outcome.stdout.startswith(f"{path}: valid ("), outcome.stdout
        assert outcome.stderr == ""
        return []
    assert outcome.exit_code == 2, f"exit {outcome.exit_code}: {outcome.output}"
    lines = outcome.stderr.rstrip("\n").split("\n")  # a terminal's lines: only \n ends one
    assert len(lines) >= 2, f"expected error lines and a count: {outcome.stderr!r}"
    summary = SUMMARY.match(lines[-1])
    assert summary, f"last line is not the error count: {lines[-1]!r}"
    assert int(summary.group(1)) == len(lines) - 1, outcome.stderr
    last_line = text.count("\n") + 1  # TOML counts lines by \n only
    prefix = re.compile(rf"^{re.escape(str(path))}:(\d+)(?:: | (\S.*?): )(\S.*)$")
    found = []
    for line in lines[:-1]:
        assert not CONTROL.search(line), f"control character in an error line: {line!r}"
        m = prefix.match(line)
        assert m, f"error line not in FILE:LINE [key]: message form: {line!r}\nall:\n{outcome.stderr}"
        number = int(m.group(1))
        assert 1 <= number <= last_line, f"line {number} outside the file ({last_line} lines): {line!r}"
        found.append((number, line[m.end(1):]))
    return found
