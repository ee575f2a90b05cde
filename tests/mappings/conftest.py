"""Fixtures for the mapping-file and engine tests (helpers live in mapping_helpers.py)."""

from __future__ import annotations

import pytest

from mappings import Mapping, load_mapping_text
from tests.mappings.mapping_helpers import default_text


@pytest.fixture(scope="session")
def default_mapping() -> Mapping:
    return load_mapping_text(default_text(), "mappings/default.toml")
