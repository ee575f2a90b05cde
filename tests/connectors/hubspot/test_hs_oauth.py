"""A public app's OAuth tokens: obtained from the refresh token, refreshed before they expire (30
minutes) and once after a 401; private app tokens unchanged; secrets never in errors."""

from __future__ import annotations

import pytest
import urllib3
from pydantic import ValidationError

from connectors.base import AuthenticationError, FieldUpdate
from connectors.hubspot.auth import REFRESH_MARGIN
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.settings import HubSpotSettings

from .conftest import SEEDED, Hub

CLIENT, SECRET, REFRESH = "app-1", "shh-client-secret", "refresh-abc-123"


def oauth_connector(hub: Hub, refresh: str = REFRESH) -> HubSpotConnector:
    return hub.connector(access_token=None, client_id=CLIENT, client_secret=SECRET, refresh_token=refresh)


def update(conn: HubSpotConnector, cid: str, name: str) -> bool:
    return all(r.ok for r in conn.update_fields([FieldUpdate("contacts", cid, {"firstname": name})]))


@pytest.fixture
def oauth_hub(hub: Hub) -> Hub:
    hub.emu.oauth.add_app(CLIENT, SECRET, REFRESH)
    return hub


def test_tokens_are_refreshed_before_they_expire(oauth_hub: Hub) -> None:
    hub = oauth_hub
    cid = hub.emu.store.create_contact({"email": "o@example.com"}, at=SEEDED)
    conn = oauth_connector(hub)
    assert update(conn, cid, "a")
    assert hub.calls() == {"oauth": 1, "properties": 1, "batch_update": 1}
    hub.clock.sleep(1800 - REFRESH_MARGIN - 1)  # still valid for more than the margin: no refresh
    assert update(conn, cid, "b")
    assert hub.calls()["oauth"] == 1
    hub.clock.sleep(2)  # within the margin of its expiry: refreshed first, never refused
    assert update(conn, cid, "c")
    assert hub.calls() == {"oauth": 2, "properties": 1, "batch_update": 3}  # no request was a 401
    assert hub.counted()["oauth_token"] == 2
    assert hub.emu.store.get_contact(cid)["properties"]["firstname"] == "c"


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_a_401_refreshes_the_token_once(oauth_hub: Hub, how: str) -> None:
    hub = oauth_hub
    cid = hub.emu.store.create_contact({"email": "o@example.com"}, at=SEEDED)
    conn = oauth_connector(hub)
    assert update(conn, cid, "a")
    if how == "expired":  # HubSpot says EXPIRED_AUTHENTICATION before our clock does
        hub.emu.faults.add("hubspot.batch_update", "expire", 1.0, 1)
    else:  # the token is no longer known: INVALID_AUTHENTICATION
        hub.emu.oauth.issued.clear()
    assert update(conn, cid, "b")
    assert hub.calls()["oauth"] == 2 and hub.calls()["batch_update"] == 3


def test_a_refused_refresh_token_stops_without_leaking_secrets(oauth_hub: Hub) -> None:
    cid = oauth_hub.emu.store.create_contact({"email": "o@example.com"}, at=SEEDED)
    conn = oauth_connector(oauth_hub, refresh="not-the-token")
    with pytest.raises(AuthenticationError) as caught:
        update(conn, cid, "a")
    text = str(caught.value) + repr(caught.value.__cause__) + repr(caught.value.__context__)
    assert "refresh" in str(caught.value) and "400" in str(caught.value)
    assert SECRET not in text and "not-the-token" not in text


def test_oauth_tokens_expire_in_the_emulator(oauth_hub: Hub) -> None:
    hub = oauth_hub
    token = oauth_connector(hub).transport.oauth.current()  # type: ignore[union-attr]
    pool = urllib3.PoolManager()

    def get() -> urllib3.BaseHTTPResponse:
        return pool.request("GET", hub.server.url + "/crm/v3/objects/contacts",
                            headers={"Authorization": f"Bearer {token}"}, retries=False)

    assert get().status == 200
    hub.clock.sleep(1800 + 5)
    expired = get()
    assert expired.status == 401 and expired.json()["category"] == "EXPIRED_AUTHENTICATION"
    assert "expired 5 second(s) ago" in expired.json()["message"]
    refused = pool.request("POST", hub.server.url + "/oauth/v1/token", retries=False, body=(
        f"grant_type=refresh_token&client_id={CLIENT}&client_secret=wrong&refresh_token={REFRESH}"),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert refused.status == 400 and refused.json()["error"] == "invalid_client"


def test_private_app_tokens_are_unchanged(hub: Hub) -> None:
    cid = hub.emu.store.create_contact({"email": "p@example.com"}, at=SEEDED)
    conn = hub.connector()
    assert conn.transport.oauth is None
    hub.clock.sleep(7200)
    assert update(conn, cid, "a")
    assert "oauth" not in hub.calls()


def test_settings_take_one_way_to_authenticate() -> None:
    with pytest.raises(ValidationError, match="together"):
        HubSpotSettings(client_id=CLIENT, refresh_token=REFRESH)
    with pytest.raises(ValidationError, match="not both"):
        HubSpotSettings(access_token="pat", client_id=CLIENT, client_secret=SECRET, refresh_token=REFRESH)
    settings = HubSpotSettings(client_id=CLIENT, client_secret=SECRET, refresh_token=REFRESH)
    assert settings.uses_oauth and SECRET not in repr(settings) and REFRESH not in repr(settings)
