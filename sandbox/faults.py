"""Fault injection and call accounting shared by both emulators.

A fault rule says: on endpoints matching a glob, with a probability (and optionally at most N times),
answer with a fault instead of the real response. Draws come from one seeded RNG, so a run with the
same seed and the same call sequence meets the same faults.

Spec string (CLI `--faults`, and `FaultInjector.parse`):

    RULE[;RULE...]           RULE = ENDPOINT_GLOB:EFFECT[,EFFECT...]
    EFFECT = KIND=PROBABILITY[xCOUNT][@ARG]

    KIND: 429 (HubSpot rate limit; ARG = Retry-After seconds, "none" for no header),
          concurrent (Salesforce concurrent-request limit: 403 REQUEST_LIMIT_EXCEEDED), 500, 503,
          drop (connection dropped mid-response), slow (ARG = seconds of delay, default 5),
          expire (the session/token is reported expired), record (per-record failure inside a batch;
          ARG = error code, e.g. UNABLE_TO_LOCK_ROW)

    Examples:  "hubspot.*:429=0.1,500=0.05;salesforce.*:drop=0.02,record=0.05@UNABLE_TO_LOCK_ROW"
               "hubspot.batch_update:429=1x3@2"   (the next three batch updates get a 429, Retry-After 2)

Endpoint names are "<system>.<name>", e.g. "salesforce.query", "hubspot.search"; each emulator
documents its names. A kind one system never answers is refused when the rule is added: Salesforce sends
no 429 (its limits are 403 REQUEST_LIMIT_EXCEEDED: REST API Developer Guide, status codes; App Limits
cheatsheet), HubSpot has no `concurrent` answer. A glob that does not start with "salesforce." or
"hubspot." may reach both systems, so it can use neither kind ("*:429=0.1" is refused: write
"hubspot.*:429=0.1;salesforce.*:concurrent=0.1").
"""

from __future__ import annotations

import fnmatch
import random
import threading
from collections import Counter
from dataclasses import dataclass, field

KINDS = ("429", "concurrent", "500", "503", "drop", "slow", "expire", "record")
# kind -> (system that never answers it, why and what to use instead)
NOT_ANSWERED = {
    "429": (
        "salesforce",
        "Salesforce never answers 429: its limits are 403 REQUEST_LIMIT_EXCEEDED; use "
        "'concurrent' for the concurrent-request limit (or the emulator's daily_limit), and name "
        "the system ('hubspot.*:429=...') for HubSpot's 429",
    ),
    "concurrent": (
        "hubspot",
        "HubSpot has no concurrent-request answer (its limits are 429); name the system "
        "('salesforce.*:concurrent=...')",
    ),
}


def _systems(glob: str) -> tuple[str, ...]:
    """The systems whose endpoints `glob` can match."""
    for system in ("salesforce", "hubspot"):
        if glob.startswith(system + "."):
            return (system,)
    return ("salesforce", "hubspot")


class FaultSpecError(ValueError):
    """A --faults string that cannot be parsed; the message says which part and why."""


@dataclass
class FaultRule:
    endpoint: str  # glob
    kind: str
    probability: float = 1.0
    remaining: int | None = None  # None: unlimited
    arg: str | None = None

    def matches(self, endpoint: str) -> bool:
        return fnmatch.fnmatchcase(endpoint, self.endpoint)


@dataclass(frozen=True)
class Fault:
    kind: str
    arg: str | None = None

    @property
    def retry_after(self) -> float | None:
        """Seconds for a HubSpot 429's Retry-After header; None when the rule says `@none`."""
        if self.arg is None:
            return 1.0
        if self.arg.lower() == "none":
            return None
        return float(self.arg)

    @property
    def delay(self) -> float:
        return float(self.arg) if self.arg else 5.0


@dataclass
class FaultInjector:
    seed: int = 0
    rules: list[FaultRule] = field(default_factory=list)
    injected: Counter[tuple[str, str]] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    # ---- configuration
    def add(self, endpoint: str, kind: str, probability: float = 1.0, count: int | None = None,
            arg: str | None = None) -> FaultRule:
        if kind not in KINDS:
            raise FaultSpecError(f"unknown fault kind {kind!r} (known: {', '.join(KINDS)})")
        if not 0.0 <= probability <= 1.0:
            raise FaultSpecError(f"probability must be between 0 and 1, got {probability}")
        refused = NOT_ANSWERED.get(kind)
        if refused is not None and refused[0] in _systems(endpoint):
            raise FaultSpecError(f"fault rule {endpoint}:{kind}: {refused[1]}")
        rule = FaultRule(endpoint, kind, probability, count, arg)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    @classmethod
    def parse(cls, spec: str, seed: int = 0) -> FaultInjector:
        inj = cls(seed=seed)
        for raw_rule in filter(None, (r.strip() for r in spec.split(";"))):
            glob, sep, effects = raw_rule.partition(":")
            if not sep or not glob.strip() or not effects.strip():
                raise FaultSpecError(f"fault rule {raw_rule!r}: expected ENDPOINT:KIND=PROB[,...]")
            for effect in filter(None, (e.strip() for e in effects.split(","))):
                inj._parse_effect(glob.strip(), effect)
        return inj

    def _parse_effect(self, glob: str, effect: str) -> None:
        kind, sep, rest = effect.partition("=")
        if not sep:
            raise FaultSpecError(f"fault effect {effect!r}: expected KIND=PROBABILITY")
        rest, _, arg = rest.partition("@")
        prob_text, _, count_text = rest.partition("x")
        try:
            probability = float(prob_text)
            count = int(count_text) if count_text else None
        except ValueError:
            raise FaultSpecError(f"fault effect {effect!r}: bad probability or count") from None
        self.add(glob, kind.strip(), probability, count, arg or None)

    # ---- drawing
    def draw(self, endpoint: str, kinds: tuple[str, ...] = KINDS) -> Fault | None:
        """The fault to answer this call with, or None. Per-record faults use `draw_record`."""
        with self._lock:
            for rule in self.rules:
                if rule.kind == "record" or rule.kind not in kinds or not rule.matches(endpoint):
                    continue
                if rule.remaining == 0:
                    continue
                if rule.probability >= 1.0 or self._rng.random() < rule.probability:
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    self.injected[(endpoint, rule.kind)] += 1
                    return Fault(rule.kind, rule.arg)
        return None

    def draw_record(self, endpoint: str) -> str | None:
        """An error code to fail one record of a batch with, or None."""
        with self._lock:
            for rule in self.rules:
                if rule.kind != "record" or not rule.matches(endpoint) or rule.remaining == 0:
                    continue
                if rule.probability >= 1.0 or self._rng.random() < rule.probability:
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    self.injected[(endpoint, "record")] += 1
                    return rule.arg or "UNABLE_TO_LOCK_ROW"
        return None


@dataclass
class CallLog:
    """Calls received per endpoint, for tests and benchmarks (the emulators' inspection handle)."""

    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def hit(self, endpoint: str) -> None:
        with self._lock:
            self.counts[endpoint] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()


class DroppedConnection:
    """An ASGI response that announces a body, sends part of it and then aborts the connection:
    the client sees a dropped connection (requests: ChunkedEncodingError/ConnectionError,
    urllib3: ProtocolError), as when a load balancer cuts a request."""

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 (ASGI signature)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
        raise ConnectionAbortedError("sandbox fault injection: connection dropped")
