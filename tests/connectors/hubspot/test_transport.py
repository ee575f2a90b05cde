"""The client is built with its own retry off; the daily budget follows HubSpot's headers."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from connectors.base import BudgetExhausted, ConfigurationError
from connectors.hubspot.settings import HubSpotSettings
from connectors.hubspot.transport import DailyBudget, HubSpotPacing, build_client
from connectors.pacing import VirtualClock


@pytest.mark.parametrize("api", ["contacts", "lists", "properties"])
def test_client_retry_is_off_and_host_and_tls_are_passed(api: str, tmp_path) -> None:  # noqa: ANN001
    ca = tmp_path / "ca.pem"
    client = build_client(HubSpotSettings(access_token=SecretStr("tok"), host="http://127.0.0.1:9/",
                                          ca_bundle=ca))
    sub = {"contacts": client.crm.contacts.batch_api, "lists": client.crm.lists.memberships_api,
           "properties": client.crm.properties.core_api}[api]
    config = sub.api_client.configuration
    assert config.retries is not None and config.retries.total is False
    assert config.host == "http://127.0.0.1:9"
    assert config.ssl_ca_cert == str(ca) and config.verify_ssl is True
    assert config.access_token == "tok"


def test_settings_drive_the_client_token_and_the_pacers() -> None:
    settings = HubSpotSettings(access_token=SecretStr("tok"), host="http://127.0.0.1:9")
    assert build_client(settings).crm.contacts.batch_api.api_client.configuration.access_token == "tok"
    pacing = HubSpotPacing.from_config(settings, clock=VirtualClock(), sleep=VirtualClock().sleep)
    assert pacing.requests.max_calls == settings.requests_per_10s  # type: ignore[attr-defined]


def test_a_missing_token_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="access_token"):
        build_client(HubSpotSettings())


def test_daily_budget_from_headers_and_estimates() -> None:
    budget = DailyBudget()
    assert budget.snapshot() is None
    budget.check(10_000, "search")  # unknown: never blocks
    budget.observe({"X-HubSpot-RateLimit-Daily": "250000", "X-HubSpot-RateLimit-Daily-Remaining": "5002"})
    assert budget.snapshot() == (5_002, 250_000)
    budget.observe({})  # search answers carry no headers: count one call down
    budget.observe(None)
    assert budget.snapshot() == (5_000, 250_000)
    budget.check(5_000, "batch_update")
    budget.observe({"x-hubspot-ratelimit-daily-remaining": "4999"})  # any header case
    with pytest.raises(BudgetExhausted, match="4999 API calls left.*reserve of 5000"):
        budget.check(5_000, "batch_update")
