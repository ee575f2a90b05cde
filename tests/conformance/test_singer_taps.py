"""Conformance: well-known third-party Singer taps extract the demo book from the sandbox with nothing
changed but the host they talk to, and count what the sandbox holds.

Each tap is installed from PyPI into its own virtualenv under `.conformance/` (git-ignored, reused),
outside leadsync's dependencies, and runs as a subprocess. Its vendor hostnames reach the emulators
through a local HTTPS proxy (`HTTPS_PROXY`, honoured by `requests`); it trusts the sandbox CA and the
proxy's CA (`REQUESTS_CA_BUNDLE`). The taps' code and configuration are what a real user would run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox.launcher import Sandbox
from tests.conformance.proxy import Route, VendorProxy
from tests.conformance.taps import extract, install, trust

pytestmark = pytest.mark.slow

START_DATE = "2000-01-01T00:00:00Z"  # before any demo record
SALESFORCE_STREAMS = {"Opportunity", "OpportunityHistory", "Contact", "OpportunityContactRole"}


@pytest.fixture
def vendor_env(sandbox: Sandbox, tmp_path: Path):
    sf, hs = sandbox.salesforce_server.port, sandbox.hubspot_server.port
    routes = {"login.salesforce.com": Route(sf, terminate_tls=False),
              "test.salesforce.com": Route(sf, terminate_tls=False),
              "api.hubapi.com": Route(hs, terminate_tls=True)}
    with VendorProxy(routes, sandbox.ca_file, tmp_path) as proxy:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8",
               "HTTPS_PROXY": proxy.url, "https_proxy": proxy.url,
               "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
               "REQUESTS_CA_BUNDLE": str(proxy.ca_bundle), "SSL_CERT_FILE": str(proxy.ca_bundle)}
        yield proxy, env


def test_tap_salesforce_counts_the_sandbox(sandbox: Sandbox, vendor_env, tmp_path: Path) -> None:
    proxy, env = vendor_env
    exe = install("tap-salesforce", "2.8.1", "tap-salesforce")
    creds = sandbox.salesforce.credentials
    config = {"client_id": creds.consumer_key, "client_secret": creds.consumer_secret,
              "refresh_token": creds.refresh_token, "api_type": "REST", "start_date": START_DATE,
              "select_fields_by_default": True}
    counts = extract(exe, config, SALESFORCE_STREAMS, tmp_path / "salesforce", env,
                     catalog_flag="--properties")
    store = sandbox.salesforce.store
    # the tap reads with queryAll, which also returns deleted rows (none in the demo book today)
    expected = {name: len(store.all(name, include_deleted=True)) for name in SALESFORCE_STREAMS}
    assert all(expected.values()), expected  # the demo book has rows of each
    assert dict(counts) == expected
    assert "login.salesforce.com" in proxy.connects and not proxy.refused


def test_meltano_tap_hubspot_counts_the_sandbox(sandbox: Sandbox, vendor_env, tmp_path: Path) -> None:
    proxy, env = vendor_env
    exe = install("meltano-tap-hubspot", "0.10.1", "tap-hubspot")
    trust(exe, proxy.ca_bundle)  # singer-sdk ignores REQUESTS_CA_BUNDLE (see `trust`)
    config = {"access_token": sandbox.hubspot_token, "start_date": START_DATE}
    counts = extract(exe, config, {"contacts"}, tmp_path / "hubspot", env)
    expected = len(sandbox.hubspot.store.contacts())
    assert expected > 0
    assert dict(counts) == {"contacts": expected}
    assert "api.hubapi.com" in proxy.connects and not proxy.refused
