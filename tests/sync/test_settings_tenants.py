"""Tenants' settings: one file per tenant in a tenants folder, each tenant's own environment variables
(never another tenant's, never the plain LEADSYNC_* ones), its own state by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync import tenants
from sync.settings import SettingsFileError, load_settings
from sync.tenants import TenantConfig


def tenant_file(folder: Path, name: str, text: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tenants.DIR_VARIABLE, raising=False)
    monkeypatch.delenv("LEADSYNC_CONFIG", raising=False)


@pytest.fixture
def main(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text('[hubspot]\nrequests_per_10s = 150\n', encoding="utf-8")
    path.chmod(0o600)
    return path


def test_a_tenant_is_its_own_file_next_to_the_settings_file(main: Path) -> None:
    tenant_file(main.parent / "tenants", "acme", '[hubspot]\nrequests_per_10s = 190\n')
    tenant_file(main.parent / "tenants", "beta")
    assert [t.name for t in tenants.list_tenants(tenants.tenants_dir(main))] == ["acme", "beta"]
    acme = load_settings(TenantConfig(main, "acme"))
    beta = load_settings(TenantConfig(main, "beta"))
    assert acme.hubspot.requests_per_10s == 190
    assert beta.hubspot.requests_per_10s == 100  # the default: nothing read from the main file
    assert acme.config_path == (main.parent / "tenants" / "acme.toml").resolve()
    # each its own SQLite file by default, and its own PostgreSQL schema
    assert acme.state.url == f"sqlite:///{(main.parent / 'tenants' / 'acme.db').resolve().as_posix()}"
    assert beta.state.url.endswith("/tenants/beta.db")
    assert (acme.state.pg_schema, beta.state.pg_schema) == ("leadsync_acme", "leadsync_beta")
    # without a tenant nothing changes
    plain = load_settings(main)
    assert plain.hubspot.requests_per_10s == 150
    assert plain.state.pg_schema is None


def test_a_tenant_reads_only_its_own_environment_variables(main: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    tenant_file(main.parent / "tenants", "acme-eu", '[hubspot]\naccess_token = "from-file"\n')
    tenant_file(main.parent / "tenants", "beta", '[hubspot]\naccess_token = "beta-file"\n')
    monkeypatch.setenv("LEADSYNC_TENANT_ACME_EU__HUBSPOT__ACCESS_TOKEN", "acme-env")
    monkeypatch.setenv("LEADSYNC_TENANT_ACME_EU__STATE__URL", "postgresql+psycopg://u:pw@db/leadsync")
    monkeypatch.setenv("LEADSYNC_HUBSPOT__ACCESS_TOKEN", "plain-env")
    monkeypatch.setenv("LEADSYNC_HUBSPOT__REQUESTS_PER_10S", "7")
    monkeypatch.setenv("LEADSYNC_STATE__URL", "sqlite:////plain.db")
    acme = load_settings(TenantConfig(main, "acme-eu"))
    beta = load_settings(TenantConfig(main, "beta"))
    assert acme.hubspot.access_token is not None and beta.hubspot.access_token is not None
    assert acme.hubspot.access_token.get_secret_value() == "acme-env"
    assert acme.state.url == "postgresql+psycopg://u:pw@db/leadsync"
    assert acme.state.pg_schema == "leadsync_acme_eu"
    assert beta.hubspot.access_token.get_secret_value() == "beta-file"  # not acme's, not the plain one
    assert beta.hubspot.requests_per_10s == 100
    assert beta.state.url.endswith("/tenants/beta.db")
    # the plain variables still set the single-tenant settings
    plain = load_settings(main)
    assert plain.hubspot.access_token is not None
    assert plain.hubspot.access_token.get_secret_value() == "plain-env"


def test_a_bad_value_from_a_tenant_variable_names_that_variable(main: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    tenant_file(main.parent / "tenants", "acme")
    monkeypatch.setenv("LEADSYNC_TENANT_ACME__HUBSPOT__REQUESTS_PER_10S", "0")
    with pytest.raises(SettingsFileError) as err:
        load_settings(TenantConfig(main, "acme"))
    assert "LEADSYNC_TENANT_ACME__HUBSPOT__REQUESTS_PER_10S" in str(err.value)
    assert "acme.toml" in str(err.value)


def test_an_unknown_tenant_names_the_known_ones(main: Path) -> None:
    tenant_file(main.parent / "tenants", "acme")
    tenant_file(main.parent / "tenants", "beta")
    (main.parent / "tenants" / "Not A Tenant.toml").write_text("")  # not a tenant name: ignored
    with pytest.raises(SettingsFileError, match=r"unknown tenant 'gamma'.*known tenants: acme, beta"):
        load_settings(TenantConfig(main, "gamma"))
    with pytest.raises(SettingsFileError, match=r"tenant name '\.\./x'"):
        load_settings(TenantConfig(main, "../x"))


def test_the_tenants_folder_from_the_settings_file_or_the_environment(
        main: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    main.write_text('[tenants]\ndir = "orgs"\n', encoding="utf-8")
    tenant_file(tmp_path / "orgs", "acme", '[hubspot]\nrequests_per_10s = 11\n')
    assert load_settings(TenantConfig(main, "acme")).hubspot.requests_per_10s == 11
    assert load_settings(main).tenants.dir == tmp_path / "orgs"
    elsewhere = tmp_path / "elsewhere"
    tenant_file(elsewhere, "acme", '[hubspot]\nrequests_per_10s = 12\n')
    monkeypatch.setenv(tenants.DIR_VARIABLE, str(elsewhere))
    assert load_settings(TenantConfig(main, "acme")).hubspot.requests_per_10s == 12
    # no main settings file is needed when the folder is named by the environment
    assert load_settings(TenantConfig(tmp_path / "missing.toml", "acme")).hubspot.requests_per_10s == 12


def test_names_that_would_share_variables_are_refused(main: Path) -> None:
    tenant_file(main.parent / "tenants", "a-b")
    tenant_file(main.parent / "tenants", "a_b")
    with pytest.raises(SettingsFileError, match="would share environment variables"):
        load_settings(TenantConfig(main, "a-b"))


def secret(folder: Path, name: str, value: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(value + "\n", encoding="utf-8")


def test_secrets_from_files_each_tenant_its_own_folder(main: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`$LEADSYNC_SECRETS_DIR`: a file per value named like its variable without the prefix; a tenant
    reads its own subfolder only; environment variables win over files, files over the TOML file."""
    folder = tmp_path / "secrets"
    secret(folder, "hubspot__access_token", "single-file")
    secret(folder / "acme", "hubspot__access_token", "acme-file")
    secret(folder / "acme", "salesforce__password", "acme-password")
    secret(folder / "beta", "hubspot__access_token", "beta-file")
    tenant_file(main.parent / "tenants", "acme", '[hubspot]\naccess_token = "acme-toml"\n')
    tenant_file(main.parent / "tenants", "beta", '[hubspot]\naccess_token = "beta-toml"\n')
    tenant_file(main.parent / "tenants", "gamma", '[hubspot]\naccess_token = "gamma-toml"\n')
    monkeypatch.setenv("LEADSYNC_SECRETS_DIR", str(folder))
    monkeypatch.setenv("LEADSYNC_TENANT_BETA__HUBSPOT__ACCESS_TOKEN", "beta-env")

    def token(source: object) -> str:
        return load_settings(source).hubspot.access_token.get_secret_value()  # type: ignore[arg-type]

    acme = load_settings(TenantConfig(main, "acme"))
    assert acme.hubspot.access_token.get_secret_value() == "acme-file"  # the trailing newline dropped
    assert acme.salesforce.password.get_secret_value() == "acme-password"
    assert token(TenantConfig(main, "beta")) == "beta-env"  # its variable over its file
    assert token(TenantConfig(main, "gamma")) == "gamma-toml"  # no folder of its own: its file
    assert token(main) == "single-file"  # without a tenant: the folder itself
    monkeypatch.delenv("LEADSYNC_SECRETS_DIR")
    assert token(TenantConfig(main, "acme")) == "acme-toml"


def test_a_secrets_folder_that_is_missing_or_holds_a_bad_value_is_named(
        main: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant_file(main.parent / "tenants", "acme")
    monkeypatch.setenv("LEADSYNC_SECRETS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(SettingsFileError, match=r"LEADSYNC_SECRETS_DIR=.*nowhere: no such folder"):
        load_settings(TenantConfig(main, "acme"))
    secret(tmp_path / "secrets" / "acme", "hubspot__requests_per_10s", "lots")
    monkeypatch.setenv("LEADSYNC_SECRETS_DIR", str(tmp_path / "secrets"))
    with pytest.raises(SettingsFileError) as caught:
        load_settings(TenantConfig(main, "acme"))
    where = tmp_path / "secrets" / "acme" / "hubspot__requests_per_10s"
    assert f"hubspot.requests_per_10s (from secret file {where})" in str(caught.value)
