"""Where a decided person stands, for the stage history (`sync.state.history`): the assignment's stage,
rank and recycle group, a fingerprint of the inputs they were decided from, the words of the rules
behind each (built only for people who moved) and the lost deal being recycled."""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from collections.abc import Sequence

from connectors.base import LostDeal
from mappings import Mapping
from mappings.digest import facts_digest
from mappings.facts import Assignment, PersonFacts
from mappings.recycle import cycle_key, last_engagement_since, phase_of_stage
from sync.state.history import RECYCLED, CycleFacts, Standing, deal_outcome

# the engine's reason rules behind each dimension (mappings.engine: "stages", "stages.mql_score",
# "rank", "recycle")
_RULES = {"stage": ("stages",), "rank": ("rank",), "group": ("recycle",)}


def standing(facts: PersonFacts, a: Assignment, mapping: Mapping, sources: frozenset[str],
             deals: Sequence[LostDeal] = (), *, records: tuple[int, int] = (0, 0)) -> Standing:
    """`deals`: the person's deal snapshots (their opening days tell a recycled person's new deals);
    `records` (Salesforce, HubSpot): how many list members the person is in each system."""
    cycle = None
    deal = next((d for d in facts.deals if d.deal_id == a.deal_id), None) if a.deal_id is not None else None
    reengaged_on = (last_engagement_since(mapping, deal.lost_on, facts.values.get)
                    if deal is not None and deal.lost_on is not None else None)
    if a.recycle_group in RECYCLED and deal is not None:
        phase = phase_of_stage(mapping, deal.stage_at_loss)
        cycle = CycleFacts(deal.deal_id, deal.lost_on, deal.loss_reason, phase, deal.amount,
                           promoted=a.recycle_group == "high" and phase in mapping.recycle.low,
                           task_cycle_key=(cycle_key(a.key, deal.deal_id, deal.lost_on)
                                           if deal.lost_on is not None else None))
    outcomes = tuple(deal_outcome(d) for d in deals if not d.is_deleted)
    return Standing(a.key, a.stage, a.rank, a.recycle_group, a.deal_id, facts_digest(facts, sources),
                    lambda: why(a), cycle, deals=outcomes, nurture_list=a.nurture_list, score=a.score,
                    records=records, reengaged_on=reengaged_on)


def why(a: Assignment) -> MappingABC[str, str]:
    """Dimension -> the engine's words for the rules that decided it (the explanation's lines)."""
    out: dict[str, str] = {}
    for dim, rules in _RULES.items():
        lines = [r.text for r in a.reasons
                 if any(r.rule == rule or r.rule.startswith(rule + ".") for rule in rules)]
        if dim == "stage" and a.stage == "recycle":
            lines = lines or [r.text for r in a.reasons if r.rule == "recycle"]
        if lines:
            out[dim] = " ".join(lines)
    return out

