"""Settings: `settings.toml` plus environment overrides (`LEADSYNC_HUBSPOT__ACCESS_TOKEN=...`).

Each connector owns its section's model (`connectors.salesforce.settings`, `connectors.hubspot.settings`);
this module composes them with the run's own sections (state, sync, logging) into `Settings`.

Precedence, highest first: values passed in code, environment variables, secret files (a folder named by
`$LEADSYNC_SECRETS_DIR`, see `secrets_folder`), the TOML file, defaults.
The file path comes from `--config`, else `LEADSYNC_CONFIG`, else `./settings.toml`. A missing or
unreadable file is an error (pydantic-settings would silently yield `{}`).
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from pathlib import Path
from typing import Any, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from connectors.hubspot.settings import HubSpotSettings
from connectors.salesforce.settings import SalesforceSettings
from sync import tenants
from sync.tenants import TenantConfig

DEFAULT_CONFIG = Path("settings.toml")
SECRETS_DIR_VARIABLE = "LEADSYNC_SECRETS_DIR"
log = logging.getLogger(__name__)

# (section, key) -> why the key is ignored; still accepted so older files keep loading.
DEPRECATED: dict[tuple[str, str], str] = {
    ("sync", "max_failure_attempts"): (
        "nothing limits retries of failed records: every run checks quarantined records again and "
        "re-plans failed writes until they go through (`leadsync failures` shows the attempts); "
        "remove the key"
    ),
}


class SettingsFileError(Exception):
    """The settings file is missing, unreadable or invalid. The message names the file."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StateSettings(_Section):
    url: str = "sqlite:///leadsync.db"  # any SQLAlchemy URL
    # PostgreSQL only: the schema holding the state (created if missing); None: the server's search_path.
    # A tenant's default is leadsync_<name> (sync.tenants).
    pg_schema: str | None = Field(default=None, alias="schema", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    lock_wait_seconds: float = Field(default=0.0, ge=0)  # 0: a second run exits at once


class SyncSettings(_Section):
    mapping_file: Path | None = None  # None: the bundled mappings/default.toml
    max_attempts: int = Field(default=5, ge=1)
    max_backoff_seconds: float = Field(default=60.0, gt=0)
    max_failure_attempts: int = Field(default=5, ge=1)  # deprecated, read by nothing: see DEPRECATED
    # the drift check: records per system whose current values each run re-reads (sync.run.verify)
    verify_sample: int = Field(default=200, ge=0)
    # people resolved, assigned and planned together: the run's working set (memory) does not grow
    # with the number of people beyond this (sync.run.people); write batches are unaffected
    people_per_chunk: int = Field(default=2_000, ge=1, le=100_000)


class TenantsSettings(_Section):
    dir: Path | None = None  # the tenants folder (default: tenants/ next to this file; sync.tenants)


class ScheduleSettings(_Section):
    # when this sync runs (UTC cron): the Dagster definitions' schedule (sync.orchestrators) and
    # `leadsync schedule` without --every / --cron; None: on demand only.
    cron: str | None = None

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (e.g. \"*/15 * * * *\", UTC)")
        return value


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = Field(default=False, alias="json")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEADSYNC_",
        env_nested_delimiter="__",
        extra="forbid",
        toml_file=None,
    )

    salesforce: SalesforceSettings = SalesforceSettings()
    hubspot: HubSpotSettings = HubSpotSettings()
    state: StateSettings = StateSettings()
    sync: SyncSettings = SyncSettings()
    logging: LoggingSettings = LoggingSettings()
    tenants: TenantsSettings = TenantsSettings()
    schedule: ScheduleSettings = ScheduleSettings()

    # Set by load_settings(); relative paths in the file are resolved against its folder.
    config_path: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = settings_cls.model_config.get("toml_file")
        secrets_dir = settings_cls.model_config.get("secrets_dir")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if secrets_dir:  # files named like the variables without their prefix: salesforce__password
            sources.append(NestedSecretsSettingsSource(
                file_secret_settings, secrets_dir=secrets_dir, secrets_prefix="",
                secrets_nested_delimiter="__", secrets_dir_missing="error"))
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


