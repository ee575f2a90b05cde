"""Seeded people for the explanation tests: every engine path the default mapping has (scores with
decay, fit bands and values, bad values, opt-outs, native stages known and unknown, deals lost, won,
open, without a lost date, with a CloseDate-based former key) so the texts cover every template."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import date, timedelta

from mappings import Mapping
from mappings.engine import assign
from mappings.facts import Assignment, DealFacts, PersonFacts
from mappings.render import explain, field_value
from tests.mappings.mapping_helpers import NOW, TODAY

STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
          "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Legacy Stage", "", None]
REASONS = ["Price", "予算不足", "Competitor", " spam ", "Timing", "No Decision", "Duplicate", "", None]
JUNK = ["", " ", "n/a", "-3", "1e3", "12.5", "true", "yes", "0", "１２", None, 7, 3.5, True, False,
        "2026-13-01"]


def _maybe(rng: random.Random, value: object, junk: float = 0.08) -> object:
    return rng.choice(JUNK) if rng.random() < junk else value


def _day(rng: random.Random, span: int) -> date:
    return TODAY - timedelta(days=rng.randint(-5, span))


def corpus_people(count: int, seed: int = 12) -> Iterator[PersonFacts]:
    rng = random.Random(seed)
    for n in range(count):
        values: dict[str, object] = {}
        for prop, top in (("hs_email_open", 15), ("hs_email_click", 6), ("num_conversion_events", 4),
                          ("hs_analytics_num_page_views", 60)):
            if rng.random() < 0.85:
                values[f"hubspot.{prop}"] = _maybe(rng, str(rng.randint(0, top)))
        for prop in ("hs_email_last_open_date", "hs_email_last_click_date", "recent_conversion_date",
                     "hs_analytics_last_visit_timestamp"):
            if rng.random() < 0.5:
                when = NOW - timedelta(days=rng.randint(-3, 500), seconds=rng.randint(0, 86399))
                form = rng.random()
                text = (when.strftime("%Y-%m-%dT%H:%M:%S.000Z") if form < 0.4
                        else str(int(when.timestamp() * 1000)) if form < 0.8 else when.date().isoformat())
                values[f"hubspot.{prop}"] = _maybe(rng, text)
        values["hubspot.lifecyclestage"] = _maybe(rng, rng.choice(
            ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer",
             "evangelist", "", " lead "]))
        if rng.random() < 0.4:
            values["hubspot.hs_lead_status"] = _maybe(rng, rng.choice(
                ["NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING", "WEIRD"]))
        if rng.random() < 0.7:
            values["hubspot.hs_email_optout"] = _maybe(rng, rng.choice(["false", "false", "true", ""]))
        if rng.random() < 0.6:
            sizes = ["5", "50", "250", "1200", "8000", "1000+", "100-500", "2-10"]
            values["hubspot.numemployees"] = _maybe(rng, rng.choice(sizes))
        if rng.random() < 0.6:
            values["hubspot.inquiry_type"] = _maybe(rng, rng.choice(
                ["demo_request", "pricing", "whitepaper", "newsletter", "contact_us", "other"]))
        if rng.random() < 0.3:
            values["salesforce.Account.NumberOfEmployees"] = _maybe(rng, rng.choice((20, 300, 5000, None)))
        if rng.random() < 0.3:
            values["salesforce.Contact.HasOptedOutOfEmail"] = _maybe(rng, rng.choice((True, False)))
        if rng.random() < 0.15:
            values["salesforce.Lead.Status"] = rng.choice(["Open", "Working", "Nurturing", "Closed", "??"])
        deals: list[DealFacts] = []
        for k in range(rng.choice((0, 0, 1, 1, 1, 2, 3))):
            lost_on = _day(rng, 900) if rng.random() < 0.95 else None
            source = rng.choice(("history", "close_date", None))
            close = (lost_on - timedelta(days=rng.randint(0, 30))) if lost_on and rng.random() < 0.3 else None
            deals.append(DealFacts(
                deal_id=f"006{n:09d}{k}AAA",
                state=rng.choice(("lost",) * 8 + ("won", "open")),
                stage_at_loss=rng.choice(STAGES),
                loss_reason=rng.choice(REASONS),
                lost_on=lost_on,
                amount=rng.choice((None, float(rng.randint(1, 500) * 10_000), 1234.5)),
                owner_id=rng.choice((None, "005000000000001AAA")),
                name=rng.choice((None, f"Deal {n}-{k}", "", "大型案件")),
                closed_on=_day(rng, 900) if rng.random() < 0.5 else None,
                lost_on_source=source,
                close_date=close,
            ))
        yield PersonFacts(key=f"person{n}@example.com", values=values, opted_out=rng.random() < 0.05,
                          deals=tuple(deals))


def rendered(a: Assignment, mapping: Mapping) -> str:
    """Everything the engine puts in words for one assignment, in one text."""
    parts = [*explain(a), "--", str(field_value(a, "explanation", mapping, "salesforce")), "--",
             repr([(r.rule, r.points) for r in a.reasons]), repr(a.review)]
    if a.task is not None:
        t = a.task
        parts += [t.cycle_key, t.deal_id, str(t.owner_id), t.subject, t.description, str(t.due_on),
                  str(t.former_cycle_key), str(t.lost_on)]
    return "\n".join(parts)


def corpus_digest(mapping: Mapping, count: int) -> str:
    digest = hashlib.sha256()
    for facts in corpus_people(count):
        digest.update(rendered(assign(facts, mapping, NOW), mapping).encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()
