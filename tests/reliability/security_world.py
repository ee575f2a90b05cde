"""Settings files for the security tests, the command sequence of the secret scan, and a SOQL recorder.

`secret_scan_commands` runs leadsync the way an operator would, as subprocesses with DEBUG logging,
through its normal and its error paths (a faulty network, an expired session, record failures, a wrong
password, a wrong token), and returns every command's captured output for scanning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.faults import FaultInjector
from sandbox.launcher import Sandbox
from sandbox.salesforce.soql import BoolOp, Comparison, InValues, Literal, Not, Query, parse
from sandbox.settings_toml import dumps_toml
from tests.reliability.badinput_cli import Outcome, run_cli
from tests.reliability.security_secrets import Secrets

FAST_RETRIES = {"max_attempts": 3, "max_backoff_seconds": 0.2}


def write_settings(path: Path, box: Sandbox, state_db: Path, *, mode: int = 0o600, auth: str = "jwt",
                   drop: tuple[str, ...] = (), **sections: dict[str, Any]) -> Path:
    """settings.toml for `box` with a SQLite state file and the sandbox's `auth` credentials ("jwt" or
    "password"), `sections` merged in (the dotted keys in `drop` left out), written with permissions
    `mode`."""
    data = box.settings_dict(f"sqlite:///{state_db}", auth=auth)
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    for dotted in drop:
        section, key = dotted.split(".")
        data[section].pop(key, None)
    path.write_text(dumps_toml(data), encoding="utf-8")
    path.chmod(mode)
    return path


@dataclass
class ScanRun:
    """The outputs of every command of the scan, labelled, and facts that prove the error paths ran."""

    outputs: list[tuple[str, Outcome]] = field(default_factory=list)
    faults_injected: dict[str, int] = field(default_factory=dict)

    def add(self, label: str, outcome: Outcome) -> Outcome:
        self.outputs.append((label, outcome))
        return outcome


def secret_scan_commands(box: Sandbox, folder: Path, secrets: Secrets, now: datetime) -> ScanRun:
    db = folder / "state.db"
    debug = {"level": "DEBUG"}
    main = write_settings(folder / "main.toml", box, db, sync=FAST_RETRIES, logging=debug)
    wrong_pw = write_settings(folder / "wrong-password.toml", box, db, sync=FAST_RETRIES, logging=debug,
                              auth="password", salesforce={"password": secrets.wrong_password})
    wrong_token = write_settings(folder / "wrong-token.toml", box, db, sync=FAST_RETRIES, logging=debug,
                                 hubspot={"access_token": secrets.wrong_hubspot_token})
    soap = write_settings(folder / "soap.toml", box, db, sync=FAST_RETRIES, logging=debug, auth="password")
    oauth = write_settings(folder / "oauth.toml", box, db, sync=FAST_RETRIES, logging=debug,
                           auth="password", drop=("salesforce.security_token",), salesforce={
                               "consumer_key": box.salesforce.credentials.consumer_key,
                               "consumer_secret": secrets.consumer_secret})
    session = write_settings(folder / "session.toml", box, db, sync=FAST_RETRIES, logging=debug, drop=(
        "salesforce.consumer_key", "salesforce.private_key_file"), salesforce={"auth": "session",
                                                                     "instance_url": box.salesforce_url})
    later = (now + timedelta(days=45)).isoformat()
    scan = ScanRun()
    c = str
    assert scan.add("setup --verbose --json", run_cli("setup", "--config", c(main), "--verbose",
                                                      "--json")).exit_code == 0
    assert scan.add("sync --verbose --json", run_cli("sync", "--config", c(main), "--verbose", "--json",
                                                     "--now", now.isoformat())).exit_code == 0
    # error paths: a faulty network, an expired session (re-login), records Salesforce refuses
    box.salesforce.faults = FaultInjector.parse(
        "salesforce.query:expire=1x1;salesforce.*:500=0.1,drop=0.05;"
        "salesforce.collections:record=1@UNABLE_TO_LOCK_ROW", seed=3)
    box.hubspot.faults = FaultInjector.parse("hubspot.*:429=0.2@0,500=0.1,drop=0.05", seed=4)
    scan.add("sync with faults --verbose --log-json",
             run_cli("sync", "--config", c(main), "--verbose", "--log-json", "--now", later))
    scan.faults_injected = {f"{e}:{k}": n for emu in (box.salesforce, box.hubspot)
                            for (e, k), n in emu.faults.injected.items()}
    box.salesforce.faults, box.hubspot.faults = FaultInjector(), FaultInjector()
    scan.add("sync wrong password --verbose", run_cli("sync", "--config", c(wrong_pw), "--verbose"))
    scan.add("sync wrong token --verbose --log-json",
             run_cli("sync", "--config", c(wrong_token), "--verbose", "--log-json"))
    scan.add("sync soap password --verbose --json", run_cli("sync", "--config", c(soap), "--verbose",
                                                             "--json"))
    scan.add("sync oauth password flow --verbose", run_cli("sync", "--config", c(oauth), "--verbose"))
    scan.add("sync session from the environment --verbose --log-json",
             run_cli("sync", "--config", c(session), "--verbose", "--log-json",
                     env={"LEADSYNC_SALESFORCE__SESSION_ID": box.salesforce.mint_session()}))
    scan.add("runs", run_cli("runs", "--config", c(main), "--limit", "50"))
    listed = scan.add("runs --json", run_cli("runs", "--config", c(main), "--json", "--limit", "50"))
    for run_id, as_json in zip(_run_ids(listed), (False, True), strict=False):
        flags = ["--json"] if as_json else []
        scan.add(f"runs show {run_id} {' '.join(flags)}", run_cli("runs", "show", run_id, "--config", c(main),
                                                                  *flags))
    scan.add("failures", run_cli("failures", "--config", c(main), "--all"))
    scan.add("failures --json", run_cli("failures", "--config", c(main), "--all", "--json"))
    scan.add("report --json", run_cli("report", "--config", c(main), "--json"))
    return scan


def _run_ids(outcome: Outcome) -> list[str]:
    """The runs worth showing in full: those that failed or left failures."""
    runs = json.loads(outcome.stdout)
    return [str(r["id"]) for r in runs if r["error"] or r["status"] != "ok"]


# ------------------------------------------------------------------------------------------ SOQL


class RecordingEngine:
    """Wraps the Salesforce emulator's query engine and keeps the text of every SOQL query it compiles
    (REST query and Bulk API query jobs both compile through it)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.queries: list[str] = []

    def compile(self, text: str, today: Any) -> Any:
        self.queries.append(text)
        return self.inner.compile(text, today)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def comparisons(query: Query) -> list[tuple[str, str, tuple[Any, ...]]]:
    """(object.field, operator, literal values) of every condition in `query` and its subqueries."""
    out: list[tuple[str, str, tuple[Any, ...]]] = []

    def walk(node: Any) -> None:
        if isinstance(node, BoolOp):
            for item in node.items:
                walk(item)
        elif isinstance(node, Not):
            walk(node.item)
        elif isinstance(node, Comparison):
            out.append((f"{query.sobject}.{node.field.text}", node.op, (node.value.value,)))
        elif isinstance(node, InValues):
            if isinstance(node.values, Query):
                out.extend(comparisons(node.values))
            else:
                values = tuple(v.value for v in node.values if isinstance(v, Literal))
                out.append((f"{query.sobject}.{node.field.text}", "not in" if node.negate else "in", values))

    walk(query.where)
    for item in query.select:
        if isinstance(item, Query):
            out.extend(comparisons(item))
    return out


def parsed(queries: list[str]) -> list[Query]:
    return [parse(q) for q in queries]
