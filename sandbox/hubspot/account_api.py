"""Account information API: GET /account-info/v3/details (the portal's id and settings).

HubSpot docs, "Retrieve account details" (developers.hubspot.com/docs/api-reference/latest/account/
account-information/get-account-details; the guide lists scope `oauth`): the answer resembles
`{"portalId": 123456, "accountType": "STANDARD", "timeZone": "US/Eastern", "companyCurrency": "USD",
"additionalCurrencies": [], "utcOffset": "-05:00", "utcOffsetMilliseconds": -18000000,
"uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"}`. The emulator answers the same keys for
its portal (`emu.portal_id`), behind the same auth, rate limits and faults as every API call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from .http import Reply

if TYPE_CHECKING:
    from .emulator import HubSpotEmulator


async def details(request: Request, emu: HubSpotEmulator) -> Reply:
    return Reply(200, {
        "portalId": emu.portal_id, "accountType": "SANDBOX", "timeZone": "UTC", "companyCurrency": "JPY",
        "additionalCurrencies": [], "utcOffset": "+00:00", "utcOffsetMilliseconds": 0,
        "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1",
    })
