"""The engine: one person's facts + a compiled mapping + `now` -> an Assignment. Pure, never raises
on a person's data (a value a rule cannot read makes the rule not fire, and the explanation says so).

    assign(person, mapping, now) -> Assignment
    assign_many(people, mapping, now) -> Iterator[Assignment]
    explain(assignment) -> list[str]                                  (mappings.render)
    field_value(assignment, from_name, mapping=None, system=None)     (mappings.render)

Order of work: score (behaviour with per-kind decay, then fit, clamped to 0..score_max), rank,
email opt-out, shared stage from the systems' native values (furthest along `stages.order` wins;
unknown values go to review), the MQL lift, the recycle group (mappings.recycle), the stage
`recycle` for the high/low/waiting groups, the nurture list, and the call task.

Decide first, explain when asked: `assign` only decides. The assignment's `reasons` are put in words
when first read (the same decision again, with `_assign(..., why=True)`: one code path), and the call
task's subject and description when first read; `assign(..., explained=True)` builds the reasons at
once. Most people's explanation is never read in a run, and most people get no task.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import fields
from datetime import UTC, date, datetime

from mappings import recycle as _recycle
from mappings.coerce import EpochDate, to_band_number, to_bool, to_count, to_epoch, to_text
from mappings.compiled import Mapping
from mappings.facts import ASSIGNMENT_REASONS_SLOT, Assignment, Deferred, PersonFacts, Reason
from mappings.render import explain, field_value

__all__ = ["RECYCLED_GROUPS", "assign", "assign_many", "explain", "field_value"]

RECYCLED_GROUPS = frozenset({"high", "low", "waiting"})  # these groups get the shared stage `recycle`
_MISSING = object()
_new_reason = tuple.__new__
_new = object.__new__
# (for `reasons`, the slot itself rather than its property: it may hold a Deferred)
_SET = tuple((ASSIGNMENT_REASONS_SLOT if f.name == "reasons" else getattr(Assignment, f.name)).__set__
             for f in fields(Assignment))


def _make_assignment(
    key: str,
    stage: str,
    score: int,
    rank: str,
    group: str | None,
    nurture: str | None,
    task: object,
    version: int,
    deal_id: str | None,
    reasons: tuple[Reason, ...],
    review: tuple[str, ...],
) -> Assignment:
    """Assignment(...) without the frozen-dataclass __init__, which sets each field through
    object.__setattr__ and is about twice as slow. test_mappings_engine_recycle.py checks that the
    result equals the normal constructor's (and that the field count still matches)."""
    a = _new(Assignment)
    s = _SET
    s[0](a, key)
    s[1](a, stage)
    s[2](a, score)
    s[3](a, rank)
    s[4](a, group)
    s[5](a, nurture)
    s[6](a, task)
    s[7](a, version)
    s[8](a, deal_id)
    s[9](a, reasons)
    s[10](a, review)
    return a


def assign(person: PersonFacts, mapping: Mapping, now: datetime, *, explained: bool = False) -> Assignment:
    """The assignment of one person at `now` (a naive `now` is taken as UTC).

    Its `reasons` (and its call task's text) are put in words when first read, unless `explained`
    builds them now; either way they are the same."""
    at = _utc(now)
    return _assign(person, mapping, at.timestamp(), at.date(), explained)


def assign_many(people: Iterable[PersonFacts], mapping: Mapping, now: datetime) -> Iterator[Assignment]:
    """`assign` for many people at one `now`."""
    at = _utc(now)
    now_ts = at.timestamp()
    today = at.date()
    for person in people:
        yield _assign(person, mapping, now_ts, today)


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


# Explanation templates (formatted only when the text is read: see facts.Reason).
_T_BAD_COUNT = "{}: cannot read {} = {!r} as a count: no points"
_T_COUNT = "{}: {}{} × {} = {:g} points"
_T_FADED = "{}: {}{} × {} = {:g} points, faded to {:.0f} (last one on {}, half-life {:g} days)"
_T_BAD_NUMBER = "{}: cannot read {} = {!r} as a number: no points"
_T_BAND = "{}: {:g} ≥ {:g} = {:+d} points"
_T_NO_BAND = "{}: {:g} is below every band: no points"
_T_NO_VALUE = "{}: {} = {!r} has no points in the mapping"
_T_VALUE = "{}: {} = {:+d} points"
_T_RANK = "Score {} of at most {}{}: rank {} (rank.{} = {})"
_T_CLAMP = " (clamped from {} to 0..{})"
_T_BAD_OPTOUT = "Cannot read {} = {!r} as true/false: treated as opted out of email"
_T_OPTOUT = "Opted out of email ({} = {})"
_T_UNKNOWN_NATIVE = '{} = "{}" is not in [stages]: ignored and sent for review'
_T_STAGE = 'Stage {} from {} = "{}"'
_T_NO_STAGE = "No known stage in the systems: stage inquiry"
_T_MQL = "Score {} ≥ stages.mql_score = {}: inquiry lifted to mql"
_T_RECYCLED = "Stage recycle: the person is in recycle group {}"
_T_NO_LIST = 'No nurture list "{}" in the mapping: on no list'
_T_EMAIL_LIST = (
    'Would go on "{}" for {}, but it is an email list and the person opted out of email: on no list'
)
_T_LIST = 'Nurture list "{}" for {}'
_T_NONE_LIST = "On no nurture list for {}"


