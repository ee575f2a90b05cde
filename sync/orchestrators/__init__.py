"""Running leadsync's tenants on an orchestrator a team already operates (docs/dagster.md).

`tenant_run` runs one tenant's sync the way `leadsync sync --tenant NAME` does and says how it ended,
without any orchestrator; `dagster_defs` (the `leadsync[dagster]` extra) builds Dagster definitions on
it. Nothing else in `sync` imports this package, so `sync` loads without Dagster installed.
"""
