"""Fixtures: a HubSpot emulator on a free port, the real hubspot-api-client pointed at it, and
OpenAPI validation of every response the test caused (checked at teardown)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import hubspot
import pytest
import urllib3
from urllib3.util.retry import Retry

from sandbox.hubspot import HubSpotEmulator
from sandbox.server import ServerThread

from . import spec_check

TOKEN = "sandbox-token"
# The client's own urllib3 retry off: no retries, 429s come back to the caller, drops raise at once.
NO_RETRY = Retry(total=False, respect_retry_after_header=False)


class StepClock:
    """A clock that only moves when told to (rate-limit windows and timestamps become deterministic)."""

    def __init__(self, start: datetime = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Sandbox:
    emu: HubSpotEmulator
    server: ServerThread
    recorder: spec_check.Recorder
    pool: urllib3.PoolManager = field(default_factory=urllib3.PoolManager)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, token: str = TOKEN) -> hubspot.Client:
        return hubspot.Client.create(access_token=token, host=self.url, retry=NO_RETRY)

    def raw(
        self, method: str, path: str, body: Any = None, token: str | None = TOKEN
    ) -> urllib3.BaseHTTPResponse:
        """A plain HTTP call, for what the typed client hides (headers, exact paths, raw bodies)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.pool.request(method, self.url + path, json=body, headers=headers, retries=False)


def _start(**emulator_options: Any) -> Sandbox:
    emu = HubSpotEmulator(**emulator_options)
    recorder = spec_check.Recorder(emu.app)
    return Sandbox(emu, ServerThread(recorder, port=0, name="hubspot-test").start(), recorder)


def _assert_conforming(boxes: list[Sandbox]) -> None:
    failures = [
        line for box in boxes for line in spec_check.problems(box.recorder.records, box.recorder.unchecked)
    ]
    assert not failures, "responses that do not match HubSpot's OpenAPI files:\n" + "\n".join(failures)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Start an emulator with the given `HubSpotEmulator` options (stopped and spec-checked at teardown)."""
    started: list[Sandbox] = []

    def make(**emulator_options: Any) -> Sandbox:
        started.append(_start(**emulator_options))
        return started[-1]

    yield make
    for box in started:
        box.server.stop()
    _assert_conforming(started)


@pytest.fixture(scope="session")
def _shared_sandbox() -> Iterator[Sandbox]:
    box = _start(requests_per_10s=100_000, searches_per_second=100_000)
    yield box
    box.server.stop()


@pytest.fixture
def hs(_shared_sandbox: Sandbox) -> Iterator[Sandbox]:
    """An empty emulator with limits high enough never to get in the way (one server per worker,
    reset before each test; its responses are spec-checked at teardown)."""
    box = _shared_sandbox
    box.emu.reset()
    box.emu.faults.clear()
    box.emu.faults.injected.clear()
    box.recorder.records.clear()
    box.recorder.unchecked.clear()
    yield box
    _assert_conforming([box])
