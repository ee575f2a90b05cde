"""Security: secrets never leave, data cannot change a query, TLS is verified, files are private.

- Secret scan: recognisable secrets (Salesforce password, security token, consumer secret, JWT private
  key, every session id the emulator mints, a custom HubSpot token) go through setup, syncs (plain,
  JWT by default, with network faults, an expired session and refused records, a wrong password, a
  wrong token, SOAP password login, OAuth, a session id from the environment), runs, failures and
  report, all as subprocesses with DEBUG logging, `--log-json` and `--json`; every output and the raw
  state database bytes are scanned.
- SOQL: quotes, backslashes and SOQL fragments in loss reasons, names and campaign names from a custom
  mapping; the emulator records every query it compiles.
- TLS on by default for both systems; `verify_tls = false` works and warns. The sandbox binds 127.0.0.1.
- A settings file readable by group/others is warned about; the state store is created 0600.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from connectors.base import ConfigurationError
from mappings import MappingError
from sandbox.launcher import Sandbox
from sandbox.server import LOOPBACK, ServerThread, TlsFiles, make_tls
from sync.run.context import open_context
from sync.run.runner import RunOptions, RunResult, run
from sync.run.setup import run_setup
from sync.settings import load_settings
from sync.state.store import StateStore
from tests.reliability.badinput_cli import invoke, run_cli
from tests.reliability.badinput_mapping_mutations import DEFAULT_TEXT
from tests.reliability.badinput_world import Seeder
from tests.reliability.security_secrets import Secrets, find_leaks, state_files
from tests.reliability.security_world import (
    RecordingEngine,
    comparisons,
    parsed,
    secret_scan_commands,
    write_settings,
)

# ------------------------------------------------------------------------------------ secrets


@pytest.fixture
def secret_box(tmp_path: Path) -> Iterator[tuple[Sandbox, Secrets]]:
    """A sandbox of its own (40 demo people) whose credentials are this test's secrets."""
    box = Sandbox.start(people=40, seed=11, workdir=tmp_path / "sandbox")
    secrets = Secrets()
    secrets.install(box)
    try:
        yield box, secrets
    finally:
        box.stop()


@pytest.mark.slow
def test_no_secret_in_any_output_or_in_the_state_store(secret_box: tuple[Sandbox, Secrets],
                                                       tmp_path: Path) -> None:
    box, secrets = secret_box
    assert box.now is not None
    scan = secret_scan_commands(box, tmp_path, secrets, box.now)
    by_label = dict(scan.outputs)

    # the error paths really ran (else the scan proves little)
    assert by_label["sync with faults --verbose --log-json"].exit_code == 1
    assert scan.faults_injected.get("salesforce.query:expire") == 1
    assert any(k.endswith(":record") for k in scan.faults_injected)
    assert "INVALID_LOGIN" in by_label["sync wrong password --verbose"].output
    assert by_label["sync wrong password --verbose"].exit_code == 2
    assert by_label["sync wrong token --verbose --log-json"].exit_code != 0
    for label in ("sync soap password --verbose --json", "sync oauth password flow --verbose",
                  "sync session from the environment --verbose --log-json"):
        assert by_label[label].exit_code == 0, (label, by_label[label].output[-2000:])
    assert '"level": "DEBUG"' in by_label["sync session from the environment --verbose --log-json"].stderr
    assert len(secrets.sessions) >= 5

    named = secrets.named()
    leaks: list[str] = []
    for label, outcome in scan.outputs:
        assert outcome.crash is None, f"{label}: {outcome.crash}"
        leaks += find_leaks(f"{label} (stdout)", outcome.stdout, named)
        leaks += find_leaks(f"{label} (stderr)", outcome.stderr, named)
        assert "readable by group/others" not in outcome.stderr  # 0600 files: no false alarm
    db_files = list(state_files(tmp_path / "state.db"))
    assert db_files
    for path in db_files:
        leaks += find_leaks(f"state store file {path.name}", path.read_bytes(), named)
    assert not leaks, "\n".join(leaks)


