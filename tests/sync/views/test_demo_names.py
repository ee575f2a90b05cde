"""The demo book, synced: its HubSpot contacts carry names (Japanese and Latin), which the run reads
although the demo mapping's rules do not, so the console's search finds the people known only from
HubSpot by name."""

from __future__ import annotations

import json

import sqlalchemy as sa

from sync.state import schema as s
from sync.state.names import display_name
from sync.state.person_names import find_people

from .worlds import Synced


def _cjk(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text)


def test_hubspot_only_people_of_the_demo_book_are_found_by_name(synced: Synced) -> None:
    store = synced.ctx.store
    assert "lastname" not in synced.ctx.mapping.hubspot_properties()
    c, dc, n, a = s.contacts.c, s.deal_contacts.c, s.person_names.c, s.assignments.c
    with store.engine.connect() as conn:
        # people the run decided who are on no deal: known from their HubSpot contact alone
        hubspot_only = conn.execute(
            sa.select(c.person_key, c.properties).join(s.assignments, a.person_key == c.person_key)
            .where(c.system == "hubspot", c.archived == sa.false(), c.merged_into.is_(None),
                   c.person_key.not_in(sa.select(dc.person_key).where(dc.person_key.is_not(None))))
            .order_by(c.person_key)).all()
        named = set(conn.execute(sa.select(n.person_key, n.display_name).where(n.source == "contact")).all())
    assert hubspot_only  # the demo book has people marketing knows and sales never met
    shown = []
    for key, properties in hubspot_only:
        props = json.loads(properties)
        family, given = props.get("lastname"), props.get("firstname")
        assert family and given, key  # read, though no rule uses them
        assert (key, display_name(family, given)) in named
        shown.append(display_name(family, given))
        for query in (family, f"{family} {given}"):  # found by the family name, and by "family given"
            keys = [r.person_key for r in find_people(store.engine, query, None, 500)]
            assert key in keys, (query, key)
    assert any(_cjk(v) for v in shown) and any(not _cjk(v) for v in shown)  # Japanese and Latin names
