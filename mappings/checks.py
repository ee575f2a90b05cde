"""Rules that relate the keys of a mapping file to each other (run after the pydantic shape check).

Each check takes the sections that passed the shape check (a section that failed is None and the
checks that need it are skipped; its shape errors are reported instead) and yields
`(key path, message)` pairs, so that one run reports every problem at once.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator

from mappings.facts import RANKS, STAGES
from mappings.locate import PathKey
from mappings.model import CallTask, Fields, Nurture, Rank, Recycle, Score, Stages

Problem = tuple[PathKey, str]

TEMPLATE_FIELDS: tuple[str, ...] = (
    "person",
    "deal_id",
    "deal_name",
    "stage_at_loss",
    "phase",
    "loss_reason",
    "lost_on",
    "days_since_loss",
    "amount",
    "owner_id",
    "engagement_since_loss",
    "score",
    "rank",
)


def check_stages(stages: Stages) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, stage in enumerate(stages.order):
        if stage in seen:
            yield ("stages", "order", i), f'stage "{stage}" is listed twice'
        seen.add(stage)
    missing = [s for s in STAGES if s not in seen]
    if missing:
        yield (
            ("stages", "order"),
            (
                f"missing stage(s) {', '.join(missing)} (order must list every shared stage once: "
                f"{', '.join(STAGES)})"
            ),
        )


def check_score(score: Score) -> Iterator[Problem]:
    for name, rule in score.fit.items():
        path: PathKey = ("score", "fit", name)
        if (rule.bands is None) == (rule.values is None):
            yield path, "a fit rule needs exactly one of `bands` (numbers) or `values` (text)"
        for i in range(1, len(rule.bands or ())):
            bands = rule.bands or []
            if bands[i].min >= bands[i - 1].min:
                yield (
                    (*path, "bands", i, "min"),
                    (
                        f"bands must be ordered by min, highest first ({bands[i].min:g} comes after "
                        f"{bands[i - 1].min:g})"
                    ),
                )


def check_rank(rank: Rank) -> Iterator[Problem]:
    if not rank.hot > rank.warm:
        yield (
            ("rank", "warm"),
            (
                f"rank thresholds must be ordered hot > warm > cold (warm = {rank.warm} is not below "
                f"hot = {rank.hot})"
            ),
        )
    if not rank.warm > rank.cold:
        yield (
            ("rank", "cold"),
            (
                f"rank thresholds must be ordered hot > warm > cold (cold = {rank.cold} is not below "
                f"warm = {rank.warm})"
            ),
        )
    if rank.cold != 0:
        yield ("rank", "cold"), f"cold must be 0 so that every score has a rank (got {rank.cold})"


def check_recycle(recycle: Recycle) -> Iterator[Problem]:
    high = set(recycle.high)
    for i, phase in enumerate(recycle.low):
        if phase in high:
            yield ("recycle", "low", i), f'phase "{phase}" is in both high and low'
    if recycle.wait_days > recycle.max_age_days:
        yield (
            ("recycle", "wait_days"),
            (f"wait_days ({recycle.wait_days}) must not exceed max_age_days ({recycle.max_age_days})"),
        )
    yield from check_template(recycle.call_task, "subject")
    yield from check_template(recycle.call_task, "description")


def check_template(task: CallTask, key: str) -> Iterator[Problem]:
    path: PathKey = ("recycle", "call_task", key)
    text = getattr(task, key)
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        yield path, f"bad template: {exc} (write {{{{ and }}}} for literal braces)"
        return
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS:
            yield path, f'unknown placeholder "{{{name}}}" (known: {", ".join(TEMPLATE_FIELDS)})'
        elif spec or conversion:
            yield path, f'placeholder "{{{name}}}" takes no format spec or conversion'


def check_nurture(nurture: Nurture) -> Iterator[Problem]:
    for rank in RANKS:
        if rank not in nurture.lists:
            yield (
                ("nurture", "lists"),
                (
                    f'no list for rank "{rank}" (every rank needs a [nurture.lists.{rank}] with '
                    "salesforce_campaign, hubspot_list and email)"
                ),
            )
    for system_key in ("salesforce_campaign", "hubspot_list"):
        owner: dict[str, str] = {}
        for key, nlist in nurture.lists.items():
            name = getattr(nlist, system_key)
            if name in owner:
                yield (
                    ("nurture", "lists", key, system_key),
                    (f'list name "{name}" is already used by list "{owner[name]}"'),
                )
            owner.setdefault(name, key)
    for group, key in nurture.groups.items():
        if key and key not in nurture.lists:
            yield (
                ("nurture", "groups", group),
                (f'unknown list "{key}" (known: {", ".join(nurture.lists)}; "" for no list)'),
            )


# API names as each system allows them (they go into queries and URLs, so nothing else may pass)
_NAMES = {
    "salesforce": (re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z"), "letters, digits and underscores, starting "
                   "with a letter (an API name such as Lead_Stage__c)"),
    "hubspot": (re.compile(r"[a-z][a-z0-9_]*\Z"), "lower-case letters, digits and underscores, starting "
                "with a letter (an internal property name such as leadsync_stage)"),
}


_OBJECT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def check_fields(fields: Fields) -> Iterator[Problem]:
    for system in ("salesforce", "hubspot"):
        objects: dict[str, dict[str, object]] = getattr(fields, system)
        pattern, rule = _NAMES[system]
        for obj, mapping in objects.items():
            if not _OBJECT.match(obj):
                yield (("fields", system, obj), f'"{obj}" is not an object name: expected letters, digits '
                       "and underscores, starting with a letter (Contact, contacts)")
            first: dict[str, str] = {}
            for name in mapping:
                if not pattern.match(name):
                    yield (("fields", system, obj, name), f'"{name}" is not a field name: expected {rule}')
                    continue
                folded = name.casefold()  # both systems treat field names case-insensitively
                if folded in first:
                    yield (
                        ("fields", system, obj, name),
                        (
                            f'field "{name}" is mapped twice (field names are case-insensitive: '
                            f'"{first[folded]}" is the same field)'
                        ),
                    )
                first.setdefault(folded, name)


def check_cross(
    score: Score | None, stages: Stages | None, rank: Rank | None, recycle: Recycle | None, score_max: int
) -> Iterator[Problem]:
    """Checks between sections; `score_max` is the compiled maximum score (0 when score is invalid)."""
    if score is not None and recycle is not None:
        known = ", ".join(score.behaviour)
        for i, name in enumerate(recycle.promote_on):
            rule = score.behaviour.get(name)
            if rule is None:
                yield ("recycle", "promote_on", i), f'unknown behaviour rule "{name}" (known: {known})'
            elif rule.last_event is None:
                yield (
                    ("recycle", "promote_on", i),
                    (f'behaviour rule "{name}" has no last_event, so engagement after a loss cannot be seen'),
                )
    if score is None:
        return
    if stages is not None and stages.mql_score > score_max:
        yield (
            ("stages", "mql_score"),
            (f"mql_score {stages.mql_score} can never be reached (the maximum score is {score_max})"),
        )
    if rank is not None:
        for name in ("hot", "warm"):
            if getattr(rank, name) > score_max:
                yield (
                    ("rank", name),
                    (
                        f"{name} = {getattr(rank, name)} can never be reached "
                        f"(the maximum score is {score_max})"
                    ),
                )
