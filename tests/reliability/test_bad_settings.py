"""Bad settings files: every command that reads settings exits 2 with one clear message that names the
file and the offending key, never a traceback.

The matrix of bad files runs in-process (Typer's CliRunner: these fail while reading the settings, before
any logging is configured); representative cases run the real console script as a subprocess too
(each costs about a second of interpreter start-up)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.badinput_cli import Outcome, invoke, run_cli

# name -> (settings text, words the message must contain besides the file name)
BAD_FILES: dict[str, tuple[str, list[str]]] = {
    "unknown section": ("[salesforc]\nusername = 'a'\n", ["salesforc", "not permitted"]),
    "unknown key": ("[salesforce]\npasword = 'secret-typo'\n", ["salesforce.pasword", "not permitted"]),
    "unknown top-level key": ("verbose = true\n", ["verbose", "not permitted"]),
    "wrong type: number": ("[hubspot]\nrequests_per_10s = 'many'\n", ["hubspot.requests_per_10s", "integer"]),
    "wrong type: boolean": ("[salesforce]\nverify_tls = 'maybe'\n", ["salesforce.verify_tls", "boolean"]),
    "wrong type: section": ("salesforce = 5\n", ["salesforce", "dictionary"]),
    "out of range": ("[state]\nlock_wait_seconds = -1\n", ["state.lock_wait_seconds", "greater than"]),
    "not a choice": ("[logging]\nlevel = 'LOUD'\n", ["logging.level", "DEBUG"]),
    "broken TOML": ("[state\nurl = 'sqlite:///x.db'\n", ["invalid TOML", "line 1"]),
    "login_url not https": ("[salesforce]\nlogin_url = 'http://127.0.0.1:8443'\n",
                            ["salesforce.login_url", "https URL", "'http://127.0.0.1:8443'"]),
    "login_url without a host": ("[salesforce]\nlogin_url = 'https://'\n",
                                 ["salesforce.login_url", "https URL"]),
    "login_url port not a number": ("[salesforce]\nlogin_url = 'https://127.0.0.1:port'\n",
                                    ["salesforce.login_url", "https URL"]),
    "instance_url not a URL": ("[salesforce]\ninstance_url = 'acme.my.salesforce.com'\n",
                               ["salesforce.instance_url", "https URL"]),
}

COMMANDS = [("sync",), ("runs",), ("setup", "--check")]


def _squeeze(text: str) -> str:
    return "".join(text.split())  # rich wraps long lines (also inside a long path): compare without spaces


def _assert_bad_config(outcome: Outcome, *needles: str) -> None:
    assert outcome.crash is None, outcome.crash
    assert outcome.exit_code == 2, outcome.output
    assert outcome.stderr.startswith("error:"), outcome.stderr
    message = _squeeze(outcome.stderr)
    for needle in needles:
        assert _squeeze(needle) in message, f"{needle!r} not in {outcome.stderr!r}"
    assert outcome.stdout == ""


def _settings(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_settings_file_exits_2_naming_file_and_key(tmp_path: Path, case: str,
                                                       command: tuple[str, ...]) -> None:
    text, words = BAD_FILES[case]
    path = _settings(tmp_path, text)
    _assert_bad_config(invoke(*command, "--config", str(path)), str(path), *words)


@pytest.mark.parametrize("case", ["unknown key", "broken TOML"])
def test_bad_settings_file_through_the_console_script(tmp_path: Path, case: str) -> None:
    text, words = BAD_FILES[case]
    path = _settings(tmp_path, text)
    _assert_bad_config(run_cli("sync", "--config", str(path)), str(path), *words)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_missing_settings_file_exits_2_naming_it(tmp_path: Path, command: tuple[str, ...]) -> None:
    missing = tmp_path / "nowhere" / "settings.toml"
    _assert_bad_config(invoke(*command, "--config", str(missing)), str(missing), "not found")


def test_default_settings_file_missing_names_it_and_the_ways_to_give_one(tmp_path: Path) -> None:
    outcome = run_cli("sync", cwd=tmp_path)
    _assert_bad_config(outcome, "settings.toml", "--config", "LEADSYNC_CONFIG")


def test_missing_mapping_file_named_in_settings_exits_2(tmp_path: Path) -> None:
    path = _settings(tmp_path, f"[sync]\nmapping_file = 'custom.toml'\n[state]\nurl = 'sqlite:///{tmp_path}/s.db'\n")
    _assert_bad_config(run_cli("sync", "--config", str(path)), str(tmp_path / "custom.toml"), "not found")


def test_bad_environment_override_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = _settings(tmp_path, "[hubspot]\nrequests_per_10s = 100\n")
    outcome = run_cli("sync", "--config", str(path), env={"LEADSYNC_HUBSPOT__REQUESTS_PER_10S": "abc"})
    _assert_bad_config(outcome, "hubspot.requests_per_10s", "integer")


@pytest.mark.parametrize(("text", "key"), [
    pytest.param("", "hubspot.access_token", id="no-credentials"),
    pytest.param("[hubspot]\naccess_token = 't'\n[salesforce]\nloss_reason_field = 'Loss Reason'\n",
                 "Loss Reason", id="bad-field-name"),
])
def test_settings_refused_by_a_connector_exit_2_without_traceback(tmp_path: Path, text: str,
                                                                  key: str) -> None:
    path = _settings(tmp_path, f"{text}[state]\nurl = 'sqlite:///{tmp_path}/s.db'\n")
    _assert_bad_config(run_cli("sync", "--config", str(path)), key)


def test_bad_environment_override_names_the_variable(tmp_path: Path) -> None:
    path = _settings(tmp_path, "[hubspot]\nrequests_per_10s = 100\n")
    outcome = invoke("sync", "--config", str(path), env={"LEADSYNC_HUBSPOT__REQUESTS_PER_10S": "abc"})
    _assert_bad_config(outcome, "LEADSYNC_HUBSPOT__REQUESTS_PER_10S")


NOT_UTF8 = "[salesforce]\nusername = 'ok'\n# Café in Latin-1\n".encode("latin-1")


@pytest.mark.parametrize("command", [*COMMANDS, ("doctor",), ("report",), ("failures",),
                                     ("mappings", "explain", "a@example.com")], ids=lambda c: " ".join(c))
def test_a_settings_file_that_is_not_utf8_is_named_with_the_place(tmp_path: Path,
                                                                   command: tuple[str, ...]) -> None:
    path = tmp_path / "settings.toml"
    path.write_bytes(NOT_UTF8)
    path.chmod(0o600)
    outcome = run_cli(*command, "--config", str(path))
    assert outcome.crash is None, outcome.crash
    assert outcome.exit_code == 2, outcome.output
    said = _squeeze(outcome.output)
    for needle in (str(path), "not UTF-8", "byte 0xe9", "offset 34", "line 3"):
        assert _squeeze(needle) in said, outcome.output


def test_login_url_is_checked_by_the_console_script_before_any_connection(tmp_path: Path) -> None:
    text = ("[salesforce]\nlogin_url = 'ftp://127.0.0.1:9'\n[hubspot]\naccess_token = 't'\n"
            f"[state]\nurl = 'sqlite:///{tmp_path}/s.db'\n")
    path = _settings(tmp_path, text)
    _assert_bad_config(run_cli("sync", "--config", str(path)), str(path), "salesforce.login_url", "https URL")
    assert not (tmp_path / "s.db").exists()  # refused while reading the settings
