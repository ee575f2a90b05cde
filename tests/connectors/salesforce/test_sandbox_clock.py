"""The Salesforce emulator's clock (POST /_sandbox/clock): a deal marked lost by the real client while
the clock is moved back gets its OpportunityHistory row and SystemModstamp on that earlier day, and
leadsync reads that day as the loss date after the clock is moved forward again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from simple_salesforce import Salesforce

from connectors.salesforce.transport import build_session
from sandbox.salesforce import SalesforceEmulator
from tests.connectors.salesforce.conftest import Run


def _clock(emu: SalesforceEmulator, url: str, now: str | None) -> dict[str, Any]:
    reply = requests.post(f"{url}/_sandbox/clock", json={"now": now}, verify=str(emu.ca_file), timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _client(emu: SalesforceEmulator, url: str) -> Salesforce:
    creds = emu.credentials
    session = build_session(domain="login", login_url=url, ca_bundle=emu.ca_file)
    return Salesforce(username=creds.username, password=creds.password, security_token=creds.security_token,
                      domain="login", session=session)


def test_a_loss_made_with_the_clock_moved_back_is_read_on_that_day(
        emu: SalesforceEmulator, url: str, make: Callable[..., Run]) -> None:
    sf = _client(emu, url)
    real_day = datetime.now(UTC).date()
    opened = datetime.now(UTC).replace(microsecond=0) - timedelta(days=20)
    lost = opened + timedelta(days=10)
    # time moves forward in an org: open the deal on one past day, lose it on a later one, come back
    _clock(emu, url, opened.isoformat())
    account = sf.Account.create({"Name": "Clockwork"})["id"]
    deal = sf.Opportunity.create({"Name": "Clock deal", "StageName": "Prospecting", "AccountId": account,
                                  "CloseDate": "2030-01-01"})["id"]
    moved = _clock(emu, url, lost.isoformat())
    assert datetime.fromisoformat(moved["now"]).date() == lost.date()
    sf.Opportunity.update(deal, {"StageName": "Closed Lost"})
    modstamp_then = sf.Opportunity.get(deal)["SystemModstamp"]
    back = _clock(emu, url, None)
    assert back["offset_seconds"] == 0 and datetime.fromisoformat(back["now"]).date() >= real_day

    history = sf.query_all(f"SELECT StageName, CreatedDate FROM OpportunityHistory "
                           f"WHERE OpportunityId = '{deal}' ORDER BY CreatedDate")["records"]
    days = [(r["StageName"], r["CreatedDate"][:10]) for r in history]
    assert days == [("Prospecting", opened.date().isoformat()), ("Closed Lost", lost.date().isoformat())]
    assert modstamp_then.startswith(lost.date().isoformat())

    (read,) = [d for d in make().connector.iter_deals(None, lost_only=True) if d.opportunity_id == deal]
    assert (read.state, read.lost_date, read.lost_date_source) == ("lost", lost.date(), "history")
    assert read.modified_at.date() == lost.date()


def test_the_clock_endpoint_refuses_a_bad_instant_and_reset_returns_to_real_time(
        emu: SalesforceEmulator, url: str) -> None:
    reply = requests.post(f"{url}/_sandbox/clock", json={"now": "last tuesday"}, verify=str(emu.ca_file),
                          timeout=30)
    assert reply.status_code == 400 and "ISO-8601" in reply.json()["error"]
    assert _clock(emu, url, "2020-02-29")["now"].startswith("2020-02-29T00:00")  # a date: midnight UTC
    assert emu.clock().year == 2020
    emu.reset()
    assert emu.clock.offset == timedelta(0)
    assert abs(emu.clock() - datetime.now(UTC)) < timedelta(minutes=5)
