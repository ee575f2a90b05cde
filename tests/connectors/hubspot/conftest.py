"""The real hubspot-api-client against the HubSpot emulator, on one virtual clock.

The emulator's clock (timestamps, rate-limit windows) and the connector's clock/sleep (pacing, retry
backoff) are the same `VirtualClock`: waits take no wall time, and pacing is checked in the time
the server sees, without timed assertions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import CallCounter
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.settings import HubSpotSettings
from connectors.pacing import VirtualClock
from connectors.retry import RetryPolicy
from sandbox.faults import FaultInjector
from sandbox.hubspot import HubSpotEmulator
from sandbox.server import ServerThread

TOKEN = "sandbox-token"
VIRTUAL_START = datetime(2024, 6, 1, tzinfo=UTC)  # "now" on the virtual clock when a hub starts
SEEDED = datetime(2024, 1, 1, tzinfo=UTC)  # seeded data lies before it


@dataclass
class Hub:
    """One emulated portal on a served port, with a virtual clock and a call counter."""

    emu: HubSpotEmulator
    server: ServerThread
    clock: VirtualClock
    counter: CallCounter = field(default_factory=CallCounter)

    def connector(self, **options: Any) -> HubSpotConnector:
        policy = options.pop("policy", RetryPolicy(max_attempts=6, base_delay=0.5, max_backoff=60.0))
        settings = HubSpotSettings(**{"access_token": TOKEN, "host": self.server.url, "timeout": 30.0,
                                      "requests_per_10s": 190, "searches_per_second": 5.0,
                                      "daily_reserve": 0, **options})
        return HubSpotConnector(settings, counter=self.counter, policy=policy, clock=self.clock,
                                sleep=self.clock.sleep)

    def calls(self) -> dict[str, int]:
        """The emulator's call log, keyed like `counter.by_system()["hubspot"]`."""
        return {k.removeprefix("hubspot."): v for k, v in self.emu.calls.snapshot().items()}

    def counted(self) -> dict[str, int]:
        return self.counter.by_system().get("hubspot", {})

    def reset_counts(self) -> None:
        self.emu.calls.reset()
        self.counter.counts.clear()


def start_hub(clock: VirtualClock | None = None, **emulator_options: Any) -> Hub:
    clock = clock or VirtualClock(VIRTUAL_START.timestamp())
    options: dict[str, Any] = {"tokens": (TOKEN,), "faults": FaultInjector(seed=7), **emulator_options}
    emu = HubSpotEmulator(clock=lambda: datetime.fromtimestamp(clock(), UTC), **options)
    return Hub(emu, emu.serve(port=0), clock)


@pytest.fixture
def make_hub() -> Iterator[Any]:
    hubs: list[Hub] = []

    def make(**emulator_options: Any) -> Hub:
        hub = start_hub(**emulator_options)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        hub.server.stop()


@pytest.fixture
def hub(make_hub: Any) -> Hub:
    return make_hub()