def resolve_config_path(path: Path | str | None) -> Path:
    if path is not None:
        return Path(path)
    env = os.environ.get("LEADSYNC_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


ConfigSource = Path | str | TenantConfig | None  # --config, or --config plus --tenant


def load_settings(path: ConfigSource = None, **overrides: Any) -> Settings:
    """Read settings from the TOML file (which must exist) plus the environment. A `TenantConfig`
    loads that tenant's file with its own variables (`LEADSYNC_TENANT_<NAME>__...`) instead; an
    unknown tenant is a `SettingsFileError` listing the known ones."""
    if isinstance(path, TenantConfig):
        return _load_tenant(path, overrides)
    return _load(resolve_config_path(path), "LEADSYNC_", overrides)


def _load_tenant(source: TenantConfig, overrides: dict[str, Any]) -> Settings:
    try:
        found = tenants.find_tenant(source.config, source.tenant)
    except tenants.TenantError as exc:
        raise SettingsFileError(str(exc)) from None
    return load_tenant(found, **overrides)


def load_tenant(tenant: tenants.Tenant, **overrides: Any) -> Settings:
    """One tenant's settings from its file, in whatever tenants folder it was found (the one an
    orchestrator was given too), and its own variables (`LEADSYNC_TENANT_<NAME>__...`)."""
    return _load(tenant.path, tenants.env_prefix(tenant.name), overrides, tenant=tenant.name)


def _tenant_defaults(settings: Settings, name: str) -> Settings:
    """A tenant's state, unless its file or variables say otherwise: its own SQLite file (never the
    ./leadsync.db another tenant would share), its own PostgreSQL schema."""
    state = settings.state
    if "url" not in state.model_fields_set:
        state = state.model_copy(update={"url": f"sqlite:///{name}.db"})
    if "pg_schema" not in state.model_fields_set:
        state = state.model_copy(update={"pg_schema": tenants.schema_name(name)})
    return settings.model_copy(update={"state": state})


def secrets_folder(tenant: str | None) -> Path | None:
    """The folder of secret files: `$LEADSYNC_SECRETS_DIR` (one file per value, named like its variable
    without the prefix: `salesforce__password`, `hubspot__access_token`, `state__url`), or for a tenant
    its subfolder `$LEADSYNC_SECRETS_DIR/<name>/`. None when the variable is unset or a tenant has no
    subfolder (its values then come from its file and variables only); a variable naming no folder is a
    settings error."""
    value = os.environ.get(SECRETS_DIR_VARIABLE)
    if not value:
        return None
    top = Path(value).expanduser()
    if not top.is_dir():
        raise SettingsFileError(f"{SECRETS_DIR_VARIABLE}={value}: no such folder (it holds the secret files, "
                                "one per value: salesforce__password, hubspot__access_token, ...)")
    if tenant is None:
        return top
    own = top / tenant
    return own if own.is_dir() else None


def _load(config: Path, env_prefix: str, overrides: dict[str, Any], *, tenant: str | None = None) -> Settings:
    if not config.is_file():
        raise SettingsFileError(
            f"settings file not found: {config} (copy settings.example.toml to settings.toml, "
            "or pass --config / set LEADSYNC_CONFIG)"
        )
    try:
        with config.open("rb") as fh:
            tomllib.load(fh)
    except OSError as exc:
        raise SettingsFileError(f"cannot read settings file {config}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsFileError(f"{config}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise SettingsFileError(not_utf8(config, exc)) from None

    secrets = secrets_folder(tenant)
    bound = type(
        "BoundSettings", (Settings,),
        {"model_config": {**Settings.model_config, "toml_file": config, "env_prefix": env_prefix,
                          "secrets_dir": secrets}},
    )
    try:
        settings = bound(**overrides)
    except ValidationError as exc:
        raise SettingsFileError(_describe(config, exc, env_prefix, secrets)) from None
    except SettingsError as exc:  # the secrets folder could not be read (too big, not a folder)
        raise SettingsFileError(f"{SECRETS_DIR_VARIABLE} ({secrets}): {exc}") from None
    settings = Settings.model_construct(**{**dict(settings), "config_path": config.resolve()})
    warning = insecure_permission_warning(config)
    if warning:
        log.warning(warning)
    for warning in deprecation_warnings(settings, config, env_prefix):
        log.warning(warning)
    if tenant is not None:
        settings = _tenant_defaults(settings, tenant)
    return _resolve_paths(settings, config.resolve().parent)


def not_utf8(config: Path, exc: UnicodeDecodeError) -> str:
    """Where a settings file stops being UTF-8: the byte, its offset, line and column."""
    data = exc.object if isinstance(exc.object, bytes) else b""
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    byte = data[exc.start:exc.start + 1].hex() or "?"
    return (f"{config}: not UTF-8 text (byte 0x{byte} at offset {exc.start}, line {line}, column {column}); "
            "TOML files must be UTF-8: save it as UTF-8")


def deprecation_warnings(settings: Settings, config: Path, env_prefix: str = "LEADSYNC_") -> list[str]:
    """One warning per deprecated key that is set (in the file or the environment)."""
    out = []
    for (section, key), why in DEPRECATED.items():
        if key in getattr(settings, section).model_fields_set:
            variable = env_variable((section, key), env_prefix)
            where = f"set by environment variable {variable}" if variable else f"set in {config}"
            out.append(f"{section}.{key} is deprecated and ignored: {why} ({where})")
    return out


def _describe(config: Path, exc: ValidationError, env_prefix: str = "LEADSYNC_",
              secrets: Path | None = None) -> str:
    lines = [f"{config}: invalid settings ({exc.error_count()} problem(s)):"]
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"])
        variable = env_variable(err["loc"], env_prefix)
        secret_file = None if variable or secrets is None else _secret_file(err["loc"], secrets)
        where = (f" (from environment variable {variable})" if variable
                 else f" (from secret file {secret_file})" if secret_file else "")
        lines.append(f"  {loc}{where}: {err['msg']}")
    return "\n".join(lines)


def env_variable(loc: tuple[int | str, ...], prefix: str = "LEADSYNC_") -> str | None:
    """The environment variable that set the value at `loc`, if one is set (names are
    case-insensitive, as pydantic-settings reads them)."""
    wanted = prefix.upper() + "__".join(str(p) for p in loc[:2]).upper()
    return next((name for name in os.environ if name.upper() == wanted), None)


def _secret_file(loc: tuple[int | str, ...], folder: Path) -> Path | None:
    """The secret file that set the value at `loc`, if there is one (names are case-insensitive)."""
    wanted = "__".join(str(p) for p in loc[:2]).lower()
    try:
        return next((p for p in folder.iterdir() if p.name.lower() == wanted and p.is_file()), None)
    except OSError:
        return None


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    def fix(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else (base / p)

    sf = settings.salesforce.model_copy(
        update={"ca_bundle": fix(settings.salesforce.ca_bundle),
                "private_key_file": fix(settings.salesforce.private_key_file)}
    )
    hs = settings.hubspot.model_copy(update={"ca_bundle": fix(settings.hubspot.ca_bundle)})
    sy = settings.sync.model_copy(update={"mapping_file": fix(settings.sync.mapping_file)})
    tn = settings.tenants.model_copy(update={"dir": fix(settings.tenants.dir)})
    state = settings.state
    if state.url.startswith("sqlite:///") and not state.url.startswith("sqlite:////"):
        rel = state.url.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            state = state.model_copy(update={"url": f"sqlite:///{(base / rel).as_posix()}"})
    return settings.model_copy(update={"salesforce": sf, "hubspot": hs, "sync": sy, "state": state,
                                        "tenants": tn})


def insecure_permission_warning(path: Path) -> str | None:
    """A warning when a settings file that holds secrets is readable by group or others."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return (
            f"{path} is readable by group/others (mode {oct(mode & 0o777)}); it may hold secrets: "
            f"chmod 600 {path}"
        )
    return None
