"""Recycle group of one person from their deals, and the call task for the `high` group.

Rules, in order (docs/mapping-file.md explains them for admins):

1. Only lost deals with a lost date count; a lost deal without one is reported for review.
2. The most recent lost deal decides (ties: the larger deal id, so the choice is stable).
3. Lost longer ago than `max_age_days` -> not recycled (day `max_age_days` itself still counts).
4. An open deal, or a won deal closed on or after that loss date -> not recycled (the person is in
   an active sales cycle or a customer again); their stage comes from the systems.
5. Loss reason in `exclude_loss_reasons` (case-insensitive) -> `excluded`.
6. Stage at loss missing from [phases] -> `review` (never guessed; the value is reported).
7. Fewer than `wait_days` days since the loss -> `waiting` (exactly `wait_days` days -> eligible).
8. Phase in `high` -> `high`; in `low` -> `low`, promoted to `high` when a `promote_on` rule's
   last event falls on a later day than the loss date; in neither -> not recycled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import fields
from datetime import date
from typing import NamedTuple

from mappings.coerce import to_epoch
from mappings.compiled import BehaviourRule, Mapping
from mappings.facts import (
    TASK_DESCRIPTION_SLOT,
    TASK_SUBJECT_SLOT,
    DealFacts,
    PersonFacts,
    Reason,
    TaskSpec,
    deferred,
)

_new_reason = tuple.__new__
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class RecycleDecision(NamedTuple):
    group: str | None
    deal: DealFacts | None  # the lost deal the group was decided on
    phase: str | None


NO_DECISION = RecycleDecision(None, None, None)


def decide(
    person: PersonFacts,
    m: Mapping,
    today: date,
    get: Callable[[str], object],
    reasons: list[Reason] | None,
    review: list[str],
) -> RecycleDecision:
    """Apply rules 1-8 above; appends to `review`, and to `reasons` unless it is None (deciding only)."""
    policy = m.recycle
    latest: DealFacts | None = None
    for deal in person.deals:
        if deal.state != "lost":
            continue
        if deal.lost_on is None:
            review.append(f"deal {deal.deal_id}: lost without a lost date")
            if reasons is not None:
                _say(reasons, "Deal {} is lost but has no lost date: ignored, sent for review", deal.deal_id)
            continue
        if latest is None or (deal.lost_on, deal.deal_id) > (latest.lost_on, latest.deal_id):  # type: ignore[operator]
            latest = deal
    if latest is None:
        return NO_DECISION
    lost_on: date = latest.lost_on  # type: ignore[assignment]
    shown = _LostOn(latest) if reasons is not None else None
    age = (today - lost_on).days
    if age > policy.max_age_days:
        if reasons is not None:
            _say(
                reasons,
                "Last lost deal {} was lost on {}, more than recycle.max_age_days = {} days ago: "
                "not recycled",
                _Label(latest),
                shown,
                policy.max_age_days,
            )
        return NO_DECISION
    for deal in person.deals:
        if deal.state == "open":
            if reasons is not None:
                _say(reasons, "Deal {} is open: in an active sales cycle, not recycled", _Label(deal))
            return NO_DECISION
        if deal.state == "won":
            closed = deal.closed_on or deal.lost_on
            if closed is None or closed >= lost_on:
                if reasons is not None:
                    _say(
                        reasons,
                        "Deal {} was won {}, not before the loss of {} on {}: not recycled",
                        _Label(deal),
                        f"on {closed}" if closed else "(date unknown)",
                        _Label(latest),
                        shown,
                    )
                return NO_DECISION
    loss_reason = latest.loss_reason
    if policy.excludes(loss_reason):
        if reasons is not None:
            _say(
                reasons,
                'Deal {} was lost for "{}", which is in recycle.exclude_loss_reasons: group excluded',
                _Label(latest),
                loss_reason.strip(),
            )
        return RecycleDecision("excluded", latest, None)
    stage = (latest.stage_at_loss or "").strip()
    phase = phase_of_stage(m, stage)
    if phase is None:
        review.append(f"salesforce.opportunity_stage={stage or '<unknown>'}")
        if reasons is not None:
            _say(
                reasons,
                "Stage at loss {} of deal {} is not in [phases]: group review (add it to the mapping)",
                f'"{stage}"' if stage else "unknown",
                _Label(latest),
            )
        return RecycleDecision("review", latest, None)
    if age < policy.wait_days:
        if reasons is not None:
            _say(
                reasons,
                "Deal {} was lost on {}; recycle.wait_days = {}, so it waits until {}: "
                "group waiting",
                _Label(latest),
                shown,
                policy.wait_days,
                date.fromordinal(lost_on.toordinal() + policy.wait_days),
            )
        return RecycleDecision("waiting", latest, phase)
    if phase in policy.high:
        if reasons is not None:
            _say(
                reasons,
                'Deal {} was lost at "{}" (phase {}, in recycle.high) on {}: group high',
                _Label(latest),
                stage,
                phase,
                shown,
            )
        return RecycleDecision("high", latest, phase)
    if phase in policy.low:
        after = _day_after(lost_on)
        for rule in policy.promote_events:
            raw = get(rule.last_event) if rule.last_event else None
            when = to_epoch(raw) if raw is not None else None
            if when is not None and when >= after:
                if reasons is not None:
                    _say(
                        reasons,
                        'Deal {} was lost at "{}" (phase {}, in recycle.low) on {}, but {} happened after '
                        "the loss (last on {}, recycle.promote_on): promoted to group high",
                        _Label(latest),
                        stage,
                        phase,
                        shown,
                        rule.label,
                        _utc_date(when),
                    )
                return RecycleDecision("high", latest, phase)
        if reasons is not None:
            _say(
                reasons,
                'Deal {} was lost at "{}" (phase {}, in recycle.low) on {}: group low',
                _Label(latest),
                stage,
                phase,
                shown,
            )
        return RecycleDecision("low", latest, phase)
    if reasons is not None:
        _say(
            reasons,
            "Phase {} of deal {} is in neither recycle.high nor recycle.low: not recycled",
            phase,
            _Label(latest),
        )
    return NO_DECISION


def phase_of_stage(m: Mapping, stage: str | None) -> str | None:
    """The buying phase of an opportunity stage at loss ([phases], the name trimmed), None when unknown
    or not in the mapping."""
    name = (stage or "").strip()
    return m.phases.get(name) if name else None


def call_task(
    person: PersonFacts,
    m: Mapping,
    decision: RecycleDecision,
    today: date,
    get: Callable[[str], object],
    score: int,
    rank: str,
) -> TaskSpec | None:
    """The call task for a `high` decision (None otherwise). Its subject and description are filled
    in when first read (most high people already have their task: the sync layer creates none)."""
    deal = decision.deal
    if decision.group != "high" or deal is None or deal.lost_on is None:
        return None
    template = m.recycle.call_task
    key = cycle_key(person.key, deal.deal_id, deal.lost_on)
    former = (cycle_key(person.key, deal.deal_id, deal.close_date)
              if deal.close_date is not None and deal.close_date != deal.lost_on else None)
    fill = _TaskWords(person, m, deal, decision.phase, today, get, score, rank).fill
    task = _new(TaskSpec)
    s = _TASK_SET
    s[0](task, key)
    s[1](task, deal.deal_id)
    s[2](task, deal.owner_id)
    s[3](task, deferred(fill, template.subject_format))
    s[4](task, deferred(fill, template.description_format))
    s[5](task, date.fromordinal(today.toordinal() + template.due_days))
    s[6](task, former)
    s[7](task, deal.lost_on)
    return task


# TaskSpec(...) without the frozen dataclass __init__ (see engine._make_assignment): its slots set
# directly, subject and description in theirs (they hold a Deferred until read).
_new = object.__new__
_TASK_SLOTS = {"subject": TASK_SUBJECT_SLOT, "description": TASK_DESCRIPTION_SLOT}
_TASK_SET = tuple(_TASK_SLOTS.get(f.name, getattr(TaskSpec, f.name)).__set__ for f in fields(TaskSpec))


class _TaskWords:
    """What a call task's templates are filled with, worked out once when its text is first read."""

    __slots__ = ("person", "m", "deal", "phase", "today", "get", "score", "rank", "values")

    def __init__(self, person: PersonFacts, m: Mapping, deal: DealFacts, phase: str | None, today: date,
                 get: Callable[[str], object], score: int, rank: str) -> None:
        self.person, self.m, self.deal, self.phase, self.today = person, m, deal, phase, today
        self.get, self.score, self.rank = get, score, rank
        self.values: dict[str, str] | None = None

    def fill(self, percent_format: str) -> str:
        if self.values is None:
            self.values = task_values(self.person, self.m, self.deal, self.phase, self.today, self.get,
                                      self.score, self.rank)
        return _fill(percent_format, self.values)


