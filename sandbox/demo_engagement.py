"""A person's HubSpot side in the demo book: lifecycle, lead status, inquiry type and engagement.

Engagement is mostly cold, some warm, a few hot; the last dates follow the temperature (hot people were
active in the last month, cold ones long ago), never before the contact existed and never after `now`.
Some people who lost a deal engage again after the loss (the signal leadsync's recycling looks for).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sandbox.demo_data import DemoEngagement, DemoHubSpotContact, Outcome, Temperature
from sandbox.demo_pools import (
    INQUIRY_TYPES,
    LEAD_STATUSES_LOST,
    LEAD_STATUSES_OPEN,
    FastRandom,
    Weighted,
)

if TYPE_CHECKING:
    from sandbox.demo_generator import _Generator

DAY = 86_400

_TEMPERATURES: Weighted[Temperature] = Weighted.of((("cold", 65), ("warm", 23), ("hot", 12)))
_NO_DEAL_STAGES = Weighted.of((("subscriber", 25), ("lead", 45), ("marketingqualifiedlead", 20),
                               ("salesqualifiedlead", 10)))
_LOST_STAGES = Weighted.of((("salesqualifiedlead", 45), ("opportunity", 35), ("lead", 20)))
_INQUIRY_TYPES = Weighted.of(INQUIRY_TYPES)
_PERSONAL_DOMAINS = ("mail.example.com", "example.net", "example.org")


def at(seconds: int) -> datetime:
    """The UTC instant `seconds` after the epoch."""
    return datetime.fromtimestamp(seconds, UTC)



def hubspot_contact(gen: _Generator, draft: dict, email: str, sf_created: int,
                    deals: list[tuple[Outcome, int, int]]) -> tuple[DemoHubSpotContact, int]:
    """The HubSpot contact of one person and when it was created (epoch seconds). `draft` is the
    generator's working record; `deals` are (outcome, start, end) of the person's opportunities."""
    rng, now, pos = gen.rng, gen.now, draft["pos"]
    created = min(now - 3600, sf_created + rng.randint(-120 * DAY, 30 * DAY))
    outcomes = {outcome for outcome, _, _ in deals}
    losses = [end for outcome, _, end in deals if outcome == "lost"]
    last_loss = max(losses) if losses else None

    if "won" in outcomes:
        stage, status = "customer", "CONNECTED"
    elif "open" in outcomes:
        stage, status = "opportunity", "OPEN_DEAL"
    elif last_loss:
        stage, status = rng.weighted(_LOST_STAGES), rng.choice(LEAD_STATUSES_LOST)
    else:
        stage = rng.weighted(_NO_DEAL_STAGES)
        status = rng.choice(LEAD_STATUSES_OPEN) if rng.random() < 0.85 else None
    inquiry = rng.weighted(_INQUIRY_TYPES) if rng.random() < 0.9 else None

    temperature = rng.weighted(_TEMPERATURES)
    after_loss = last_loss is not None and gen.chance("engagement_after_loss", 0.25, pos, after=0)
    if after_loss and temperature == "cold":
        temperature = "warm"
    engagement, last_seen = _engagement(rng, temperature, created, now, inquiry is not None,
                                        after=last_loss if after_loss else None,
                                        until=None if after_loss else last_loss)

    opted_out = (rng.random() < 0.5 if draft["sf_opt_out"]
                 else gen.chance("hs_opt_out", 0.05, pos, after=11))
    archived_at = merged_at = dup_created = dup_email = None
    if gen.chance("archived", 0.02, pos, after=13):
        archived_at = at(rng.randint(last_seen, now))
    elif gen.chance("merged", 0.02, pos, after=15):
        dup_email = f"{draft['ascii']}{pos}@{rng.choice(_PERSONAL_DOMAINS)}"
        dup = rng.randint(created, now)
        dup_created, merged_at = at(dup), at(rng.randint(max(dup, last_seen), now))
    contact = DemoHubSpotContact(
        email=email.lower(), created_at=at(created), lifecyclestage=stage, lead_status=status,
        inquiry_type=inquiry, engagement=engagement, opted_out=opted_out, archived_at=archived_at,
        duplicate_email=dup_email, duplicate_created_at=dup_created, merged_at=merged_at,
    )
    return contact, created


def _engagement(rng: FastRandom, temperature: Temperature, created: int, now: int, converted: bool, *,
                after: int | None, until: int | None) -> tuple[DemoEngagement, int]:
    """Counts and last dates, and the last activity (epoch seconds; `created` if none).
    `after`: the last activity falls after this instant (a loss the person re-engaged after);
    `until`: it falls before it where the contact existed by then (a loss that went cold)."""
    r = rng.randint
    if temperature == "hot":
        delivered, opens, clicks, views, extra = r(15, 80), r(5, 30), r(2, 12), r(6, 60), r(1, 4)
        anchor = now - r(0, 31 * DAY - 1)
    elif temperature == "warm":
        delivered, opens, clicks, views, extra = r(5, 40), r(1, 6), r(0, 2), r(1, 12), r(0, 1)
        anchor = now - r(0, 181 * DAY - 1)
    else:
        delivered, opens, clicks, views, extra = r(0, 12), int(rng.random() < 0.3), 0, r(0, 2), 0
        anchor = now - r(60 * DAY, 1001 * DAY - 1)
    opens = min(opens, delivered)
    clicks = min(clicks, opens)  # a click is in an opened email
    conversions = extra + int(converted)
    floor = created + 300
    if after is not None:
        span = now - after
        anchor = after + r(span // 20, span)
    elif until is not None and anchor > until and until > floor:
        anchor = r(max(floor, until - 180 * DAY), until)
    if anchor < floor:
        anchor = r(floor, now)
    anchor = min(anchor, now)

    def before(limit_days: int) -> int:
        return max(floor, anchor - r(0, limit_days * DAY))

    last_open = anchor if opens else None
    last_click = before(3) if clicks else None
    last_visit = (anchor if not opens else before(10)) if views else None
    if conversions and temperature == "cold":
        last_conversion: int | None = created + 60  # the form that created them
    elif conversions:
        last_conversion = before(30)
    else:
        last_conversion = None
    dates = [d for d in (last_open, last_click, last_visit, last_conversion) if d is not None]
    engagement = DemoEngagement(
        temperature=temperature, delivered=delivered, opens=opens, clicks=clicks, page_views=views,
        conversions=conversions, last_open=_at(last_open), last_click=_at(last_click),
        last_visit=_at(last_visit), last_conversion=_at(last_conversion))
    return engagement, max(dates) if dates else created


def _at(seconds: int | None) -> datetime | None:
    return None if seconds is None else at(seconds)
