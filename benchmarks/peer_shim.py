"""Run a third-party Singer tap with its vendor host replaced by the sandbox's (benchmarks/peers.py).

    <tap venv>/bin/python benchmarks/peer_shim.py hubspot    http://127.0.0.1:PORT  <tap arguments>
    <tap venv>/bin/python benchmarks/peer_shim.py salesforce https://127.0.0.1:PORT <tap arguments>

Executed by the tap's own virtualenv (it imports the tap, nothing of leadsync). Both taps hard-wire
their vendor's host and take no setting for it:
- meltano-tap-hubspot 0.10.1: every stream's `url_base` property returns `https://api.hubapi.com/...`
  (tap_hubspot/client.py, streams.py); the shim wraps each `url_base` to put the sandbox's host first.
- tap-salesforce 2.8.1: `Salesforce.login` posts to `https://login.salesforce.com/services/oauth2/
  token` (or test.salesforce.com); every later call goes to the `instance_url` the token answer
  names (the emulator's own). The shim rewrites that one login URL in `Salesforce._make_request`.
Nothing else of either tap changes: requests, paging, retries and parsing are the published code's.
(The conformance tests reach the same taps through an HTTPS proxy instead: tests/conformance/.)
"""

from __future__ import annotations

import sys
from typing import Any

HUBSPOT = "https://api.hubapi.com"
SALESFORCE = ("https://login.salesforce.com", "https://test.salesforce.com")


def _hubspot(host: str) -> int:
    import tap_hubspot.client as client
    import tap_hubspot.streams as streams
    from tap_hubspot.tap import TapHubspot

    for module in (client, streams):
        for cls in list(vars(module).values()):
            prop = cls.__dict__.get("url_base") if isinstance(cls, type) else None
            if isinstance(prop, property) and prop.fget is not None:
                cls.url_base = property(lambda self, get=prop.fget: get(self).replace(HUBSPOT, host))
    return TapHubspot.cli()


def _salesforce(host: str) -> int:
    from tap_salesforce import main
    from tap_salesforce.salesforce import Salesforce

    make_request = Salesforce._make_request

    def to_sandbox(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        for vendor in SALESFORCE:
            if url.startswith(vendor):
                url = host + url[len(vendor):]
        return make_request(self, method, url, *args, **kwargs)

    Salesforce._make_request = to_sandbox
    return main()


if __name__ == "__main__":
    which, sandbox_host = sys.argv[1], sys.argv[2].rstrip("/")
    sys.argv = [f"tap-{which}", *sys.argv[3:]]
    sys.exit(_hubspot(sandbox_host) if which == "hubspot" else _salesforce(sandbox_host))
