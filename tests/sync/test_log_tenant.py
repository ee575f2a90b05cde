"""A tenant's log lines carry its name: `--tenant` for a whole command, `tenant_context` per run when one
process runs several tenants (sync.orchestrators.tenant_run does), in plain and JSON lines."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync import logs
from sync.orchestrators.tenant_run import run_tenant
from sync.tenants import Tenant


@pytest.fixture(autouse=True)
def leadsync_handler_removed() -> Iterator[None]:
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_leadsync", False):
            root.removeHandler(handler)


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line]


def test_plain_lines_name_the_commands_tenant(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(None, tenant="acme")
    logging.getLogger("sync.example").warning("first")
    with logs.tenant_context("beta"):  # a run for another tenant names that one
        logging.getLogger("sync.example").warning("second")
    first, second = lines(capsys)
    assert first.endswith(" WARNING [acme] sync.example: first")
    assert second.endswith(" WARNING [beta] sync.example: second")


def test_without_a_tenant_lines_are_as_before(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(None)
    logging.getLogger("sync.example").warning("plain")
    logs.configure(None, json_format=True)
    logging.getLogger("sync.example").warning("json")
    plain, as_json = lines(capsys)
    assert plain.endswith(" WARNING sync.example: plain")
    assert "tenant" not in json.loads(as_json)


def test_each_threads_run_names_its_own_tenant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two tenants run at once in one process (as an orchestrator's threads do): the warning each
    tenant's settings load logs (its file is readable by others) names that tenant only."""
    logs.configure(None, json_format=True)
    tenants = []
    for name in ("acme", "beta"):
        path = tmp_path / f"{name}.toml"
        path.write_text("", encoding="utf-8")
        path.chmod(0o644)
        tenants.append(Tenant(name, path))
    outcomes = {}
    threads = [threading.Thread(target=lambda t=t: outcomes.setdefault(t.name, run_tenant(t)))
               for t in tenants]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {o.exit_code for o in outcomes.values()} == {2}  # no credentials: each stops before a run
    records = [json.loads(line) for line in lines(capsys)]
    about = {name: [r for r in records if f"{name}.toml" in r["message"]] for name in ("acme", "beta")}
    assert about["acme"] and about["beta"]
    for name, found in about.items():
        assert {r.get("tenant") for r in found} == {name}
