"""HubSpot's lifecycle-stage dates: for each `lifecyclestage` value the mapping's
`[stages.hubspot.lifecyclestage]` table names, the read-only contact property HubSpot sets when a contact
enters that stage ("Became a Lead Date" = `hs_lifecyclestage_lead_date`). Runs read them with the other
contact properties (no extra API call) and keep them in the contact snapshots; `leadsync backfill`
turns them into stage entries from before the first run.

Custom lifecycle stages (HubSpot, since 2022-09) have no `hs_lifecyclestage_<value>_date` property: a
read asking for one gets nothing back (HubSpot ignores unknown property names in reads) and the
backfill reports the stage as having no date property.
"""

from __future__ import annotations

from mappings import Mapping

SOURCE = "hubspot.lifecyclestage"
DATE_PROPERTY = "hs_lifecyclestage_{}_date"


def lifecycle_dates(mapping: Mapping) -> dict[str, tuple[str, str]]:
    """Date property -> (lifecyclestage value, shared stage), for every value the mapping maps."""
    out: dict[str, tuple[str, str]] = {}
    for native in mapping.natives:
        if native.source == SOURCE:
            for value, (stage, _) in sorted(native.values.items()):
                out[DATE_PROPERTY.format(value.strip())] = (value, stage)
    return out
