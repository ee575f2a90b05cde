"""Demo contacts carry numemployees as HubSpot's range options, and the default fit rule scores a range
like the head count it stands for."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from mappings import Mapping, load_mapping_text
from mappings.engine import assign
from sandbox.demo_data import generate
from sandbox.demo_load import load_demo
from sandbox.hubspot import HubSpotEmulator
from sandbox.hubspot.defaults import NUMEMPLOYEES_OPTIONS, numemployees_range
from tests.mappings.mapping_helpers import NOW, default_text, person


@pytest.fixture(scope="module")
def default_mapping() -> Mapping:
    return load_mapping_text(default_text(), "mappings/default.toml")


def test_demo_contacts_hold_range_options() -> None:
    emu = HubSpotEmulator()
    book = generate(people=120, seed=3, now=datetime(2026, 6, 1, tzinfo=UTC))
    load_demo(book, hubspot=emu)
    sizes = {a.company.name: a.company.employees for a in book.accounts()}
    seen: Counter[str] = Counter()
    for contact in emu.store.contacts():
        props = contact["properties"]
        value = props.get("numemployees")
        assert value in NUMEMPLOYEES_OPTIONS
        assert value == numemployees_range(sizes[props["company"]])
        seen[value] += 1
    assert len(seen) >= 4  # the demo's company sizes spread over the ranges


def test_the_emulator_refuses_a_head_count() -> None:
    emu = HubSpotEmulator()
    options = [o["value"] for o in emu.store.schema.get("numemployees").as_json()["options"]]
    assert tuple(options) == NUMEMPLOYEES_OPTIONS
    with pytest.raises(ValueError, match="INVALID_OPTION"):
        emu.store.create_contact({"email": "a@x.example", "numemployees": "250"})


@pytest.mark.parametrize(
    ("employees", "label"),
    [
        (1, "1-5"),
        (4, "1-5"),
        (5, "5-25"),
        (24, "5-25"),
        (25, "25-50"),
        (99, "50-100"),
        (100, "100-500"),
        (499, "100-500"),
        (500, "500-1000"),
        (999, "500-1000"),
        (1000, "1000+"),
        (30000, "1000+"),
    ],
)
def test_head_count_to_range(employees: int, label: str) -> None:
    assert numemployees_range(employees) == label


@pytest.mark.parametrize("employees", [1, 5, 49, 50, 99, 100, 101, 499, 500, 999, 1000, 1001, 20000])
def test_fit_scores_a_range_like_its_head_count(default_mapping: Mapping, employees: int) -> None:
    from_range = assign(person(hubspot__numemployees=numemployees_range(employees)), default_mapping, NOW)
    from_count = assign(person(salesforce__Account__NumberOfEmployees=employees), default_mapping, NOW)
    assert from_range.score == from_count.score
