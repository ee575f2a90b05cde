"""CRM text on a terminal: values planted in both emulators with ESC sequences (clear screen, an OSC 0
window title, an OSC 8 hyperlink), NUL, BEL and CR/LF reach the admin through the real `leadsync`
command (`sync` logs, `report`, `mappings explain EMAIL`, `runs`, `runs show`, `failures`) with every
control character made visible (`\\x1b`), never raw; `--json` output keeps the exact values.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from mappings.emails import mask_email
from mappings.printable import visible
from sync.state.records import NewFailure
from tests.reliability.badinput_world import Seeder
from tests.reliability.harness import CLI_TIMEOUT, NOW, Harness, cli_environment, leadsync_executable

CLEAR = "\x1b[2J"
TITLE = "\x1b]0;pwn\x07"
LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
FIRST = f"Eve{CLEAR}"
LAST = f"{TITLE}Mallory"
DEAL = f"{LINK} deal"
REASON = "Price\r\n2025-06-02 INFO forged\x00"
EMAIL = "eve.mallory@example.com"
BAD_EMAIL = f"{CLEAR}eve@example.com"  # quarantined: not a usable email; its mask is logged
RAW = ("\x1b", "\x00", "\x07", "\r", "\x9b")


def _cli(h: Harness, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_environment()
    env["COLUMNS"] = "400"  # long escaped values on one line, so they can be searched for
    return subprocess.run([*leadsync_executable(), *args, "--config", str(h.settings_path)],
                          capture_output=True, text=True, env=env, timeout=CLI_TIMEOUT, check=False,
                          cwd=h.folder)


def _strings(value: object) -> list[str]:
    """Every string inside parsed JSON."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _exact(done: subprocess.CompletedProcess[str], *values: str) -> None:
    assert done.returncode == 0, done.stderr
    strings = _strings(json.loads(done.stdout))
    for value in values:
        assert any(value in s for s in strings), value


def _no_raw(done: subprocess.CompletedProcess[str]) -> str:
    text = done.stdout + done.stderr
    assert "Traceback" not in text
    raw = [repr(c) for c in RAW if c in text]
    assert not raw, (raw, text[:3000])
    return text


@pytest.fixture
def planted(harness: Harness) -> Harness:
    harness.box.reset(people=0, now=NOW)
    seed = Seeder(harness.box, NOW)
    contact = seed.contact(EMAIL, first=FIRST, last=LAST)
    seed.lost_deal([contact], reason=REASON, name=DEAL)
    seed.hubspot({"email": EMAIL, "firstname": FIRST, "lastname": LAST})
    seed.hubspot({"email": BAD_EMAIL, "firstname": "Bad"})
    harness.configure()
    harness.setup()
    return harness


def test_sync_logs_show_crm_text_with_visible_control_characters(planted: Harness) -> None:
    done = _cli(planted, "sync", "--now", NOW.isoformat(), "--verbose")
    assert done.returncode == 0, done.stderr[-3000:]
    text = _no_raw(done)
    assert visible(mask_email(BAD_EMAIL)) == "\\x1b[***@example.com"  # the mask itself is escaped
    assert "(\\x1b[***@example.com)" in text  # identity: quarantined ... (mask) in the DEBUG log


def test_report_shows_loss_reasons_escaped_and_json_exact(planted: Harness) -> None:
    assert _cli(planted, "sync", "--now", NOW.isoformat()).returncode == 0
    done = _cli(planted, "report", "--now", NOW.isoformat())
    assert done.returncode == 0, done.stderr
    text = _no_raw(done)
    assert "Price\\r\\n2025-06-02 INFO forged\\x00" in text

    _exact(_cli(planted, "report", "--now", NOW.isoformat(), "--json"), REASON)


def test_explain_shows_names_deal_and_reason_escaped_and_json_exact(planted: Harness) -> None:
    assert _cli(planted, "sync", "--now", NOW.isoformat()).returncode == 0
    done = _cli(planted, "mappings", "explain", EMAIL, "--now", NOW.isoformat())
    assert done.returncode == 0, done.stderr
    text = _no_raw(done)
    for shown in (visible(FIRST), visible(LAST), visible(DEAL), visible(REASON)):
        assert shown in text, (shown, text[:4000])
    assert "\\x1b]0;pwn\\x07" in text and "\\x1b]8;;https://evil.example/" in text

    _exact(_cli(planted, "mappings", "explain", EMAIL, "--now", NOW.isoformat(), "--json"),
           FIRST, LAST, DEAL, REASON)


def test_runs_and_failures_show_stored_crm_text_escaped(planted: Harness) -> None:
    assert _cli(planted, "sync", "--now", NOW.isoformat()).returncode == 0
    # an API error text and a record key carrying CRM text, as a refused write would store them
    with planted.store() as store:
        run_id = store.start_run(mapping_version=1)
        store.add_failures(run_id, [NewFailure("hubspot", f"rec{CLEAR}", "write",
                                               f"INVALID_OPTION: {TITLE}{LINK}")])
        store.finish_run(run_id, status="failed", error=f"HubSpot said {REASON}")
    listing = _cli(planted, "runs")
    assert listing.returncode == 0, listing.stderr
    assert "HubSpot said Price\\r\\n" in _no_raw(listing)
    show = _cli(planted, "runs", "show", str(run_id))
    assert show.returncode == 0, show.stderr
    assert f"error: HubSpot said {visible(REASON)}" in _no_raw(show)
    failures = _cli(planted, "failures")
    assert failures.returncode == 0, failures.stderr
    text = _no_raw(failures)
    assert "rec\\x1b[2J" in text and "INVALID_OPTION: \\x1b]0;pwn\\x07" in text
    _exact(_cli(planted, "failures", "--json"), f"INVALID_OPTION: {TITLE}{LINK}", f"rec{CLEAR}")

