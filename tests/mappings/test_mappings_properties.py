"""Property tests: for any valid mapping and any person, the engine never raises, the score stays in
0..max, more engagement never lowers the score, and opted-out people are never on an email list."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import Mapping, load_mapping_data
from mappings.engine import assign, explain, field_value
from mappings.facts import PHASES, RANKS, RECYCLE_GROUPS, STAGES, DealFacts, PersonFacts
from mappings.model import FROM_NAMES

PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SF_STAGES = ["Prospecting", "Qualification", "提案", "Negotiation/Review", "Closed Lost", "X"]
REASONS = ["Price", "予算不足", "Spam", "Duplicate", "", "Competitor"]

junk_values = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.integers(-(10**6), 10**15).map(str),
    st.integers(-5, 10**13),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)).map(lambda d: d.isoformat()),
    st.sampled_from(
        ["true", "false", "lead", "customer", "CONNECTED", "1000", "pricing", "2026-05-01T10:00:00Z"]
    ),
)


@st.composite
def mappings_data(draw: st.DrawFn) -> dict[str, Any]:
    """A valid mapping file as data (every cross-check respected)."""
    n_behaviour = draw(st.integers(1, 4))
    behaviour: dict[str, Any] = {}
    for i in range(n_behaviour):
        rule: dict[str, Any] = {
            "points": draw(st.integers(0, 40)),
            "cap": draw(st.integers(1, 8)),
            "source": f"hubspot.count_{i}",
        }
        if draw(st.booleans()):
            rule["last_event"] = f"hubspot.last_{i}"
        behaviour[f"kind_{i}"] = rule
    fit: dict[str, Any] = {}
    for i in range(draw(st.integers(0, 2))):
        sources = [f"hubspot.fit_{i}", f"salesforce.Account.Fit{i}"]
        if draw(st.booleans()):
            mins = sorted(draw(st.sets(st.integers(0, 5000), min_size=1, max_size=3)), reverse=True)
            fit[f"fit_{i}"] = {
                "sources": sources,
                "bands": [{"min": m, "points": draw(st.integers(-20, 30))} for m in mins],
            }
        else:
            fit[f"fit_{i}"] = {
                "sources": sources,
                "values": draw(
                    st.dictionaries(
                        st.sampled_from(["a", "b", "pricing", "予算"]), st.integers(-20, 30), max_size=3
                    )
                ),
            }
    score_max = sum(r["points"] * r["cap"] for r in behaviour.values()) + sum(
        max([0, *[b["points"] for b in f.get("bands", [])], *f.get("values", {}).values()])
        for f in fit.values()
    )
    explicit_max = draw(st.one_of(st.none(), st.integers(1, 500)))
    top = explicit_max if explicit_max is not None else score_max
    cold = 0
    warm = draw(st.integers(1, max(1, top)))
    hot = draw(st.integers(warm + 1, max(warm + 1, top))) if warm < top else None
    if hot is None or hot > top:  # a mapping this small cannot have three reachable ranks: raise the max
        explicit_max, top = warm + 1, warm + 1
        hot = warm + 1
    phases_high = draw(st.sets(st.sampled_from(PHASES), max_size=3))
    phases_low = draw(st.sets(st.sampled_from([p for p in PHASES if p not in phases_high]), max_size=3))
    with_event = [name for name, r in behaviour.items() if "last_event" in r]
    wait = draw(st.integers(0, 60))
    lists = {
        rank: {"salesforce_campaign": f"C {rank}", "hubspot_list": f"L {rank}", "email": draw(st.booleans())}
        for rank in RANKS
    }
    lists["extra"] = {"salesforce_campaign": "C extra", "hubspot_list": "L extra", "email": True}
    score: dict[str, Any] = {"behaviour": behaviour, "fit": fit}
    if explicit_max is not None:
        score["max"] = explicit_max
    if draw(st.booleans()):
        score["decay_half_life_days"] = draw(st.floats(0.5, 400))
    order = draw(st.permutations(STAGES))
    return {
        "version": draw(st.integers(1, 9)),
        "phases": {
            "salesforce": {
                "opportunity_stage": draw(
                    st.dictionaries(st.sampled_from(SF_STAGES), st.sampled_from(PHASES), max_size=5)
                )
            }
        },
        "stages": {
            "order": list(order),
            "mql_score": draw(st.integers(0, top)),
            "hubspot": {
                "lifecyclestage": draw(
                    st.dictionaries(
                        st.sampled_from(["lead", "customer", "other"]), st.sampled_from(STAGES), max_size=3
                    )
                )
            },
            "salesforce": {"Lead": {"Status": {"Open": draw(st.sampled_from(STAGES))}}},
        },
        "score": score,
        "rank": {"hot": hot, "warm": warm, "cold": cold},
        "recycle": {
            "wait_days": wait,
            "max_age_days": draw(st.integers(max(wait, 1), 1000)),
            "high": sorted(phases_high),
            "low": sorted(phases_low),
            "promote_on": draw(st.lists(st.sampled_from(with_event), unique=True)) if with_event else [],
            "exclude_loss_reasons": draw(st.lists(st.sampled_from(REASONS), unique=True, max_size=3)),
            "call_task": {
                "subject": "Call {person} about {deal_name}",
                "due_days": draw(st.integers(0, 10)),
                "description": "{stage_at_loss} {phase} {loss_reason} {lost_on} {amount} "
                "{engagement_since_loss} {score} {rank} {days_since_loss} {owner_id}",
            },
        },
        "nurture": {
            "lists": lists,
            "groups": draw(
                st.dictionaries(st.sampled_from(RECYCLE_GROUPS), st.sampled_from(["", *lists]), max_size=3)
            ),
        },
        "fields": {
            "salesforce": {
                "Contact": {f"F_{name}__c": {"from": name, "policy": "overwrite"} for name in FROM_NAMES}
            }
        },
        "optout": {"sources": ["hubspot.hs_email_optout"]},
    }


@st.composite
def people(draw: st.DrawFn, mapping: Mapping) -> PersonFacts:
    sources = [s for rule in mapping.behaviour for s in (rule.source, rule.last_event) if s]
    sources += [s for rule in mapping.fit for s in rule.sources]
    sources += [n.source for n in mapping.natives] + list(mapping.optout_sources)
    values = draw(st.dictionaries(st.sampled_from(sources), junk_values)) if sources else {}
    dates = st.one_of(st.none(), st.dates(date(1990, 1, 1), date(2090, 1, 1)))
    deals = draw(
        st.lists(
            st.builds(
                DealFacts,
                deal_id=st.text(min_size=1, max_size=4),
                state=st.sampled_from(["lost", "won", "open"]),
                stage_at_loss=st.one_of(st.none(), st.sampled_from(SF_STAGES)),
                loss_reason=st.one_of(st.none(), st.sampled_from(REASONS)),
                lost_on=dates,
                amount=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32)),
                owner_id=st.one_of(st.none(), st.just("005X")),
                name=st.one_of(st.none(), st.text(max_size=6)),
                closed_on=dates,
            ),
            max_size=3,
        )
    )
    return PersonFacts(
        key=draw(st.text(max_size=10)), values=values, opted_out=draw(st.booleans()), deals=tuple(deals)
    )


nows = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2080, 1, 1),
    timezones=st.one_of(st.none(), st.just(UTC)),
)


@PROPS
@given(data=st.data(), raw=mappings_data(), now=nows)
def test_engine_never_raises_and_stays_in_range(
    data: st.DataObject, raw: dict[str, Any], now: datetime
) -> None:
    mapping = load_mapping_data(raw, "<generated>")
    for someone in data.draw(st.lists(people(mapping), min_size=1, max_size=4)):
        assigned = assign(someone, mapping, now)
        assert 0 <= assigned.score <= mapping.score_max
        assert assigned.rank in RANKS
        assert assigned.stage in STAGES
        assert assigned.recycle_group in (*RECYCLE_GROUPS, None)
        assert assigned.nurture_list is None or assigned.nurture_list in mapping.nurture_lists
        assert assigned.mapping_version == mapping.version
        assert (assigned.task is not None) == (assigned.recycle_group == "high")
        lines = explain(assigned)  # every lazily formatted reason must format
        assert lines[0].startswith(f"{assigned.key}: stage {assigned.stage}")
        for name in FROM_NAMES:
            field_value(assigned, name, mapping, "salesforce")
        assert assign(someone, mapping, now) == assigned  # deterministic
        # opted-out people are never on an email list
        opted = assign(PersonFacts(someone.key, someone.values, True, someone.deals), mapping, now)
        assert opted.nurture_list is None or not mapping.nurture_lists[opted.nurture_list].email


@PROPS
@given(data=st.data(), raw=mappings_data(), now=nows)
def test_more_engagement_never_lowers_the_score(
    data: st.DataObject, raw: dict[str, Any], now: datetime
) -> None:
    mapping = load_mapping_data(raw, "<generated>")
    for someone in data.draw(st.lists(people(mapping), min_size=1, max_size=3)):
        less = dict(someone.values)
        more = dict(someone.values)
        for rule in mapping.behaviour:
            base = data.draw(st.integers(0, 20))
            less[rule.source] = str(base)
            more[rule.source] = str(base + data.draw(st.integers(0, 20)))
        engaged = assign(PersonFacts(someone.key, more, someone.opted_out, someone.deals), mapping, now)
        assert (
            engaged.score
            >= assign(PersonFacts(someone.key, less, someone.opted_out, someone.deals), mapping, now).score
        )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mappings_data(), now=nows, later_days=st.integers(0, 400))
def test_a_more_recent_last_event_never_lowers_the_score(
    raw: dict[str, Any], now: datetime, later_days: int
) -> None:
    mapping = load_mapping_data(raw, "<generated>")
    at = now.replace(tzinfo=UTC)
    old = {r.source: "3" for r in mapping.behaviour}
    recent = dict(old)
    for r in mapping.behaviour:
        if r.last_event:
            old[r.last_event] = (at - timedelta(days=later_days + 30)).isoformat()
            recent[r.last_event] = (at - timedelta(days=30)).isoformat()
    assert (
        assign(PersonFacts("p", recent), mapping, at).score
        >= assign(PersonFacts("p", old), mapping, at).score
    )
