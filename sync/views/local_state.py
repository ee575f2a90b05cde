"""Open what `leadsync report` and `leadsync mappings explain EMAIL` read: settings, the mapping and
the local state store. No connector is built and no API is called.

Every problem a user can fix (settings file, mapping file, state URL, a state store that does not
exist yet or was upgraded by a newer leadsync) is raised as `LocalStateError` with a message ready to
print; the commands turn it into exit code 2.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from mappings import Mapping, MappingError
from sync.inputs import InputProblem, load_mapping_file
from sync.settings import ConfigSource, Settings, SettingsFileError, load_settings
from sync.state.errors import StateStoreError
from sync.state.sql import StateUrlError, display_url, sqlite_path
from sync.state.store import StateStore

PIPE_WIDTH = 120  # tables written to a file or pipe (no terminal to measure) use this width


class LocalStateError(Exception):
    """Settings, mapping or state store cannot be used; the message says why (and names the file)."""


@dataclass
class LocalState:
    settings: Settings
    mapping: Mapping
    store: StateStore


def _mapping(settings: Settings) -> Mapping:
    try:
        return load_mapping_file(settings.sync.mapping_file)
    except InputProblem as exc:
        raise LocalStateError(str(exc)) from None
    except MappingError as exc:
        raise LocalStateError("\n".join(str(e) for e in exc.errors)) from None


def _store(url: str, schema: str | None = None) -> StateStore:
    try:
        path = sqlite_path(make_url(url))
    except (StateUrlError, ArgumentError) as exc:
        raise LocalStateError(f"state.url: {exc}") from None
    if path is not None and not path.is_file():
        raise LocalStateError(
            f"no state store at {path}: run `leadsync sync` (or `leadsync demo`) first")
    try:
        return StateStore.open(url, schema=schema)
    except StateStoreError as exc:  # the message names the store
        raise LocalStateError(str(exc)) from None
    except SQLAlchemyError as exc:
        raise LocalStateError(f"cannot open the state store {display_url(url)}: "
                              f"{type(exc).__name__}: {exc.args[0] if exc.args else ''}") from None


@contextmanager
def open_local_state(config: ConfigSource) -> Iterator[LocalState]:
    """Settings from `config` (else LEADSYNC_CONFIG, else ./settings.toml), their mapping and the
    state store, closed on exit. Raises LocalStateError."""
    try:
        settings = load_settings(config)
    except SettingsFileError as exc:
        raise LocalStateError(str(exc)) from None
    mapping = _mapping(settings)
    store = _store(settings.state.url, settings.state.pg_schema)
    try:
        yield LocalState(settings, mapping, store)
    finally:
        store.close()


def output_console() -> Console:
    """Stdout console for tables: the terminal's width, or PIPE_WIDTH when stdout is not a terminal
    and $COLUMNS is not set."""
    console = Console(highlight=False)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = PIPE_WIDTH
    return console
