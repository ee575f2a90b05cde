"""`leadsync sandbox` as a user runs it: a foreground process that prints where it listens and stops
cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import typer
from typer.testing import CliRunner

from sync.cli import sandbox as cli_sandbox

READY = "Sandbox ready."
START_TIMEOUT = 90.0  # generous: a loaded 2-core CI machine
URL_RE = {"salesforce": re.compile(r"Salesforce\s+(https://127\.0\.0\.1:\d+)"),
          "hubspot": re.compile(r"HubSpot\s+(http://127\.0\.0\.1:\d+)")}


class Running:
    """A `leadsync sandbox` child process whose stdout is read line by line in a thread."""

    def __init__(self, args: list[str], cwd: Path):
        env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "sync.cli.main", "sandbox", *args], cwd=cwd,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     encoding="utf-8")
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_ready(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"sandbox exited early: {self.proc.wait()} {self.proc.stderr.read()}")  # type: ignore[union-attr]
            self.seen.append(line)
            if line == READY:
                return "\n".join(self.seen)

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str]:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        rest = []
        while (line := self.lines.get(timeout=10)) is not None:
            rest.append(line)
        return code, "\n".join(rest)


@contextmanager
def sandbox_process(args: list[str], cwd: Path) -> Iterator[Running]:
    cwd.mkdir(exist_ok=True)
    running = Running(args, cwd)
    try:
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait(timeout=30)


def urls(output: str) -> dict[str, str]:
    found = {name: rx.search(output) for name, rx in URL_RE.items()}
    assert all(found.values()), output
    return {name: m.group(1) for name, m in found.items() if m}


@pytest.mark.slow
def test_serves_until_ctrl_c(tmp_path: Path) -> None:
    work, settings, cwd = tmp_path / "work", tmp_path / "out" / "settings.toml", tmp_path / "cwd"
    settings.parent.mkdir()
    args = ["--people", "30", "--seed", "3", "--port-salesforce", "0", "--port-hubspot", "0",
            "--workdir", str(work), "--write-settings", str(settings)]
    with sandbox_process(args, cwd) as running:
        output = running.wait_ready()
        where = urls(output)
        assert str(settings) in output and "--faults" in output and "sandbox-token" in output
        text = settings.read_text()
        assert where["salesforce"] in text and where["hubspot"] in text
        assert stat.S_IMODE(settings.stat().st_mode) == 0o600

        ca = work / "tls" / "sandbox-ca.pem"
        versions = requests.get(f"{where['salesforce']}/services/data/", verify=str(ca), timeout=30)
        assert versions.status_code == 200
        contacts = requests.get(f"{where['hubspot']}/crm/v3/objects/contacts?limit=5", timeout=30,
                                headers={"Authorization": "Bearer sandbox-token"})
        assert contacts.status_code == 200 and len(contacts.json()["results"]) == 5

        code, rest = running.stop(signal.SIGINT)
    assert code == 0
    assert "Sandbox stopped." in rest
    assert list(cwd.iterdir()) == []  # nothing written outside the work folder (and the asked-for file)


def test_sigterm_stops_and_removes_the_temporary_work_folder(tmp_path: Path) -> None:
    with sandbox_process(["--people", "0", "--port-salesforce", "0", "--port-hubspot", "0"],
                         tmp_path / "cwd") as running:
        output = running.wait_ready()
        urls(output)
        match = re.search(r"Work folder (\S+)\s+\(temporary", output)
        assert match, output
        folder = Path(match.group(1))
        assert (folder / "tls" / "sandbox-ca.pem").is_file()
        assert "[salesforce]" in output and "login_url" in output  # settings printed to paste
        code, rest = running.stop(signal.SIGTERM)
    assert code == 0 and "Sandbox stopped." in rest
    assert not folder.exists()
    assert list((tmp_path / "cwd").iterdir()) == []


def cli() -> typer.Typer:
    """A CLI with only the sandbox command (in-process; the full CLI is exercised above)."""
    app = typer.Typer()
    app.callback()(lambda: None)
    cli_sandbox.register(app)
    return app


@pytest.mark.parametrize(("spec", "message"), [
    ("nonsense", "expected ENDPOINT:KIND=PROB"),
    ("hubspot.*:boom=0.5", "unknown fault kind 'boom'"),
    ("salesforce.query:429=1.5", "probability must be between 0 and 1"),
])
def test_bad_faults_exit_2(spec: str, message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli(), ["sandbox", "--faults", spec, "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "w").exists()


def test_port_in_use_exits_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(cli(), ["sandbox", "--people", "0", "--port-salesforce", "0",
                                            "--port-hubspot", port, "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 2
    assert "is the port in use?" in result.stderr


def test_now_starts_the_salesforce_clock_there(tmp_path: Path) -> None:
    args = ["--people", "0", "--port-salesforce", "0", "--port-hubspot", "0", "--workdir",
            str(tmp_path / "work"), "--now", "2026-01-15T09:00:00Z"]
    with sandbox_process(args, tmp_path / "cwd") as running:
        where = urls(running.wait_ready())
        ca = str(tmp_path / "work" / "tls" / "sandbox-ca.pem")
        now = requests.get(f"{where['salesforce']}/_sandbox/clock", verify=ca, timeout=30).json()["now"]
        assert now.startswith("2026-01-15T"), now
        seeded = requests.post(f"{where['salesforce']}/_sandbox/records/Account", json={"Name": "Then"},
                               verify=ca, timeout=30).json()["id"]
        rows = requests.get(f"{where['salesforce']}/_sandbox/records/Account", verify=ca, timeout=30).json()
        (row,) = [r for r in rows["records"] if r["Id"] == seeded]
        assert row["CreatedDate"].startswith("2026-01-15") and row["SystemModstamp"].startswith("2026-01-15")
        code, _ = running.stop(signal.SIGINT)
    assert code == 0


def test_bad_now_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli(), ["sandbox", "--now", "soon", "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 2
    assert '--now: "soon" is not an ISO date' in result.stderr
    assert not (tmp_path / "w").exists()
