"""The portal a HubSpot connector talks to: `GET /account-info/v3/details`.

HubSpot's account information API ("Retrieve account details", developers.hubspot.com/docs/api-reference/
latest/account/account-information/get-account-details; scope `oauth`, which every app has) answers
`{"portalId": 123456, "accountType": "STANDARD", "timeZone": ..., "companyCurrency": ..., ...}`.
hubspot-api-client 12 has no generated API for it, so the call goes through a generated client's
`call_api` (same host, TLS settings, bearer token and urllib3 pool as every other call) and the
connector's transport (paced, counted as `account_info`, retried, budgeted).
"""

from __future__ import annotations

from typing import Any

from connectors.base import ConfigurationError
from connectors.hubspot.transport import HubSpotTransport

PATH = "/account-info/v3/details"
ENDPOINT = "account_info"


def portal_id(transport: HubSpotTransport) -> str:
    """The portal id (Hub ID) of the account the token belongs to, as text."""
    api_client = transport.client.crm.properties.core_api.api_client
    data, _ = transport.request(ENDPOINT, _details_with_http_info, api_client, raw=True)
    portal = data.get("portalId") if isinstance(data, dict) else None
    if portal is None or str(portal).strip() == "":
        raise ConfigurationError("hubspot: the account details had no portalId")
    return str(portal)


def _details_with_http_info(api_client: Any, **kwargs: Any) -> Any:
    """A generated-client style `*_with_http_info` call of GET /account-info/v3/details."""
    return api_client.call_api(
        PATH, "GET", {}, [], {"Accept": "application/json"}, body=None, post_params=[], files={},
        response_types_map={200: "object"}, auth_settings=["oauth2"], async_req=None,
        _return_http_data_only=False, _preload_content=kwargs.get("_preload_content", True),
        _request_timeout=kwargs.get("_request_timeout"), collection_formats={},
        _request_auth=kwargs.get("_request_auth"),
    )