def task_values(person: PersonFacts, m: Mapping, deal: DealFacts, phase: str | None, today: date,
                get: Callable[[str], object], score: int, rank: str) -> dict[str, str]:
    """The placeholders of the call task's subject and description (docs/mapping-file.md)."""
    lost_on: date = deal.lost_on  # type: ignore[assignment]
    return {
        "person": person.key,
        "deal_id": deal.deal_id,
        "deal_name": deal.name or deal.deal_id,
        "stage_at_loss": deal.stage_at_loss or "unknown",
        "phase": phase or "unknown",
        "loss_reason": (deal.loss_reason or "").strip() or "not given",
        "lost_on": lost_on.isoformat(),
        "days_since_loss": str((today - lost_on).days),
        "amount": f"{deal.amount:,.0f}" if deal.amount is not None else "unknown",
        "owner_id": deal.owner_id or "unknown",
        "engagement_since_loss": engagement_since(m, lost_on, get) or "none",
        "score": str(score),
        "rank": rank,
    }


def cycle_key(person_key: str, deal_id: str, lost_on: date) -> str:
    """Stable across runs for one person, deal and loss: `<deal id>:<lost date>:<16 hex of the person>`.

    The person key is hashed so the key has a bounded length (at most 18 + 1 + 10 + 1 + 16 characters
    for a Salesforce id) and carries no email address into the Task field.
    """
    digest = hashlib.sha256(person_key.encode("utf-8")).hexdigest()[:16]
    return f"{deal_id}:{lost_on.isoformat()}:{digest}"