def _assign(person: PersonFacts, m: Mapping, now_ts: float, today: date, why: bool = False) -> Assignment:
    """Decide; and when `why`, put every rule that fired in words (`reasons`) as it goes. Without
    `why` the reasons are left to `_reasons_of`, which runs this again with `why` when they are read:
    one code path, so the decision explained is always the decision made."""
    reasons: list[Reason] = []
    review: list[str] = []
    add = reasons.append
    get = person.values.get

    # ---------------------------------------------------------------- score: behaviour
    half_life = m.decay_half_life_days
    behaviour = 0.0
    for _name, label, points, cap, source, last_key, path in m.behaviour:
        raw = get(source)
        if raw is None or raw == "":
            continue
        if type(raw) is str:
            try:
                count: int | None = int(raw)
            except ValueError:
                count = to_count(raw)
            else:
                if count < 0:  # type: ignore[operator]
                    count = None
        else:
            count = to_count(raw)
        if count is None:
            if why:
                add(_new_reason(Reason, (path, 0, (_T_BAD_COUNT, (label, source, raw)))))
            continue
        if count == 0:
            continue
        full = points_now = count * points if count < cap else cap * points
        faded_since = None
        if half_life is not None and last_key is not None:
            last = get(last_key)
            when = to_epoch(last) if last is not None else None
            if when is not None and when < now_ts:
                days = (now_ts - when) / 86400.0
                points_now *= 0.5 ** (days / half_life)
                faded_since = when
        behaviour += points_now
        if why:
            capped = f" (capped at {cap})" if count > cap else ""
            detail: tuple[str, tuple[object, ...]] = (
                (_T_COUNT, (label, count, capped, points, points_now)) if faded_since is None
                else (_T_FADED, (label, count, capped, points, full, points_now, EpochDate(faded_since),
                                 half_life)))
            add(_new_reason(Reason, (path, points_now, detail)))

    # ---------------------------------------------------------------- score: fit
    fit_total = 0
    for _name, label, sources, bands, values, _max, path in m.fit:
        raw = None
        source = ""
        for source in sources:
            raw = get(source)
            if raw is not None and raw != "":
                break
        else:
            continue
        if bands:
            if type(raw) is str:  # HubSpot's text: a whole number is the usual case
                try:
                    number: float | None = int(raw)
                except ValueError:
                    number = to_band_number(raw)
            else:
                number = to_band_number(raw)
            if number is None:
                if why:
                    add(_new_reason(Reason, (path, 0, (_T_BAD_NUMBER, (label, source, raw)))))
                continue
            for minimum, pts in bands:
                if number >= minimum:
                    fit_total += pts
                    if why:
                        add(_new_reason(Reason, (path, pts, (_T_BAND, (label, number, minimum, pts)))))
                    break
            else:
                if why:
                    add(_new_reason(Reason, (path, 0, (_T_NO_BAND, (label, number)))))
        elif values is not None:
            text_value = (raw.strip() or None) if type(raw) is str else to_text(raw)
            value_points = values.get(text_value) if text_value is not None else None
            if value_points is None:
                if why:
                    add(_new_reason(Reason, (path, 0, (_T_NO_VALUE, (label, source, raw)))))
                continue
            fit_total += value_points
            if why:
                add(_new_reason(Reason, (path, value_points, (_T_VALUE, (label, text_value, value_points)))))

    unclamped = int(behaviour + 0.5) + fit_total
    top = m.score_max
    score = 0 if unclamped < 0 else (top if unclamped > top else unclamped)

    # ---------------------------------------------------------------- rank
    rank, threshold = m.ranks[-1]
    for rank, threshold in m.ranks:  # noqa: B007 - the loop variables are the result
        if score >= threshold:
            break
    if why:
        clamp = "" if score == unclamped else _T_CLAMP.format(unclamped, top)
        add(_new_reason(Reason, ("rank", 0, (_T_RANK, (score, top, clamp, rank, rank, threshold)))))

    # ---------------------------------------------------------------- email opt-out
    opted_out = person.opted_out
    if opted_out:
        if why:
            add(_new_reason(Reason, ("optout", 0, "Opted out of email (as reported by the systems)")))
    else:
        for source in m.optout_sources:
            raw = get(source)
            if raw is None:
                continue
            flag = False if raw == "false" else to_bool(raw)  # HubSpot's usual value first
            if flag is None:
                opted_out = True
                if why:
                    add(_new_reason(Reason, ("optout.sources", 0, (_T_BAD_OPTOUT, (source, raw)))))
                break
            if flag:
                opted_out = True
                if why:
                    add(_new_reason(Reason, ("optout.sources", 0, (_T_OPTOUT, (source, raw)))))
                break

    # ---------------------------------------------------------------- shared stage
    best = -1
    stage = "inquiry"
    stage_from: tuple[object, ...] | None = None
    for source, table in m.natives:
        raw = get(source)
        if raw is None:
            continue
        native = raw.strip() if type(raw) is str else to_text(raw)
        if not native:
            continue
        hit = table.get(native)
        if hit is None:
            review.append(f"{source}={native}")
            if why:
                add(_new_reason(Reason, ("stages", 0, (_T_UNKNOWN_NATIVE, (source, native)))))
            continue
        if hit[1] > best:
            best = hit[1]
            stage = hit[0]
            stage_from = (stage, source, native)
    if why:
        add(_new_reason(Reason, ("stages", 0, _T_NO_STAGE if stage_from is None else (_T_STAGE, stage_from))))
    if stage == "inquiry" and score >= m.mql_score:
        stage = "mql"
        if why:
            add(_new_reason(Reason, ("stages.mql_score", 0, (_T_MQL, (score, m.mql_score)))))

    # ---------------------------------------------------------------- recycle group
    if person.deals:
        decision = _recycle.decide(person, m, today, get, reasons if why else None, review)
    else:
        decision = _recycle.NO_DECISION
    group = decision.group
    if group in RECYCLED_GROUPS:
        stage = "recycle"
        if why:
            add(_new_reason(Reason, ("stages", 0, (_T_RECYCLED, (group,)))))

    # ---------------------------------------------------------------- nurture list
    list_key = m.nurture_groups.get(group, _MISSING) if group is not None else _MISSING
    nurture: str | None = rank if list_key is _MISSING else list_key  # type: ignore[assignment]
    if nurture is not None:
        nlist = m.nurture_lists.get(nurture)
        if nlist is None:
            if why:
                add(_new_reason(Reason, ("nurture", 0, (_T_NO_LIST, (nurture,)))))
            nurture = None
        elif nlist.email and opted_out:
            if why:
                add(_new_reason(Reason, ("nurture", 0, (_T_EMAIL_LIST, (nlist.hubspot_list,
                                                                       _list_why(rank, group, list_key))))))
            nurture = None
        elif why:
            add(_new_reason(Reason, ("nurture", 0, (_T_LIST, (nlist.hubspot_list,
                                                             _list_why(rank, group, list_key))))))
    elif why:
        add(_new_reason(Reason, ("nurture", 0, (_T_NONE_LIST, (_list_why(rank, group, list_key),)))))

    # ---------------------------------------------------------------- call task
    task = None
    if group == "high":
        task = _recycle.call_task(person, m, decision, today, get, score, rank)
    deal = decision.deal
    return _make_assignment(
        person.key,
        stage,
        score,
        rank,
        group,
        nurture,
        task,
        m.version,
        deal.deal_id if deal is not None else None,
        _worded(reasons) if why else _new_reason(Deferred, (_reasons_of, person, m, now_ts, today)),
        tuple(review) if review else (),
    )


def _reasons_of(person: PersonFacts, m: Mapping, now_ts: float, today: date) -> tuple[Reason, ...]:
    """The reasons of a decided assignment, when they are read: the same decision again, explained."""
    return _assign(person, m, now_ts, today, True).reasons


def _worded(reasons: list[Reason]) -> tuple[Reason, ...]:
    """The reasons with their texts formatted, once: whoever explains reads them, often more than once
    (the written explanation goes to each system)."""
    return tuple([_new_reason(Reason, (r.rule, r.points, r.text)) for r in reasons])


def _list_why(rank: str, group: str | None, list_key: object) -> str:
    return "rank " + rank if list_key is _MISSING else f"recycle group {group} (nurture.groups)"
