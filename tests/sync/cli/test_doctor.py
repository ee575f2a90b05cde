"""`leadsync doctor` as a user runs it (a subprocess with the real clients) against the sandbox: a
clean org and portal exit 0, one with problems exits 2 listing each with its fix, nothing is written to
either system (the emulators' call logs and stores), and no secret is printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox.launcher import Sandbox
from sandbox.settings_toml import dumps_toml
from tests.sync.cli.test_cli import leadsync

# emulator endpoints that only write (the others: login, query, describe, properties and lists reads)
SF_READS = {"salesforce.login", "salesforce.token", "salesforce.query", "salesforce.query_more",
            "salesforce.describe", "salesforce.limits"}
HS_WRITES = {"hubspot.batch_update", "hubspot.batch_upsert", "hubspot.batch_create", "hubspot.batch_archive",
             "hubspot.contacts", "hubspot.memberships"}


def _settings(box: Sandbox, folder: Path, *, jwt: bool) -> Path:
    auth = "jwt" if jwt else "password"
    data: dict[str, Any] = box.settings_dict(f"sqlite:///{folder}/state.db", auth=auth)
    path = folder / ("jwt.toml" if jwt else "password.toml")
    path.write_text(dumps_toml(data), encoding="utf-8")
    path.chmod(0o600)
    return path


def _user(box: Sandbox, name: str, *, active: bool) -> str:
    return box.salesforce.store.create("User", {"Username": f"{name}@example.com",
                                                "Email": f"{name}@example.com", "LastName": name,
                                                "IsActive": active})


def _lost_deal(box: Sandbox, owner: str, account_owner: str | None) -> str:
    store = box.salesforce.store
    fields = {"Name": f"deal of {owner}", "StageName": "Closed Lost", "CloseDate": "2026-01-15",
              "OwnerId": owner}
    if account_owner:
        fields["AccountId"] = store.create("Account", {"Name": f"account of {account_owner}",
                                                       "OwnerId": account_owner})
    return store.create("Opportunity", fields)


def _portal(box: Sandbox) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """What the doctor could change in HubSpot through the endpoints that also read: properties and lists."""
    store = box.hubspot.store
    return [p.as_json() for p in store.schema.all()], store.lists.search("", 0, 500, [])


def _secrets(box: Sandbox) -> list[str]:
    creds = box.salesforce.credentials
    key_lines = [line for line in box.jwt_key_file.read_text(encoding="ascii").splitlines()
                 if line and not line.startswith("-----")]
    return [creds.password, creds.security_token, creds.consumer_secret, box.hubspot_token, *key_lines]


def _doctor_read_only(box: Sandbox, settings: Path, *args: str) -> tuple[int, str, str]:
    """Run `leadsync doctor` and check it wrote nothing to either system."""
    box.salesforce.calls.reset()
    box.hubspot.calls.reset()
    before = _portal(box), len(box.salesforce.store.all("Task"))
    result = leadsync("doctor", "--config", str(settings), *args)
    sf_calls, hs_calls = box.salesforce.calls.snapshot(), box.hubspot.calls.snapshot()
    assert sf_calls and set(sf_calls) <= SF_READS, sf_calls
    assert hs_calls and not set(hs_calls) & HS_WRITES, hs_calls
    assert (_portal(box), len(box.salesforce.store.all("Task"))) == before
    for secret in _secrets(box):
        assert secret not in result.stdout and secret not in result.stderr
    return result.returncode, result.stdout, result.stderr


def test_a_clean_org_and_portal_pass(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    box = empty_sandbox
    settings = _settings(box, tmp_path, jwt=True)
    assert leadsync("setup", "--config", str(settings)).returncode == 0
    rep = _user(box, "rep", active=True)
    _lost_deal(box, rep, rep)
    code, out, err = _doctor_read_only(box, settings, "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["ok"] is True and report["exit_code"] == 0
    assert {(c["system"], c["name"]) for c in report["checks"]} >= {
        ("settings", "load"), ("mapping", "validate"), ("salesforce", "auth"), ("salesforce", "login"),
        ("salesforce", "fields"), ("salesforce", "loss_reason"), ("salesforce", "task_owners"),
        ("salesforce", "api_budget"), ("hubspot", "token"), ("hubspot", "properties"), ("hubspot", "lists"),
        ("hubspot", "api_budget")}
    assert [c for c in report["checks"] if c["status"] != "ok"] == []
    owners = next(c for c in report["checks"] if c["name"] == "task_owners")
    assert owners["detail"].startswith("1 lost deal(s)")
    lists = next(c for c in report["checks"] if c["name"] == "lists")
    assert "'Recycle - Sales Follow-up' (id " in lists["detail"]
    budgets = [c["detail"] for c in report["checks"] if c["name"] == "api_budget"]
    assert "(used, max)" in budgets[0] and "(remaining, max)" in budgets[1]


def test_problems_are_listed_with_their_fixes_and_exit_2(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    box = empty_sandbox
    settings = _settings(box, tmp_path, jwt=False)  # auth = 'password' (SOAP login)
    assert leadsync("setup", "--config", str(settings)).returncode == 0
    box.hubspot.store.schema.archive("leadsync_score")  # an admin deleted a property
    rep, left = _user(box, "rep", active=True), _user(box, "left", active=False)
    _lost_deal(box, left, rep)  # its task goes to the active account owner
    _lost_deal(box, left, None)  # no account: its task cannot be placed
    _lost_deal(box, rep, rep)

    code, out, err = _doctor_read_only(box, settings)
    assert code == 2, out + err
    lines = out.splitlines()

    def line_after(start: str) -> tuple[str, str]:
        i = next(i for i, line in enumerate(lines) if line.startswith(start))
        return " ".join(lines[i].split()), " ".join(lines[i + 1].split())

    prop, fix = line_after("problem  hubspot     properties")
    assert "'leadsync_score' is missing" in prop and fix.startswith("fix: run `leadsync setup`")
    owners, fix = line_after("warning  salesforce  task_owners")
    assert "3 lost deal(s)" in owners and "2 owned by inactive users" in owners
    assert "1 call task(s) would go to another owner and 1 could not be placed" in owners
    assert fix.startswith("fix: reassign those opportunities") and "salesforce.inactive_owner" in fix
    auth, fix = line_after("warning  salesforce  auth")
    assert "SOAP login()" in auth and "Summer '27" in auth
    assert fix.startswith("fix: set salesforce.auth = 'jwt'")
    assert "problem(s): a problem blocks a sync" in lines[-1]

    code, out, _ = _doctor_read_only(box, settings, "--json")
    report = json.loads(out)
    assert code == 2 and report["ok"] is False and report["exit_code"] == 2
    problems = [c for c in report["checks"] if c["status"] == "problem"]
    assert [(c["system"], c["name"]) for c in problems] == [("hubspot", "properties")]
    assert all(c["fix"] for c in report["checks"] if c["status"] != "ok")
    assert report["counts"]["warning"] == 2


def test_settings_and_mapping_errors_are_problems(empty_sandbox: Sandbox, tmp_path: Path) -> None:
    missing = leadsync("doctor", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "problem  settings" in missing.stdout
    assert "settings file not found" in missing.stdout and "Traceback" not in missing.stderr

    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\n[stages]\nnope = "x"\n', encoding="utf-8")
    data: dict[str, Any] = empty_sandbox.settings_dict(f"sqlite:///{tmp_path}/state.db")
    data["sync"] = {"mapping_file": str(bad)}
    data["salesforce"]["loss_reason_field"] = "Why_Lost__c"
    settings = tmp_path / "settings.toml"
    settings.write_text(dumps_toml(data), encoding="utf-8")
    result = leadsync("doctor", "--config", str(settings), "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    checks = json.loads(result.stdout)["checks"]
    mapping = [c for c in checks if c["system"] == "mapping"]
    assert mapping and all(c["status"] == "problem" and "bad.toml:" in c["detail"] for c in mapping)
    loss = next(c for c in checks if c["name"] == "loss_reason")
    assert loss["status"] == "problem" and "Opportunity.Why_Lost__c: field missing" in loss["detail"]
    assert "salesforce.loss_reason_field" in loss["fix"]
    assert not (tmp_path / "state.db").exists()  # the state store is not opened (nor created)
