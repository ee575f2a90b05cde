"""GET /account-info/v3/details: the portal id leadsync binds its state to (HubSpot's "Retrieve account
details"; not in the CRM OpenAPI files this suite validates against, so the shape is asserted here)."""

from __future__ import annotations

import json

from connectors.base import CallCounter
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.settings import HubSpotSettings
from connectors.retry import RetryPolicy

from .conftest import TOKEN, Sandbox

PATH = "/account-info/v3/details"


def test_account_details_name_the_portal_behind_auth(hs: Sandbox) -> None:
    hs.recorder.unchecked.add(PATH)
    answer = hs.raw("GET", PATH)
    assert answer.status == 200
    body = json.loads(answer.data)
    assert body["portalId"] == hs.emu.portal_id
    assert {"accountType", "timeZone", "companyCurrency", "utcOffset", "uiDomain",
            "dataHostingLocation"} <= set(body)
    assert hs.raw("GET", PATH, token=None).status == 401
    assert hs.raw("GET", PATH, token="wrong").status == 401
    assert hs.emu.calls.snapshot()["hubspot.account_info"] == 3


def test_the_connector_reads_the_portal_id_once_and_a_reset_portal_has_another(hs: Sandbox) -> None:
    hs.recorder.unchecked.add(PATH)
    counter = CallCounter()
    connector = HubSpotConnector(HubSpotSettings(access_token=TOKEN, host=hs.url), counter=counter,
                                 policy=RetryPolicy())
    assert connector.account_id() == str(hs.emu.portal_id)
    assert connector.account_id() == str(hs.emu.portal_id)
    assert counter.by_system()["hubspot"] == {"account_info": 1}
    hs.emu.reset(portal_id=4242)
    fresh = HubSpotConnector(HubSpotSettings(access_token=TOKEN, host=hs.url), counter=CallCounter(),
                             policy=RetryPolicy())
    assert fresh.account_id() == "4242"
    hs.emu.reset()
    assert hs.emu.portal_id != 4242
