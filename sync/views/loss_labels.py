"""How the loss analysis labels a lost deal, the same in every view (report, KPIs over time, explain):
its buying phase at loss, "unmapped" when the stage is unknown or not in [phases] (the engine's own
lookup, `mappings.recycle.phase_of_stage`), and its loss reason, "(none)" when blank."""

from __future__ import annotations

from mappings import Mapping
from mappings.recycle import phase_of_stage

UNMAPPED = "unmapped"
NO_REASON = "(none)"


def phase_label(stage_at_loss: str | None, mapping: Mapping) -> str:
    return phase_of_stage(mapping, stage_at_loss) or UNMAPPED


def reason_label(loss_reason: str | None) -> str:
    return (loss_reason or "").strip() or NO_REASON
