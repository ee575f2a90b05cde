"""The HubSpot reader always reads the contact's name (for the console's people search). A store synced
by the reader before it did must see no change of anyone's standing from it: the first runs with the new
reader (an ordinary run, then a backfill that reads every contact again, then another run) move no one,
write nothing, keep every assignment row (facts fingerprint included) as it was, and only add the
names to the search index."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from connectors.base import MA_NAME_PROPERTIES
from connectors.hubspot import read as hubspot_read
from sync.run.runner import RunOptions, run
from sync.state import schema as s

from .conftest import World

# email -> (firstname, lastname) as the world seeds them; None: no deal (a HubSpot-only person)
PEOPLE: dict[str, tuple[tuple[str, str], str | None, dict[str, str]]] = {
    "yamada@example.jp": (("太郎", "山田"), "Proposal/Price Quote",
                          {"hs_email_open": "6", "hs_email_click": "2"}),
    "smith@example.com": (("Jane", "Smith"), "Prospecting", {}),
    "sato@example.jp": (("花子", "佐藤"), None, {"lifecyclestage": "marketingqualifiedlead"}),
    "ken@example.com": (("Ken", "Yamazaki"), None, {"hs_email_open": "1"}),
}


def _rows(world: World, table: sa.Table, order: Any) -> list[tuple[Any, ...]]:
    with world.ctx.store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(order)).all()]


def _contact_names(world: World) -> dict[str, str]:
    n = s.person_names.c
    with world.ctx.store.engine.connect() as conn:
        return dict(conn.execute(sa.select(n.person_key, n.display_name).distinct()
                                 .where(n.source == "contact")).all())


def test_reading_names_changes_no_standing_and_writes_nothing(world: World,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for email, (name, stage, hubspot) in PEOPLE.items():
        world.person(email, lost_stage=stage, name=name, hubspot=hubspot)
    assert "lastname" not in world.ctx.mapping.hubspot_properties()  # the rules do not read the name

    monkeypatch.setattr(hubspot_read, "NAME_PROPERTIES", ())  # the reader before this change
    first = world.sync()
    assert first.plan["sample"] and any(first.plan["estimated_api_calls"].values())
    assert first.counts["stage_moves"] > 0 and world.emulator_writes() > 0  # a store with history
    assert _contact_names(world) == {}  # the snapshots hold no HubSpot name
    assignments = _rows(world, s.assignments, s.assignments.c.person_key)
    assert len(assignments) == len(PEOPLE)
    moves = _rows(world, s.stage_moves, s.stage_moves.c.id)
    written = _rows(world, s.written_values, s.written_values.c.record_id)
    members = _rows(world, s.list_memberships, s.list_memberships.c.record_id)
    writes = world.emulator_writes()

    monkeypatch.setattr(hubspot_read, "NAME_PROPERTIES", MA_NAME_PROPERTIES)  # the reader now
    for options in (RunOptions(now=world.now),  # the first run after the change (incremental)
                    RunOptions(now=world.now, kind="backfill"),  # every contact read again, with names
                    RunOptions(now=world.now)):
        result = run(world.ctx, options)
        assert result.status == "ok", result.error
        assert result.counts["stage_moves"] == 0, options
        assert result.plan["sample"] == [], result.plan  # no change planned: no field, list or task
        assert not any(result.plan["estimated_api_calls"].values()), result.plan

    # the names are read and indexed ...
    assert _contact_names(world) == {"yamada@example.jp": "山田 太郎", "smith@example.com": "Jane Smith",
                                     "sato@example.jp": "佐藤 花子", "ken@example.com": "Ken Yamazaki"}
    hs = {c.email: c.properties for c in world.ctx.store.iter_contacts("hubspot")}
    assert hs["sato@example.jp"]["lastname"] == "佐藤"
    # ... and nothing else changed: the standing (fingerprints of the facts, changed_at, run), the stage
    # history, what leadsync wrote and the list memberships, and no write call was made
    assert _rows(world, s.assignments, s.assignments.c.person_key) == assignments
    assert _rows(world, s.stage_moves, s.stage_moves.c.id) == moves
    assert _rows(world, s.written_values, s.written_values.c.record_id) == written
    assert _rows(world, s.list_memberships, s.list_memberships.c.record_id) == members
    assert world.emulator_writes() == writes