def test_settings_and_connectors_do_not_show_secrets(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    secrets = Secrets()
    path = write_settings(tmp_path / "settings.toml", empty_sandbox, tmp_path / "state.db", auth="password",
                          salesforce={"password": secrets.password, "security_token": secrets.security_token,
                                      "consumer_secret": secrets.consumer_secret},
                          hubspot={"access_token": secrets.hubspot_token})
    settings = load_settings(path)
    ctx = open_context(settings)
    try:
        shown = [repr(settings), str(settings), settings.model_dump_json(), repr(ctx.salesforce),
                 repr(ctx.hubspot), repr(ctx)]
        result = run(ctx, RunOptions(dry_run=True))  # wrong password for this sandbox: login fails
    finally:
        ctx.close()
    assert result.status == "failed" and result.error
    named = secrets.named()
    leaks = [leak for text in [*shown, result.error] for leak in find_leaks("repr/error", text, named)]
    assert not leaks, "\n".join(leaks)


# ------------------------------------------------------------------------------------ SOQL

INJECTION = "x' OR Name != '"
BACKSLASHED = "x\\' OR Name != \\'"  # x\' OR Name != \'  (an attacker's pre-escaped try)
CAMPAIGNS = {"hot": "Events' OR Name != '", "warm": 'Call\\List "VIP" %_', "cold": "News' AND Id != null --",
             "recycle_low": "Recycle \\' OR '1'='1", "recycle_high": "Sales' OR Name LIKE '%"}


def _soql_mapping() -> str:
    text = DEFAULT_TEXT.replace('exclude_loss_reasons = ["Duplicate", "Spam", "Invalid Contact"]',
                                'exclude_loss_reasons = ["Duplicate", ' + _toml(INJECTION) + "]")
    for old in ("Nurture - Events", "Nurture - Call/DM", "Nurture - Newsletter", "Recycle - Email Nurture",
                "Recycle - Sales Follow-up"):
        key = {"Nurture - Events": "hot", "Nurture - Call/DM": "warm", "Nurture - Newsletter": "cold",
               "Recycle - Email Nurture": "recycle_low", "Recycle - Sales Follow-up": "recycle_high"}[old]
        text = text.replace(f'"{old}"', _toml(CAMPAIGNS[key]))
    assert text.count(_toml(CAMPAIGNS["hot"])) == 2
    return text


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_quotes_and_soql_fragments_cannot_change_a_query(empty_sandbox: Sandbox, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    box = empty_sandbox
    recorder = RecordingEngine(box.salesforce.engine)
    monkeypatch.setattr(box.salesforce, "engine", recorder)
    now = datetime.now(UTC).replace(microsecond=0)
    s = Seeder(box, now)
    people = {}
    for key, reason, last in (("injected", INJECTION, "O'Brien"), ("backslashed", BACKSLASHED, "Back\\slash"),
                              ("plain", "Price", 'Quote "Q" OR 1=1')):
        cid = s.contact(f"{key}@example.com", first="D'Arcy", last=last)
        s.lost_deal([cid], reason=reason, name=f"Deal' OR Name != '{key}")
        people[key] = cid
    s.hubspot({"email": "o'hara@example.com", "hs_email_click": "5",
               "hs_email_last_click_date": now.isoformat()})
    (tmp_path / "mapping.toml").write_text(_soql_mapping(), encoding="utf-8")
    path = write_settings(tmp_path / "settings.toml", box, tmp_path / "state.db",
                          sync={"mapping_file": str(tmp_path / "mapping.toml")})
    ctx = open_context(load_settings(path))
    try:
        assert run_setup(ctx, create_missing=True).ok
        results = [run(ctx, RunOptions(now=now)), run(ctx, RunOptions(now=now + timedelta(hours=1)))]
    finally:
        ctx.close()
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]

    sf = box.salesforce.store
    groups = {k: sf.get("Contact", cid)["Recycle_Group__c"] for k, cid in people.items()}
    assert groups == {"injected": "excluded", "backslashed": "high", "plain": "high"}
    names = sorted(c["Name"] for c in sf.all("Campaign"))
    assert len(names) == len(set(names))  # found again by name on the second run: no duplicates
    assert set(names) <= set(CAMPAIGNS.values())
    tasks = {t["Subject"] for t in sf.all("Task")}
    assert tasks == {"Recycle: call back about Deal' OR Name != 'backslashed",
                     "Recycle: call back about Deal' OR Name != 'plain"}
    hs_lists = {n for n in CAMPAIGNS.values() if box.hubspot.store.list_members(n)}
    assert "Events' OR Name != '" in hs_lists  # o'hara: 5 clicks, hot

    queries = parsed(recorder.queries)
    assert queries
    # campaigns are read once per run without a name filter when the org's fit in one page
    # (connectors.salesforce.campaigns.CampaignIndex); lookups by name, in larger orgs, are tested with
    # such names in tests/connectors/salesforce/test_run_lookups.py
    campaign_lookups = [c for q in queries for c in comparisons(q) if c[0] == "Campaign.Name"]
    for field, op, values in campaign_lookups:
        assert op == "in" and set(values) <= set(CAMPAIGNS.values()), (field, op, values)
    # no other comparison on a Name field anywhere: the fragments stayed inside string literals
    on_names = [c for q in queries for c in comparisons(q) if c[0].endswith(".Name")]
    assert on_names == campaign_lookups


def _run_with(box: Sandbox, tmp_path: Path, *, dry_run: bool = False, drop: tuple[str, ...] = (),
              **sections: dict[str, Any]) -> RunResult | ConfigurationError | MappingError:
    """One run with these settings; the error if the settings or mapping are refused before it."""
    path = write_settings(tmp_path / "settings.toml", box, tmp_path / "state.db", drop=drop, **sections)
    try:
        ctx = open_context(load_settings(path))
    except (ConfigurationError, MappingError) as exc:
        return exc
    try:
        return run(ctx, RunOptions(dry_run=dry_run))
    finally:
        ctx.close()


def _ran(outcome: RunResult | ConfigurationError | MappingError) -> RunResult:
    assert isinstance(outcome, RunResult), outcome
    return outcome


def _refused(outcome: RunResult | ConfigurationError | MappingError) -> str:
    """The message of a run refused as bad configuration (before or during the run)."""
    if isinstance(outcome, ConfigurationError | MappingError):
        return str(outcome)
    assert outcome.status == "failed" and outcome.exit_code == 2, outcome
    return outcome.error or ""


FIELD_FRAGMENT = "Loss_Reason__c, (SELECT Id FROM Contacts)"


def test_field_name_with_soql_fragment_in_settings_fails_before_any_query(
        empty_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = RecordingEngine(empty_sandbox.salesforce.engine)
    monkeypatch.setattr(empty_sandbox.salesforce, "engine", recorder)
    message = _refused(_run_with(empty_sandbox, tmp_path, salesforce={"loss_reason_field": FIELD_FRAGMENT}))
    assert "not a Salesforce field name" in message and FIELD_FRAGMENT in message
    assert not [q for q in recorder.queries if "FROM Contacts" in q]


MAPPED_FRAGMENT = "Lead_Rank__c, Name FROM Contact WHERE Name != 'x' OR Id"


def _mapping_with_fragment() -> str:
    return DEFAULT_TEXT.replace("Lead_Rank__c = ", _toml(MAPPED_FRAGMENT) + " = ")


def test_field_name_with_soql_fragment_in_mapping_never_reaches_a_query(
        empty_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = empty_sandbox
    recorder = RecordingEngine(box.salesforce.engine)
    monkeypatch.setattr(box.salesforce, "engine", recorder)
    s = Seeder(box, datetime.now(UTC).replace(microsecond=0))
    s.lost_deal([s.contact("someone@example.com")])
    (tmp_path / "mapping.toml").write_text(_mapping_with_fragment(), encoding="utf-8")
    message = _refused(_run_with(box, tmp_path, sync={"mapping_file": str(tmp_path / "mapping.toml")}))
    assert MAPPED_FRAGMENT in message
    assert not [q for q in recorder.queries if "WHERE Name != 'x'" in q]
    assert not any(c.get("Lead_Stage__c") for c in box.salesforce.store.all("Contact"))  # nothing written


def test_mappings_validate_rejects_a_field_name_holding_soql(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(_mapping_with_fragment(), encoding="utf-8")
    outcome = invoke("mappings", "validate", str(path))
    assert outcome.exit_code == 2 and str(path) in outcome.stderr


# ------------------------------------------------------------------------------------ TLS

INSECURE = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def test_salesforce_tls_is_verified_by_default(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    """No CA bundle configured for the sandbox's own CA: the (JWT) login fails, with a TLS error."""
    result = _ran(_run_with(empty_sandbox, tmp_path, drop=("salesforce.ca_bundle",)))
    assert result.status == "failed"
    assert "salesforce.token" in (result.error or "") and "TLS" in (result.error or ""), result.error
    assert "deals_read" not in result.counts


@INSECURE
def test_salesforce_verify_tls_false_works_and_warns(empty_sandbox: Sandbox, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        result = _ran(_run_with(empty_sandbox, tmp_path, dry_run=True, drop=("salesforce.ca_bundle",),
                                salesforce={"verify_tls": False}))
    assert result.status == "dry_run", result.error
    warned = [r.name for r in caplog.records
              if r.levelname == "WARNING" and "verify_tls = false" in r.getMessage()]
    assert warned == ["connectors.salesforce.transport"]


@pytest.fixture
def hubspot_tls(empty_sandbox: Sandbox, tmp_path: Path) -> Iterator[tuple[ServerThread, TlsFiles]]:
    """The sandbox's HubSpot emulator served over TLS too (as the real API is), with its own CA."""
    tls = make_tls(tmp_path / "hubspot-tls")
    server = ServerThread(empty_sandbox.hubspot.app, tls=tls, name="hubspot-tls").start()
    try:
        yield server, tls
    finally:
        server.stop()


def test_hubspot_over_tls_with_its_ca_works(empty_sandbox: Sandbox, tmp_path: Path,
                                            hubspot_tls: tuple[ServerThread, TlsFiles]) -> None:
    server, tls = hubspot_tls
    result = _ran(_run_with(empty_sandbox, tmp_path, dry_run=True,
                            hubspot={"host": server.url, "ca_bundle": str(tls.ca_file)}))
    assert result.status == "dry_run", result.error


def test_hubspot_tls_is_verified_by_default(empty_sandbox: Sandbox, tmp_path: Path,
                                            hubspot_tls: tuple[ServerThread, TlsFiles]) -> None:
    server, _ = hubspot_tls
    result = _ran(_run_with(empty_sandbox, tmp_path, dry_run=True, hubspot={"host": server.url}))
    assert result.status == "failed"
    assert "hubspot" in (result.error or "") and "TLS" in (result.error or ""), result.error


@INSECURE
def test_hubspot_verify_tls_false_works(empty_sandbox: Sandbox, tmp_path: Path,
                                        hubspot_tls: tuple[ServerThread, TlsFiles]) -> None:
    server, _ = hubspot_tls
    result = _ran(_run_with(empty_sandbox, tmp_path, dry_run=True,
                            hubspot={"host": server.url, "verify_tls": False}))
    assert result.status == "dry_run", result.error


@INSECURE
def test_hubspot_verify_tls_false_logs_a_warning(empty_sandbox: Sandbox, tmp_path: Path,
                                                 hubspot_tls: tuple[ServerThread, TlsFiles],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    server, _ = hubspot_tls
    with caplog.at_level("WARNING"):
        _run_with(empty_sandbox, tmp_path, dry_run=True, hubspot={"host": server.url, "verify_tls": False})
    assert [r for r in caplog.records if r.levelname == "WARNING" and "hubspot" in r.getMessage().lower()
            and "verify_tls" in r.getMessage()]


def test_sandbox_listens_on_loopback_only(empty_sandbox: Sandbox) -> None:
    ports = {empty_sandbox.salesforce_server.port, empty_sandbox.hubspot_server.port}
    listening = [c for c in psutil.Process().net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port in ports]
    assert {c.laddr.port for c in listening} == ports
    assert {c.laddr.ip for c in listening} == {LOOPBACK}
    others = [a.address for addrs in psutil.net_if_addrs().values() for a in addrs
              if a.family == socket.AF_INET and not a.address.startswith("127.")]
    for address in others:  # reachable on the loopback interface only
        for port in ports:
            with pytest.raises(OSError):
                socket.create_connection((address, port), timeout=2).close()


# ------------------------------------------------------------------------------------ files


def test_group_readable_settings_file_is_warned_about(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_settings(tmp_path / "settings.toml", empty_sandbox, tmp_path / "state.db", mode=0o644)
    outcome = run_cli("setup", "--config", str(path))
    assert outcome.crash is None and outcome.exit_code == 0, outcome.output
    assert "readable by group/others" in outcome.stderr and f"chmod 600 {path}" in outcome.stderr
    # (0600 files give no warning: checked on every command of the secret scan)


def test_state_store_is_owner_only_even_with_an_open_umask(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    s = Seeder(empty_sandbox, datetime.now(UTC).replace(microsecond=0))
    s.lost_deal([s.contact("private@example.com")])
    s.hubspot({"email": "private@example.com"})
    setup = write_settings(tmp_path / "setup.toml", empty_sandbox, tmp_path / "setup.db")
    ctx = open_context(load_settings(setup))
    try:
        assert run_setup(ctx, create_missing=True).ok  # HubSpot properties and lists
    finally:
        ctx.close()
    db = tmp_path / "data" / "state.db"
    path = write_settings(tmp_path / "settings.toml", empty_sandbox, db)
    outcome = run_cli("sync", "--config", str(path), "--json", umask=0)
    assert outcome.exit_code == 0, outcome.output
    assert stat.S_IMODE(db.stat().st_mode) == 0o600, oct(db.stat().st_mode)
    assert stat.S_IMODE(db.parent.stat().st_mode) & 0o077 == 0  # the folder leadsync created, too
    # the WAL side files exist while a connection is open (the subprocess removed them on exit)
    old = os.umask(0)
    try:
        with StateStore.open(f"sqlite:///{db}") as store:
            store.set_watermark("security.test", datetime.now(UTC))
            files = list(state_files(db))
            modes = {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files}
    finally:
        os.umask(old)
    assert len(files) >= 2, files
    assert set(modes.values()) == {oct(0o600)}, modes
