"""Settings: TOML file + environment overrides, precise errors, secrets kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.settings import SettingsFileError, insecure_permission_warning, load_settings

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_example_file_is_valid_and_documents_every_section() -> None:
    settings = load_settings(REPO / "settings.example.toml")
    assert settings.salesforce.auth == "jwt"  # the documented default; the model's stays "password"
    assert settings.salesforce.login_notice() is None
    assert settings.hubspot.requests_per_10s == 100
    text = (REPO / "settings.example.toml").read_text(encoding="utf-8")
    for section, model in (("salesforce", settings.salesforce), ("hubspot", settings.hubspot),
                           ("state", settings.state), ("sync", settings.sync), ("logging", settings.logging)):
        assert f"[{section}]" in text
        for name, info in type(model).model_fields.items():
            key = info.alias or name
            assert f"{key} =" in text or f"# {key} =" in text, f"{section}.{key} undocumented"


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[hubspot]\nrequests_per_10s = 100\naccess_token = "from-file"\n')
    monkeypatch.setenv("LEADSYNC_HUBSPOT__REQUESTS_PER_10S", "190")
    monkeypatch.setenv("LEADSYNC_HUBSPOT__ACCESS_TOKEN", "pat-from-env")
    settings = load_settings(path)
    assert settings.hubspot.requests_per_10s == 190
    assert settings.hubspot.access_token is not None
    assert settings.hubspot.access_token.get_secret_value() == "pat-from-env"


def test_file_overrides_defaults_and_config_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[salesforce]\ndaily_reserve = 42\n")
    monkeypatch.setenv("LEADSYNC_CONFIG", str(path))
    settings = load_settings()
    assert settings.salesforce.daily_reserve == 42
    assert settings.salesforce.api_version == "59.0"  # default kept


def test_secrets_are_not_shown(tmp_path: Path) -> None:
    path = write(tmp_path, '[salesforce]\npassword = "hunter2-secret"\n'
                           '[hubspot]\naccess_token = "pat-na1-xyz"\n')
    settings = load_settings(path)
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "hunter2-secret" not in shown and "pat-na1-xyz" not in shown
    assert settings.salesforce.password is not None
    assert settings.salesforce.password.get_secret_value() == "hunter2-secret"


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsFileError, match="settings file not found: .*nope.toml"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[hubspot]\nacess_token = 'x'\n", "hubspot.acess_token: Extra inputs are not permitted"),
        ("[hubspot]\nrequests_per_10s = 'many'\n",
         "hubspot.requests_per_10s: Input should be a valid integer"),
        ("[salesforce]\nauth = 'magic'\n", "salesforce.auth: Input should be"),
        ("[salesforce]\ninactive_owner = 'the boss'\n", "salesforce.inactive_owner: Value error, must be"),
        ("[nonsense]\nx = 1\n", "nonsense: Extra inputs are not permitted"),
        ("[state\nurl = 1\n", "invalid TOML"),
    ],
)
def test_bad_settings_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsFileError) as err:
        load_settings(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    path = write(sub, '[salesforce]\nca_bundle = "ca.pem"\n[state]\nurl = "sqlite:///state/ls.db"\n'
                      '[sync]\nmapping_file = "m.toml"\n')
    settings = load_settings(path)
    assert settings.salesforce.ca_bundle == sub.resolve() / "ca.pem"
    assert settings.sync.mapping_file == sub.resolve() / "m.toml"
    assert settings.state.url == f"sqlite:///{(sub.resolve() / 'state/ls.db').as_posix()}"


def test_group_readable_file_warns(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    assert insecure_permission_warning(path) is None
    path.chmod(0o644)
    warning = insecure_permission_warning(path)
    assert warning is not None and "chmod 600" in warning


def test_loading_a_group_readable_file_logs_the_warning(tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, '[hubspot]\naccess_token = "pat-x"\n')
    path.chmod(0o640)
    with caplog.at_level("WARNING"):
        load_settings(path)
    assert any("readable by group/others" in r.getMessage() for r in caplog.records)


DEPRECATION = "sync.max_failure_attempts is deprecated and ignored: nothing limits retries"


def test_deprecated_max_failure_attempts_still_loads_and_warns_naming_file_and_key(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "[sync]\nmax_attempts = 3\nmax_failure_attempts = 7\n")
    with caplog.at_level("WARNING", logger="sync.settings"):
        settings = load_settings(path)
    assert settings.sync.max_attempts == 3
    warnings = [r.getMessage() for r in caplog.records if DEPRECATION in r.getMessage()]
    assert len(warnings) == 1 and f"set in {path}" in warnings[0], caplog.text


def test_deprecated_key_from_the_environment_names_the_variable(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[sync]\nmax_attempts = 3\n")
    monkeypatch.setenv("LEADSYNC_SYNC__MAX_FAILURE_ATTEMPTS", "7")
    with caplog.at_level("WARNING", logger="sync.settings"):
        load_settings(path)
    warnings = [r.getMessage() for r in caplog.records if DEPRECATION in r.getMessage()]
    assert len(warnings) == 1 and "LEADSYNC_SYNC__MAX_FAILURE_ATTEMPTS" in warnings[0], caplog.text


def test_no_deprecation_warning_when_the_key_is_absent(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "[sync]\nmax_attempts = 3\n")
    with caplog.at_level("WARNING", logger="sync.settings"):
        load_settings(path)
        load_settings(REPO / "settings.example.toml")
    assert "max_failure_attempts" not in caplog.text
