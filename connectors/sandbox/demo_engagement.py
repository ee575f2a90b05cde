"""A person's HubSpot side in the demo book: lifecycle, lead status, inquiry type and engagement.

Engagement is mostly cold, some warm, a few hot; the last dates follow the temperature (hot people were
active in the last month, cold ones long ago), never before the contact existed and never after `now`.
Some people who lost a deal engage again after the loss (the signal leadsync's recycling looks for).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from connectors.sandbox.demo_data import DemoEngagement, DemoHubSpotContact, DemoOpportunity, Temperature
from connectors.sandbox.demo_pools import (
    INQUIRY_TYPES,
    LEAD_STATUSES_LOST,
    LEAD_STATUSES_OPEN,
    FastRandom,
    Weighted,
    slug,
)

if TYPE_CHECKING:
    from connectors.sandbox.demo_generator import _Generator

_TEMPERATURES: Weighted[Temperature] = Weighted.of((("cold", 65), ("warm", 23), ("hot", 12)))
_NO_DEAL_STAGES = Weighted.of((("subscriber", 25), ("lead", 45), ("marketingqualifiedlead", 20),
                               ("salesqualifiedlead", 10)))
_LOST_STAGES = Weighted.of((("salesqualifiedlead", 45), ("opportunity", 35), ("lead", 20)))
_INQUIRY_TYPES = Weighted.of(INQUIRY_TYPES)
_PERSONAL_DOMAINS = ("mail.example.com", "example.net", "example.org")


def _between(rng: FastRandom, start: datetime, end: datetime) -> datetime:
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randint(0, span)) if span > 0 else start


def hubspot_contact(gen: _Generator, draft: dict, email: str, sf_created: datetime,
                    opps: list[DemoOpportunity]) -> DemoHubSpotContact:
    """The HubSpot contact of one person (`draft` is the generator's working record)."""
    rng, now, pos = gen.rng, gen.now, draft["pos"]
    created = min(now - timedelta(hours=1), sf_created + timedelta(days=rng.randint(-120, 30)))
    outcomes = {o.outcome for o in opps}
    losses = [o.closed_at for o in opps if o.outcome == "lost" and o.closed_at]
    last_loss = max(losses) if losses else None

    if "won" in outcomes:
        stage, status = "customer", "CONNECTED"
    elif "open" in outcomes:
        stage, status = "opportunity", "OPEN_DEAL"
    elif last_loss:
        stage = rng.weighted(_LOST_STAGES)
        status = rng.choice(LEAD_STATUSES_LOST)
    else:
        stage = rng.weighted(_NO_DEAL_STAGES)
        status = rng.choice(LEAD_STATUSES_OPEN) if rng.random() < 0.85 else None
    inquiry = rng.weighted(_INQUIRY_TYPES) if rng.random() < 0.9 else None

    temperature = rng.weighted(_TEMPERATURES)
    after_loss = last_loss is not None and gen.chance("engagement_after_loss", 0.25, pos, after=0)
    if after_loss and temperature == "cold":
        temperature = "warm"
    engagement = _engagement(rng, temperature, created, now, last_loss if after_loss else None,
                             inquiry is not None)

    opted_out = (rng.random() < 0.5 if draft["sf_opt_out"]
                 else gen.chance("hs_opt_out", 0.05, pos, after=11))
    last_seen = max(created, engagement.last_activity or created)
    archived_at = merged_at = dup_created = dup_email = None
    if gen.chance("archived", 0.02, pos, after=13):
        archived_at = _between(rng, last_seen, now)
    elif gen.chance("merged", 0.02, pos, after=15):
        local = f"{slug(draft['f_rom']).replace('-', '')}.{slug(draft['l_rom']).replace('-', '')}"
        dup_email = f"{local}{pos}@{rng.choice(_PERSONAL_DOMAINS)}"
        dup_created = _between(rng, created, now)
        merged_at = _between(rng, max(dup_created, last_seen), now)
    return DemoHubSpotContact(
        email=email.lower(), created_at=created, lifecyclestage=stage, lead_status=status,
        inquiry_type=inquiry, engagement=engagement, opted_out=opted_out, archived_at=archived_at,
        duplicate_email=dup_email, duplicate_created_at=dup_created, merged_at=merged_at,
    )


def _engagement(rng: FastRandom, temperature: Temperature, created: datetime, now: datetime,
                after: datetime | None, converted: bool) -> DemoEngagement:
    """Counts and last dates. `after`: the last activity must fall after this instant (the loss)."""
    r = rng.randint
    if temperature == "hot":
        delivered, opens, clicks, views, extra = r(15, 80), r(5, 30), r(2, 12), r(6, 60), r(1, 4)
        anchor = now - timedelta(days=r(0, 30), seconds=r(0, 86399))
    elif temperature == "warm":
        delivered, opens, clicks, views, extra = r(5, 40), r(1, 6), r(0, 2), r(1, 12), r(0, 1)
        anchor = now - timedelta(days=r(0, 180), seconds=r(0, 86399))
    else:
        delivered, opens, clicks, views, extra = r(0, 12), int(rng.random() < 0.3), 0, r(0, 2), 0
        anchor = now - timedelta(days=r(60, 1000), seconds=r(0, 86399))
    opens = min(opens, delivered)
    clicks = min(clicks, opens)  # a click is in an opened email
    conversions = extra + int(converted)
    floor = created + timedelta(minutes=5)
    if after is not None:
        span = int((now - after).total_seconds())
        anchor = after + timedelta(seconds=rng.randint(span // 20, span))
    if anchor < floor:
        anchor = _between(rng, floor, now)
    anchor = min(anchor, now)

    def before(limit_days: int) -> datetime:
        return max(floor, anchor - timedelta(seconds=rng.randint(0, limit_days * 86400)))

    last_open = anchor if opens else None
    last_click = before(3) if clicks else None
    last_visit = (anchor if not opens else before(10)) if views else None
    if conversions and temperature == "cold":
        last_conversion: datetime | None = created + timedelta(minutes=1)  # the form that created them
    elif conversions:
        last_conversion = before(30)
    else:
        last_conversion = None
    return DemoEngagement(temperature=temperature, delivered=delivered, opens=opens, clicks=clicks,
                          page_views=views, conversions=conversions, last_open=last_open,
                          last_click=last_click, last_visit=last_visit, last_conversion=last_conversion)
