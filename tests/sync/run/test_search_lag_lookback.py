"""HubSpot's search index lags writes ("It may take a few moments for newly created or updated CRM
objects to appear in search results", search guide). A contact whose change was stamped before
another's but reached the index after it is missing from the run that read in between; the next run
finds it only because its incremental read starts at watermark - lookback (sync.run.streams).

The real HubSpot connector reads from the emulator (`search_lag=5`) on a virtual clock; the watermark
is the newest `lastmodifieddate` read, as the runner keeps it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.run import streams
from tests.connectors.hubspot.conftest import SEEDED, start_hub

PROPS = ["hs_email_open"]


def _read(connector, since):  # noqa: ANN001, ANN202
    sources = streams.Sources(None, connector, PROPS, (), (), None)  # type: ignore[arg-type]
    return list(streams.CONTACTS.read(sources, since))  # type: ignore[arg-type]


@pytest.mark.parametrize(("lookback_minutes", "found"), [(10, True), (0, False)])
def test_lookback_picks_up_a_contact_indexed_after_the_previous_read(
    lookback_minutes: int, found: bool
) -> None:
    hub = start_hub(search_lag=5)
    try:
        store, clock = hub.emu.store, hub.clock
        x = store.create_contact({"email": "x@example.com", "hs_email_open": "0"}, at=SEEDED)
        y = store.create_contact({"email": "y@example.com", "hs_email_open": "0"}, at=SEEDED)
        clock.sleep(10)  # both indexed
        connector = hub.connector(lookback_minutes=lookback_minutes)
        t = hub.emu.clock()
        # y opens an email at t: stamped t, in search at t+5
        store.update_contact(y, {"hs_email_open": "1"}, at=t)
        clock.sleep(2)
        # x's open happened at t-1 but reaches HubSpot at t+2: stamped t-1, in search at t+7
        store.update_contact(x, {"hs_email_open": "1"}, at=t - timedelta(seconds=1))
        clock.sleep(4)  # t+6: the first run reads
        first = {c.email: c for c in _read(connector, None)}
        assert first["y@example.com"].properties["hs_email_open"] == "1"
        assert first["x@example.com"].properties["hs_email_open"] == "0"  # the index's old state
        watermark = max(c.modified_at for c in first.values() if c.modified_at is not None)
        assert watermark == t

        clock.sleep(60)  # the next run
        since = streams.start(
            streams.CONTACTS, watermark=watermark, lookback=connector.lookback, backfill=False, since=None
        )
        second = {c.email: c for c in _read(connector, since)}
        if found:
            assert second["x@example.com"].properties["hs_email_open"] == "1"
        else:  # without a lookback the change is never read
            assert "x@example.com" not in second
    finally:
        hub.server.stop()