def engagement_since(m: Mapping, lost_on: date, get: Callable[[str], object]) -> str:
    """Behaviour kinds whose last event is on a later day than the loss.

    E.g. "email clicks (last 2026-05-01), downloads and form submissions (last 2026-05-03)".
    """
    return ", ".join(f"{rule.label} (last {_utc_date(when).isoformat()})"
                     for rule, when in _events_after(m, lost_on, get))


def last_engagement_since(m: Mapping, lost_on: date, get: Callable[[str], object]) -> date | None:
    """The day of the latest behaviour event on a later day than the loss (the person re-engaged),
    None when there is none: the test of `engagement_since`, as one date."""
    whens = [when for _, when in _events_after(m, lost_on, get)]
    return _utc_date(max(whens)) if whens else None


def _events_after(m: Mapping, lost_on: date,
                  get: Callable[[str], object]) -> list[tuple[BehaviourRule, float]]:
    after = _day_after(lost_on)
    out = []
    for rule in m.behaviour:
        if rule.last_event:
            raw = get(rule.last_event)
            when = to_epoch(raw) if raw is not None else None
            if when is not None and when >= after:
                out.append((rule, when))
    return out


def _day_after(day: date) -> float:
    """Epoch seconds of the start (00:00 UTC) of the day after `day`."""
    return (day.toordinal() + 1 - _EPOCH_ORDINAL) * 86400.0


def _utc_date(epoch: float) -> date:
    return date.fromordinal(int(epoch // 86400) + _EPOCH_ORDINAL)


def _fill(percent_format: str, values: dict[str, str]) -> str:
    try:
        return percent_format % values
    except (KeyError, ValueError, TypeError):  # a template the loader did not check
        return percent_format


_SOURCES = {"history": "entered closed-lost, from stage history",
            "close_date": "CloseDate: no stage history"}


class _LostOn:
    """A deal's lost date as explanations show it: the date, and how it was found when known."""

    __slots__ = ("deal",)

    def __init__(self, deal: DealFacts) -> None:
        self.deal = deal

    def __format__(self, spec: str) -> str:
        source = _SOURCES.get(self.deal.lost_on_source or "")
        return f"{self.deal.lost_on} ({source})" if source else str(self.deal.lost_on)


class _Label:
    """A deal as explanations name it, formatted only when the text is read."""

    __slots__ = ("deal",)

    def __init__(self, deal: DealFacts) -> None:
        self.deal = deal

    def __format__(self, spec: str) -> str:
        return _deal_label(self.deal)


def _deal_label(deal: DealFacts) -> str:
    return f'"{deal.name}" ({deal.deal_id})' if deal.name else deal.deal_id


def _say(reasons: list[Reason], template: str, *args: object) -> None:
    reasons.append(_new_reason(Reason, ("recycle", 0, (template, args))))
