"""One tenant's sync for an orchestrator: the path `leadsync sync --tenant NAME` takes (the tenant's
settings, `open_context`, `sync.run.runner.run`), with the trouble the CLI turns into exit 2 before a run
starts (settings, mapping, connector configuration, a state store that cannot be used) returned as an
outcome instead of printed. No orchestrator is imported here."""

from __future__ import annotations

import threading
import tomllib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.base import ConfigurationError
from mappings import MappingError
from sync import logs
from sync import settings as settings_module
from sync.exit_codes import EXIT_BAD_CONFIG, EXIT_LOCKED, EXIT_RECORD_FAILURES
from sync.inputs import InputProblem
from sync.run.context import open_context
from sync.run.runner import RunOptions, RunResult, run
from sync.settings import SettingsFileError
from sync.state.errors import StateStoreError
from sync.state.runs import redact_secrets
from sync.tenants import Tenant

RETRYABLE = frozenset({EXIT_RECORD_FAILURES, EXIT_LOCKED})  # running again is the remedy (sync.exit_codes)


@dataclass(frozen=True)
class TenantRun:
    """How one tenant's run ended: its exit code as `leadsync sync --tenant NAME` would exit."""

    tenant: str
    exit_code: int
    status: str  # the run's status (ok, partial, budget_stopped, ...), or "bad_config" before any run
    error: str | None = None
    result: RunResult | None = None  # None when the run never started (exit 2 before it)

    @property
    def retryable(self) -> bool:
        return self.exit_code in RETRYABLE

    def metadata(self) -> dict[str, Any]:
        """What an orchestrator shows of the run: counts, API calls per system, failures."""
        r = self.result
        counts = dict(r.counts) if r is not None else {}
        calls = r.api_calls if r is not None else {}
        failures = sum(v for k, v in counts.items() if k.endswith(".write_failures"))
        return {
            "tenant": self.tenant, "status": self.status, "exit_code": self.exit_code,
            "run_id": r.run_id if r is not None else None,
            "error": redact_secrets(self.error) if self.error else None,  # as the run history keeps it
            "people": int(counts.get("people", 0)), "quarantined": int(counts.get("quarantined", 0)),
            "write_failures": failures,
            **{f"api_calls.{system}": sum(kinds.values()) for system, kinds in sorted(calls.items())},
            "counts": counts, "api_calls": calls,
            "duration_seconds": round(r.duration_seconds, 3) if r is not None else 0.0,
            "lock_wait_seconds": round(r.lock_wait_seconds, 3) if r is not None else 0.0,
        }


def tenant_cron(tenant: Tenant) -> str | None:
    """`[schedule] cron` as written in the tenant's file, read without its secrets (an orchestrator
    lists schedules where the sync's credentials may not be set); None when absent or unreadable (the
    run itself then says what is wrong, exit 2)."""
    try:
        with tenant.path.open("rb") as fh:
            cron = tomllib.load(fh).get("schedule", {}).get("cron")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, AttributeError):
        return None
    try:
        return settings_module.ScheduleSettings(cron=cron).cron if isinstance(cron, str) else None
    except ValueError:
        return None


def run_tenant(tenant: Tenant, *, stop: threading.Event | None = None,
               now: datetime | None = None) -> TenantRun:
    """One incremental run for `tenant`, under its run lock (in its own state). Never raises for
    expected trouble: bad configuration is exit 2, a stopped or partial run 1, a held lock 3."""
    with logs.tenant_context(tenant.name):  # its log lines name it (sync.logs)
        return _run_tenant(tenant, stop, now)


def _run_tenant(tenant: Tenant, stop: threading.Event | None, now: datetime | None) -> TenantRun:
    try:
        ctx = open_context(settings_module.load_tenant(tenant))
    except SettingsFileError as exc:
        return TenantRun(tenant.name, EXIT_BAD_CONFIG, "bad_config", str(exc))
    except (MappingError, InputProblem) as exc:
        return TenantRun(tenant.name, EXIT_BAD_CONFIG, "bad_config", f"mapping file: {exc}")
    except ConfigurationError as exc:
        return TenantRun(tenant.name, EXIT_BAD_CONFIG, "bad_config", f"settings: {exc}")
    except StateStoreError as exc:  # as the CLI: a store that cannot be used is exit 2
        return TenantRun(tenant.name, EXIT_BAD_CONFIG, "bad_config", str(exc))
    try:
        result = run(ctx, RunOptions(stop=stop, now=now))
    except StateStoreError as exc:
        return TenantRun(tenant.name, EXIT_BAD_CONFIG, "failed", str(exc))
    finally:
        ctx.close()
    return TenantRun(tenant.name, result.exit_code, result.status, result.error, result)
