"""Fixtures for the state store tests: a real SQLite file in tmp_path (never :memory:)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.state import StateStore


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'leadsync.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[StateStore]:
    with StateStore.open(db_url) as st:
        yield st
