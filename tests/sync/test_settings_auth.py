"""Salesforce auth modes from a real settings file: each mode's keys, a missing one named.

The per-mode check runs when the connector connects (not when the file is loaded: report, explain and
runs need no credentials), before any request is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses

from connectors.base import CallCounter, ConfigurationError
from connectors.retry import RetryPolicy
from connectors.salesforce.auth import check_settings
from connectors.salesforce.connector import SalesforceConnector
from sync.settings import load_settings

# auth mode -> the keys it needs, each with a value (private_key_file relative to the settings file)
COMPLETE: dict[str, dict[str, str]] = {
    "password": {"username": "int@acme.com", "password": "pw"},
    "jwt": {"username": "int@acme.com", "consumer_key": "ck", "private_key_file": "keys/server.key"},
    "client_credentials": {"domain": "acme.my", "consumer_key": "ck", "consumer_secret": "cs"},
    "session": {"session_id": "S", "instance_url": "https://acme.my.salesforce.com"},
}
CASES = [(mode, key) for mode, keys in COMPLETE.items() for key in keys if key != "domain"]


def _settings_file(tmp_path: Path, mode: str, drop: str | None = None) -> Path:
    (tmp_path / "keys").mkdir(exist_ok=True)
    (tmp_path / "keys" / "server.key").write_text("not a real key\n", encoding="utf-8")
    lines = ["[salesforce]", f'auth = "{mode}"']
    lines += [f'{key} = "{value}"' for key, value in COMPLETE[mode].items() if key != drop]
    path = tmp_path / "settings.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("mode", sorted(COMPLETE))
def test_each_auth_mode_is_complete_with_its_keys(tmp_path: Path, mode: str) -> None:
    settings = load_settings(_settings_file(tmp_path, mode))
    assert settings.salesforce.auth == mode
    assert settings.salesforce.missing_for_auth() == []
    check_settings(settings.salesforce)  # raises ConfigurationError when incomplete


@pytest.mark.parametrize(("mode", "key"), CASES, ids=[f"{m}-{k}" for m, k in CASES])
@responses.activate
def test_a_key_missing_for_the_auth_mode_is_named_at_connect(tmp_path: Path, mode: str, key: str) -> None:
    settings = load_settings(_settings_file(tmp_path, mode, drop=key))  # the file itself loads
    connector = SalesforceConnector(settings.salesforce, counter=CallCounter(), policy=RetryPolicy())
    with pytest.raises(ConfigurationError) as err:
        connector.connect()
    assert str(err.value) == f"salesforce.auth = '{mode}' needs salesforce.{key}"
    assert len(responses.calls) == 0


def test_a_key_from_the_environment_completes_the_mode(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = _settings_file(tmp_path, "password", drop="password")
    assert load_settings(path).salesforce.missing_for_auth() == ["salesforce.password"]
    monkeypatch.setenv("LEADSYNC_SALESFORCE__PASSWORD", "from-env")
    check_settings(load_settings(path).salesforce)


def test_an_empty_secret_counts_as_missing(tmp_path: Path) -> None:
    path = _settings_file(tmp_path, "client_credentials", drop="consumer_secret")
    path.write_text(path.read_text(encoding="utf-8") + 'consumer_secret = ""\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"needs salesforce\.consumer_secret$"):
        check_settings(load_settings(path).salesforce)


def test_jwt_key_file_is_found_relative_to_the_settings_file(tmp_path: Path) -> None:
    settings = load_settings(_settings_file(tmp_path, "jwt"))
    assert settings.salesforce.private_key_file == tmp_path.resolve() / "keys" / "server.key"
    (tmp_path / "keys" / "server.key").unlink()
    with pytest.raises(ConfigurationError, match="private_key_file not found"):
        check_settings(settings.salesforce)
