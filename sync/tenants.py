"""Tenants: many org/portal pairs served by one leadsync, each a name plus its own settings file.

Layout (docs/tenants.md): a folder of settings files, `tenants/<name>.toml`, one per tenant, same
schema as settings.toml. The folder is `$LEADSYNC_TENANTS_DIR`, else `[tenants] dir` of the main
settings file, else `tenants/` next to it. Names are `[a-z0-9_-]{1,40}`.

A tenant's environment variables are `LEADSYNC_TENANT_<NAME>__<SECTION>__<KEY>` (NAME upper-cased,
`-` as `_`); a tenant reads only its own, never another tenant's nor the plain `LEADSYNC_*` ones.
Its state lives in the PostgreSQL schema `leadsync_<name>` (`-` as `_`) when its state.url is a
PostgreSQL database, else in its own SQLite file (`tenants/<name>.db` by default).

This module only names and finds tenants; `sync.settings.load_settings` loads one.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

NAME_RE = re.compile(r"[a-z0-9_-]{1,40}")
DIR_VARIABLE = "LEADSYNC_TENANTS_DIR"


class TenantError(Exception):
    """A tenant that does not exist, a bad name, or tenants whose names collide."""


@dataclass(frozen=True, slots=True)
class TenantConfig:
    """`--config` plus `--tenant`: which tenant's settings to load (the main settings file, `config`,
    only says where the tenants folder is; it need not exist)."""

    config: Path | str | None
    tenant: str


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str
    path: Path  # its settings file


def key(name: str) -> str:
    """The name as it appears in environment variables and schema names: `-` as `_`."""
    return name.replace("-", "_")


def env_prefix(name: str) -> str:
    return f"LEADSYNC_TENANT_{key(name).upper()}__"


def schema_name(name: str) -> str:
    """The PostgreSQL schema holding the tenant's state."""
    return f"leadsync_{key(name)}"


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise TenantError(f"tenant name {name!r}: use 1 to 40 of a-z, 0-9, '_' and '-'")
    return name


def tenants_dir(config: Path | str | None) -> Path:
    """The tenants folder for the main settings file `config` (see the module's doc)."""
    env = os.environ.get(DIR_VARIABLE)
    if env:
        return Path(env).expanduser()
    main = Path(config) if config is not None else Path(os.environ.get("LEADSYNC_CONFIG") or "settings.toml")
    named: object = None
    if main.is_file():
        try:
            with main.open("rb") as fh:
                named = tomllib.load(fh).get("tenants", {}).get("dir")
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, AttributeError):
            named = None  # loading the file itself says what is wrong with it
    folder = Path(named) if isinstance(named, str) and named else Path("tenants")
    return folder if folder.is_absolute() else main.resolve().parent / folder


def list_tenants(folder: Path) -> list[Tenant]:
    """The tenants in `folder`, by name. Files whose names are not tenant names are ignored; two names
    that read the same environment variables (`a-b` and `a_b`) are refused."""
    if not folder.is_dir():
        return []
    found = sorted((Tenant(p.stem, p) for p in folder.glob("*.toml") if NAME_RE.fullmatch(p.stem)),
                   key=lambda t: t.name)
    seen: dict[str, str] = {}
    for t in found:
        other = seen.setdefault(key(t.name), t.name)
        if other != t.name:
            raise TenantError(f"tenants {other!r} and {t.name!r} in {folder} would share environment "
                              f"variables and a schema ({env_prefix(t.name)}..., {schema_name(t.name)}): "
                              "rename one")
    return found


def find_tenant(config: Path | str | None, name: str) -> Tenant:
    """The tenant called `name`; TenantError listing the known ones when there is none."""
    folder = tenants_dir(config)
    check_name(name)
    tenants = list_tenants(folder)
    for t in tenants:
        if t.name == name:
            return t
    known = ", ".join(t.name for t in tenants) or "none"
    raise TenantError(f"unknown tenant {name!r}: no {folder / (name + '.toml')} (known tenants: {known})")
