"""Helpers shared by the mapping-file and engine tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib import resources

from mappings.facts import DealFacts, PersonFacts

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TODAY = NOW.date()


def default_text() -> str:
    return resources.files("mappings").joinpath("default.toml").read_text(encoding="utf-8")


def lost(
    days_ago: int,
    stage: str | None = "Proposal/Price Quote",
    reason: str | None = "Price",
    deal_id: str = "006000000000001AAA",
    **extra: object,
) -> DealFacts:
    """A deal lost `days_ago` days before TODAY."""
    return DealFacts(
        deal_id=deal_id,
        state="lost",
        stage_at_loss=stage,
        loss_reason=reason,
        lost_on=date.fromordinal(TODAY.toordinal() - days_ago),
        **extra,  # type: ignore[arg-type]
    )


def person(
    key: str = "alice@example.com",
    deals: tuple[DealFacts, ...] = (),
    opted_out: bool = False,
    **values: object,
) -> PersonFacts:
    """A person; keyword `hubspot__x` becomes the value "hubspot.x" (dots are not valid in keywords)."""
    return PersonFacts(
        key=key,
        values={k.replace("__", "."): v for k, v in values.items()},
        opted_out=opted_out,
        deals=deals,
    )


def line_of(text: str, snippet: str, occurrence: int = 1) -> int:
    """1-based line of the `occurrence`-th line containing `snippet` (fails loudly when absent)."""
    found = [i for i, line in enumerate(text.splitlines(), 1) if snippet in line]
    assert len(found) >= occurrence, f"{snippet!r} not found {occurrence} time(s)"
    return found[occurrence - 1]
