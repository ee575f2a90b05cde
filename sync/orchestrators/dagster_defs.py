"""Dagster definitions for leadsync's tenants (the `leadsync[dagster]` extra; docs/dagster.md).

    LEADSYNC_TENANTS_DIR=/etc/leadsync/tenants dagster dev -m sync.orchestrators.dagster_defs

Per tenant (`tenants/<name>.toml`, sync.tenants): a job `leadsync_<name>` of one op that runs one sync
the way `leadsync sync --tenant NAME` does (sync.orchestrators.tenant_run), and, when the tenant's file
has `[schedule] cron`, a schedule on it (UTC). How a run ends decides what Dagster does:

- exit 0: the op succeeds; its output metadata are the run's counts, API calls per system, failures.
- exit 1 (budget spent, stopped, lost lock, records refused) and 3 (another run holds the tenant's
  lock): `Failure` that the op's RetryPolicy retries — running again is the remedy.
- exit 2 (bad settings, mapping or credentials; a state store that cannot be used): `Failure` with
  `allow_retries=False` — a person must fix something; retrying only spends API calls.

One tenant never runs twice at once: each op is in the pool `leadsync_<name>` (give pools a limit of 1
in dagster.yaml: docs/dagster.md) and each run is tagged `leadsync/tenant=<name>` for a run-level tag
concurrency limit; the tenant's run lock in its state store is the backstop (exit 3, retried).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dagster as dg

from sync import tenants
from sync.orchestrators.tenant_run import TenantRun, run_tenant, tenant_cron
from sync.tenants import Tenant

TENANT_TAG = "leadsync/tenant"
DEFAULT_RETRY = dg.RetryPolicy(max_retries=3, delay=60, backoff=dg.Backoff.EXPONENTIAL,
                               jitter=dg.Jitter.PLUS_MINUS)


def job_name(tenant: str) -> str:
    return f"leadsync_{tenants.key(tenant)}"  # Dagster names take letters, digits and '_'


def pool_name(tenant: str) -> str:
    return f"leadsync_{tenants.key(tenant)}"


def _metadata(outcome: TenantRun) -> dict[str, Any]:
    """Dagster metadata: numbers as numbers, the nested counts and calls as JSON, no None."""
    return {k: v for k, v in outcome.metadata().items() if v is not None}


def _describe(outcome: TenantRun) -> str:
    error = outcome.metadata().get("error")  # redacted
    head = f"tenant {outcome.tenant}: {outcome.status} (exit {outcome.exit_code})"
    return f"{head}: {error}" if error else head


def tenant_job(tenant: Tenant, *, retry_policy: dg.RetryPolicy = DEFAULT_RETRY) -> dg.JobDefinition:
    """The job running one sync of `tenant`."""

    @dg.op(name=f"sync_{tenants.key(tenant.name)}", description=f"One leadsync run of tenant {tenant.name}.",
           pool=pool_name(tenant.name), tags={TENANT_TAG: tenant.name}, retry_policy=retry_policy)
    def sync_tenant(context):  # no annotations: Dagster checks them (strings here, as __future__ makes them)
        outcome = run_tenant(tenant)
        metadata = _metadata(outcome)
        if outcome.exit_code != 0:
            context.log.warning(_describe(outcome))
            raise dg.Failure(description=_describe(outcome), metadata=metadata,
                             allow_retries=outcome.retryable)
        context.log.info(_describe(outcome))
        return dg.Output(outcome.status, metadata=metadata)

    @dg.job(name=job_name(tenant.name), description=f"leadsync sync --tenant {tenant.name}",
            tags={TENANT_TAG: tenant.name})
    def sync_job() -> None:
        sync_tenant()

    return sync_job


def tenant_schedule(tenant: Tenant, job: dg.JobDefinition) -> dg.ScheduleDefinition | None:
    """The tenant's `[schedule] cron` (UTC), running; None when its file has none."""
    cron = tenant_cron(tenant)
    if cron is None:
        return None
    return dg.ScheduleDefinition(name=f"{job.name}_schedule", job=job, cron_schedule=cron,
                                 execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING)


def build_definitions(tenants_dir: Path | str, *,
                      retry_policy: dg.RetryPolicy = DEFAULT_RETRY) -> dg.Definitions:
    """A job per tenant in `tenants_dir` and a schedule per tenant with a cron. Only the tenants' file
    names and crons are read here: a tenant with bad settings still gets its job, whose runs fail
    (exit 2, no retry) saying what is wrong, and the other tenants are unaffected."""
    found = tenants.list_tenants(Path(tenants_dir))
    jobs = [tenant_job(t, retry_policy=retry_policy) for t in found]
    schedules: Iterable[dg.ScheduleDefinition | None] = (tenant_schedule(t, j) for t, j in zip(found, jobs,
                                                                                                 strict=True))
    return dg.Definitions(jobs=jobs, schedules=[s for s in schedules if s is not None])


# `dagster dev -m sync.orchestrators.dagster_defs`: $LEADSYNC_TENANTS_DIR, else the tenants folder of
# $LEADSYNC_CONFIG or ./settings.toml (sync.tenants.tenants_dir)
defs = build_definitions(tenants.tenants_dir(None))
