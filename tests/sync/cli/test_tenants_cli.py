"""`--tenant NAME` on every command that takes `--config`, and `leadsync tenants` (in-process CLI over
real SQLite stores; the PostgreSQL schemas are in tests/sync/state/test_tenant_isolation.py)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from sync.cli.main import app
from sync.state.store import StateStore
from sync.tenants import DIR_VARIABLE

DEFAULT_MAPPING = Path(__file__).resolve().parents[3] / "mappings" / "default.toml"


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
def main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(DIR_VARIABLE, raising=False)
    monkeypatch.delenv("LEADSYNC_CONFIG", raising=False)
    for name in ("LEADSYNC_STATE__URL", "LEADSYNC_STATE__SCHEMA"):
        monkeypatch.delenv(name, raising=False)
    write(tmp_path / "tenants" / "acme.toml")
    write(tmp_path / "tenants" / "beta.toml")
    return write(tmp_path / "settings.toml")


def invoke(*args: str, given: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"}, input=given)


def commands_with_config() -> list[tuple[str, Any]]:
    """Every (sub)command of the CLI with a `config` parameter (Typer's own click classes)."""
    out: list[tuple[str, Any]] = []

    def walk(prefix: str, cmd: Any) -> None:
        if any(p.name == "config" for p in cmd.params):
            out.append((prefix, cmd))
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(f"{prefix} {name}".strip(), sub)

    walk("", typer.main.get_command(app))
    return out


def test_every_command_that_takes_config_takes_tenant() -> None:
    found = commands_with_config()
    names = {name for name, _ in found}
    # the walk is real: these all take --config
    assert {"sync", "backfill", "schedule", "setup", "doctor", "runs", "runs show", "failures",
            "failures retry", "report", "history", "console", "console set-password", "mappings validate",
            "mappings explain", "mappings preview", "tenants"} <= names
    missing = [name for name, cmd in found
               if name != "tenants" and not any("--tenant" in getattr(p, "opts", []) for p in cmd.params)]
    assert missing == []


@pytest.mark.parametrize("command", [
    ["sync"], ["backfill"], ["backfill", "--since", "2024-01-01"], ["schedule", "--every", "1h"], ["setup"],
    ["doctor"], ["runs"], ["runs", "show", "1"], ["failures"], ["failures", "retry"], ["report"],
    ["history", "a@example.com"], ["mappings", "explain", "a@example.com"],
    ["mappings", "validate", "--live"], ["mappings", "preview", str(DEFAULT_MAPPING)],
    ["console", "set-password"], ["console"],
], ids=lambda c: " ".join(c[:2]))
def test_an_unknown_tenant_exits_2_naming_the_known_ones(main: Path, command: list[str]) -> None:
    password = "long enough password\n" * 2  # set-password asks before it opens the store
    result = invoke(*command, "--config", str(main), "--tenant", "gamma", given=password)
    assert result.exit_code == 2, result.output
    assert "unknown tenant 'gamma'" in result.output
    assert "known tenants: acme, beta" in result.output


def test_commands_read_the_tenants_own_store(main: Path) -> None:
    folder = main.parent / "tenants"
    for name, runs in (("acme", 1), ("beta", 2)):
        with StateStore.open(f"sqlite:///{folder / (name + '.db')}") as store:
            for _ in range(runs):
                store.finish_run(store.start_run(mapping_version=None), status="ok", counts={"people": 7})
    seen = {}
    for name in ("acme", "beta"):
        result = invoke("runs", "--config", str(main), "--tenant", name, "--json")
        assert result.exit_code == 0, result.output
        seen[name] = len(json.loads(result.stdout))
    assert seen == {"acme": 1, "beta": 2}
    # without --tenant: the settings file's own store (./leadsync.db next to it), which has no runs
    with StateStore.open(f"sqlite:///{main.parent / 'leadsync.db'}"):
        pass
    result = invoke("runs", "--config", str(main), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def test_tenants_lists_name_store_and_last_run_creating_nothing(main: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    folder = main.parent / "tenants"
    with StateStore.open(f"sqlite:///{folder / 'acme.db'}") as store:
        store.finish_run(store.start_run(mapping_version=None), status="ok")
        store.finish_run(store.start_run(mapping_version=None, kind="retry"), status="failed", error="boom")
    write(folder / "broken.toml", "[hubspot\n")
    write(folder / "pg.toml", '[state]\nurl = "postgresql+psycopg://leadsync:hunter2@127.0.0.1:1/x"\n')
    monkeypatch.setenv("LEADSYNC_TENANT_PG__STATE__URL", "sqlite:///pg-own.db")  # the variable wins
    result = invoke("tenants", "--config", str(main), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {r["name"]: r for r in data["tenants"]}
    assert list(rows) == ["acme", "beta", "broken", "pg"]
    assert rows["acme"]["last_run"]["id"] == 2 and rows["acme"]["last_run"]["status"] == "failed"
    assert rows["beta"]["last_run"] is None and rows["beta"]["problem"] is None
    assert "invalid TOML" in rows["broken"]["problem"]
    assert rows["pg"]["state"].endswith("/tenants/pg-own.db")
    assert not (folder / "beta.db").exists() and not (folder / "pg-own.db").exists()  # nothing created
    text = invoke("tenants", "--config", str(main))
    assert text.exit_code == 0
    assert "acme" in text.stdout and "#2" in text.stdout and "no runs yet" in text.stdout


def test_tenants_hides_the_password_of_a_state_url(main: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSYNC_TENANT_ACME__STATE__URL", "mysql+nosuchdriver://leadsync:hunter2@db/x")
    result = invoke("tenants", "--config", str(main), "--json")
    assert result.exit_code == 0, result.output
    acme = next(r for r in json.loads(result.stdout)["tenants"] if r["name"] == "acme")
    assert "hunter2" not in result.output
    assert acme["state"].startswith("mysql+nosuchdriver://leadsync:***@db/x")
    assert acme["problem"]


def test_no_tenants_folder_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DIR_VARIABLE, raising=False)
    result = invoke("tenants", "--config", str(write(tmp_path / "settings.toml")))
    assert result.exit_code == 0
    assert "no tenants in" in result.stderr


def test_console_set_password_writes_to_the_tenants_store_only(main: Path) -> None:
    folder = main.parent / "tenants"
    StateStore.open(f"sqlite:///{folder / 'beta.db'}").close()  # the console needs a store (a first sync)
    result = invoke("console", "set-password", "--user", "ops", "--config", str(main), "--tenant", "beta",
                    given="a long enough password\n" * 2)
    assert result.exit_code == 0, result.output
    with StateStore.open(f"sqlite:///{folder / 'beta.db'}") as beta:
        assert [u.name for u in beta.console_users()] == ["ops"]
    assert not (folder / "acme.db").exists() and not (main.parent / "leadsync.db").exists()


def test_schedule_for_a_tenant_runs_on_its_cron_and_its_log_lines_name_it(main: Path) -> None:
    """`leadsync schedule --tenant acme` without --every / --cron: the cron of acme's file; every line
    it logs says acme (the real command, stopped with SIGTERM after its first run)."""
    write(main.parent / "tenants" / "acme.toml", '[schedule]\ncron = "0 0 1 1 *"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
    command = [str(Path(sys.executable).parent / "leadsync"), "schedule", "--config", str(main),
               "--tenant", "acme"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
                            cwd=main.parent)
    lines: list[str] = []
    waited = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if "next run at" in line:
                waited.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert waited.wait(120), "\n".join(lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        reader.join(10)
    assert code == 0, "\n".join(lines)
    logged = [line for line in lines if " sync.run.schedule: " in line]
    assert any("[acme] sync.run.schedule: scheduler started: cron '0 0 1 1 *' (UTC)" in line
               for line in logged), lines
    assert any(re.search(r"next run at \d{4}-01-01T00:00:00\+00:00$", line) for line in logged), lines
    assert logged and all(" [acme] sync.run.schedule: " in line for line in logged)
