"""The CLI as a user runs it: a subprocess of the installed `leadsync` entry point."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.launcher import Sandbox

LEADSYNC = [sys.executable, "-m", "sync.cli.main"]
COMMANDS = [
    [], ["sync"], ["backfill"], ["schedule"], ["setup"], ["runs"], ["runs", "show"], ["failures"],
    ["failures", "retry"], ["report"], ["doctor"], ["demo"], ["sandbox"], ["mappings"],
    ["mappings", "validate"],
    ["mappings", "explain"],
]


def leadsync(*args: str, cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([*LEADSYNC, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=env, check=False)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "leadsync")
def test_every_command_has_help(command: list[str]) -> None:
    result = leadsync(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


@pytest.mark.parametrize("command", [["sync"], ["runs"], ["failures"], ["report"], ["setup"]])
def test_a_missing_settings_file_exits_2(command: list[str], tmp_path: Path) -> None:
    result = leadsync(*command, "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "settings file not found" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_runs_the_method_end_to_end_and_rewrites_nothing(tmp_path: Path) -> None:
    result = leadsync("demo", "--people", "60", "--workdir", str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for section in ("1. sandbox", "2. setup", "3. first sync", "3b. backfill", "4. report",
                    "5. three people, explained", "6. second sync"):
        assert section in out
    entries = re.search(r"reconstructed (\d+) stage entries", out)
    assert entries is not None and int(entries.group(1)) > 0  # lifecycle dates before the first sync
    calls = re.search(r"write calls: first run (\d+), second run (\d+)", out)
    assert calls is not None and int(calls.group(1)) > 0 and calls.group(2) == "0"
    assert "Recycle: call back about" in out  # a high-group person's call task, explained
    assert (tmp_path / "settings.toml").stat().st_mode & 0o077 == 0


@pytest.mark.slow
def test_sync_json_dry_run_then_runs_and_failures_json(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    empty_sandbox.hubspot.store.create_contact({"email": "json@example.com", "hs_email_open": "2"})
    settings = empty_sandbox.write_settings(tmp_path / "settings.toml",
                                            state_url=f"sqlite:///{tmp_path}/state.db")
    setup = leadsync("setup", "--config", str(settings))
    assert setup.returncode == 0
    printed = " ".join(setup.stdout.split())  # the sandbox's settings log in with JWT: no retirement notice
    assert "Salesforce login:" not in printed and "Summer '27" not in printed and "retiring" not in printed
    dry = leadsync("sync", "--config", str(settings), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["status"] == "dry_run" and plan["run_id"] is None
    assert plan["plan"]["counts"]["hubspot"]["list_adds"] == 1
    assert empty_sandbox.hubspot.store.list_members("Nurture - Newsletter") == set()  # untouched

    real = json.loads(leadsync("sync", "--config", str(settings), "--json").stdout)
    assert real["status"] == "ok" and real["exit_code"] == 0
    runs = json.loads(leadsync("runs", "--config", str(settings), "--json").stdout)
    assert [r["id"] for r in runs] == [real["run_id"]]
    assert runs[0]["api_calls"]["hubspot"]["batch_update"] == 1
    shown = json.loads(leadsync("runs", "show", str(real["run_id"]), "--config", str(settings),
                                "--json").stdout)
    assert shown["counts"]["people"] == 1
    assert json.loads(leadsync("failures", "--config", str(settings), "--json").stdout) == []
    missing = leadsync("runs", "show", "999", "--config", str(settings))
    assert missing.returncode == 2 and "no run with id 999" in missing.stderr  # bad input
    assert "Traceback" not in missing.stderr
