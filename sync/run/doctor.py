"""`leadsync doctor`: every check of settings, mapping, Salesforce org and HubSpot portal at once,
read-only, each a `Check` with a status and, when not ok, the fix.

    problem  a sync cannot work until it is fixed (the command exits 2)
    warning  a sync works, but something needs an admin's attention (auth being retired, tasks that go
             to another owner, a daily allowance nearly spent)
    ok

Nothing is written to either system, and the state store is not opened: the connectors are built from
the settings directly and only read (describe, queries, properties and lists lookups, the login). The
checks reuse `leadsync setup --check`'s (`sync.run.setup`: the same field specs and expectations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from connectors.base import (
    Allowance,
    AuthenticationError,
    CallCounter,
    ConfigurationError,
    ConnectorError,
    MarketingSystem,
    SalesSystem,
)
from connectors.factory import build_connectors
from mappings import Mapping, MappingError
from sync.inputs import InputProblem, load_mapping_file
from sync.run.context import retry_policy
from sync.run.setup import field_expectations, field_specs
from sync.settings import Settings

Status = Literal["ok", "warning", "problem"]
SETUP_SUFFIX = " (run `leadsync setup`)"

FIX_MAPPING = "edit the mapping file at that line (`leadsync mappings validate` lists the same errors)"
FIX_SF_AUTH = ("set salesforce.auth = 'jwt' (or 'client_credentials') with its keys: "
               "docs/connect-salesforce.md")
FIX_SF_LOGIN = ("check the [salesforce] credentials of auth = {auth!r} and domain / login_url; the "
                "integration user must be active with 'API Enabled' (docs/connect-salesforce.md)")
FIX_SF_FIELD = ("create or fix the field in Setup > Object Manager and give the integration user edit "
                "access (docs/connect-salesforce.md, section 3)")
FIX_SF_LOSS = ("create the field on Opportunity, or set salesforce.loss_reason_field to the field that "
               "holds the loss reason")
FIX_OWNERS = ("reassign those opportunities to active users in Salesforce, or set "
              "salesforce.inactive_owner ('account_owner', 'skip', or an active user / queue id)")
FIX_BUDGET = ("wait for the rolling 24-hour allowance to recover, or lower {key}.daily_reserve; a sync "
              "now would stop before its first write")
FIX_HS_TOKEN = ("set hubspot.access_token to a private app token with the scopes in "
                "docs/connect-hubspot.md (or the public app's OAuth keys)")
FIX_HS_CREATE = "run `leadsync setup` (creates missing properties, options and lists)"
FIX_HS_TYPE = "change or delete that property in HubSpot, or map the field to another property"


@dataclass(frozen=True)
class Check:
    system: str  # settings, mapping, salesforce, hubspot
    name: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    def add(self, system: str, name: str, status: Status, detail: str, fix: str | None = None) -> None:
        self.checks.append(Check(system, name, status, detail, fix))

    @property
    def blocking(self) -> bool:
        return any(c.status == "problem" for c in self.checks)

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for c in self.checks if c.status == s) for s in ("ok", "warning", "problem")}

    def to_dict(self, exit_code: int) -> dict[str, object]:
        return {"ok": not self.blocking, "exit_code": exit_code, "counts": self.counts(),
                "checks": [asdict(c) for c in self.checks]}


def settings_problem(message: str) -> DoctorReport:
    """The report when the settings file itself cannot be loaded (nothing else can be checked)."""
    report = DoctorReport()
    report.add("settings", "load", "problem", message,
               "fix the settings file (settings.example.toml shows every key)")
    return report


def run_doctor(settings: Settings, *, now: datetime | None = None) -> DoctorReport:
    """Every check, in order; a failed login skips that system's remaining checks (said in its line)."""
    report = DoctorReport()
    report.add("settings", "load", "ok", "settings loaded")
    mapping = _mapping(settings, report)
    policy = retry_policy(settings)
    sales, marketing = build_connectors(settings.salesforce, settings.hubspot, counter=CallCounter(),
                                        policy=policy)
    _salesforce(settings, mapping, sales, report, now or datetime.now(UTC))
    _hubspot(mapping, marketing, report, settings.hubspot.daily_reserve)
    return report


def _mapping(settings: Settings, report: DoctorReport) -> Mapping | None:
    try:
        mapping = load_mapping_file(settings.sync.mapping_file)
    except MappingError as exc:
        for error in exc.errors:
            report.add("mapping", "validate", "problem", str(error), FIX_MAPPING)
        return None
    except InputProblem as exc:
        report.add("mapping", "validate", "problem", str(exc),
                   "set sync.mapping_file to a readable mapping file")
        return None
    report.add("mapping", "validate", "ok", f"{mapping.filename}: valid (version {mapping.version})")
    return mapping


def _guard(report: DoctorReport, system: str, name: str, fix: str, step: Callable[[], None]) -> bool:
    """Run one check; a connector error becomes a problem line. False when it failed."""
    try:
        step()
    except ConnectorError as exc:
        report.add(system, name, "problem", str(exc), fix)
        return False
    return True


# --------------------------------------------------------------------------- Salesforce


def _salesforce(settings: Settings, mapping: Mapping | None, sf: SalesSystem, report: DoctorReport,
                now: datetime) -> None:
    config = settings.salesforce
    notice = config.login_notice()
    if notice:
        report.add("salesforce", "auth", "warning", notice, FIX_SF_AUTH)
    else:
        report.add("salesforce", "auth", "ok", f"auth = {config.auth!r}")
    login_fix = FIX_SF_LOGIN.format(auth=config.auth)
    try:
        sf.connect()
    except ConfigurationError as exc:
        report.add("salesforce", "login", "problem", str(exc), "add the missing keys to [salesforce]")
        return
    except AuthenticationError as exc:
        report.add("salesforce", "login", "problem", f"login refused: {exc}", login_fix)
        return
    except ConnectorError as exc:
        report.add("salesforce", "login", "problem", f"cannot log in: {exc}", login_fix)
        return
    report.add("salesforce", "login", "ok", f"logged in (auth = {config.auth!r})")

    def fields() -> None:
        expected = field_expectations(mapping, "salesforce") if mapping else {}
        problems = sf.check_fields(expected)
        for p in problems:
            report.add("salesforce", "fields", "problem", p, FIX_SF_FIELD)
        if not problems and expected:
            names = ", ".join(f"{o}.{f}" for o, fs in expected.items() for f in fs)
            report.add("salesforce", "fields", "ok", f"mapped fields exist, are writable and fit: {names}")

    def loss_reason() -> None:
        problems = sf.check_read_fields()
        for p in problems:
            report.add("salesforce", "loss_reason", "problem", p, FIX_SF_LOSS)
        if not problems:
            report.add("salesforce", "loss_reason", "ok",
                       f"the loss-reason field {config.loss_reason_field!r} exists on the deals")

    def owners() -> None:
        days = mapping.recycle.max_age_days if mapping else 730
        seen = sf.task_owner_outlook(now - timedelta(days=days))
        scope = f"{seen.deals} lost deal(s) changed in the last {days} days (recycle.max_age_days)"
        if not seen.inactive:
            report.add("salesforce", "task_owners", "ok", f"{scope}: every owner is an active user")
            return
        what = (f"with salesforce.inactive_owner = {config.inactive_owner!r}, {seen.reassigned} call "
                f"task(s) would go to another owner and {seen.unplaceable} could not be placed "
                "(per-record failures)")
        report.add("salesforce", "task_owners", "warning",
                   f"{scope}: {seen.inactive} owned by inactive users; {what}", FIX_OWNERS)

    if mapping is not None:
        _guard(report, "salesforce", "fields", FIX_SF_FIELD, fields)
    _guard(report, "salesforce", "loss_reason", FIX_SF_LOSS, loss_reason)
    _guard(report, "salesforce", "task_owners", FIX_OWNERS, owners)
    _budget(report, "salesforce", sf.daily_allowance(), config.daily_reserve,
            "reported by Salesforce as (used, max) in Sforce-Limit-Info")


# --------------------------------------------------------------------------- HubSpot


def _hubspot(mapping: Mapping | None, hs: MarketingSystem, report: DoctorReport, reserve: int) -> None:
    specs = field_specs(mapping, "hubspot", "contacts") if mapping else []
    try:
        problems = hs.ensure_properties(specs, create_missing=False)
    except AuthenticationError as exc:
        report.add("hubspot", "token", "problem", f"token refused: {exc}", FIX_HS_TOKEN)
        return
    except ConnectorError as exc:
        report.add("hubspot", "token", "problem", f"cannot read the contact properties: {exc}", FIX_HS_TOKEN)
        return
    report.add("hubspot", "token", "ok", "the token reads the contact properties")
    for p in problems:
        fix = FIX_HS_CREATE if p.endswith(SETUP_SUFFIX) else FIX_HS_TYPE
        report.add("hubspot", "properties", "problem", p.removesuffix(SETUP_SUFFIX), fix)
    if mapping is not None and not problems:
        report.add("hubspot", "properties", "ok",
                   f"{len(specs)} contact properties exist with their types and options")

    def lists() -> None:
        assert mapping is not None
        names = sorted({mapping.list_name(k, "hubspot") for k in mapping.nurture_lists})
        found = hs.ensure_lists(names, create_missing=False)
        for name in names:
            if name not in found:
                report.add("hubspot", "lists", "problem", f"list {name!r} does not exist", FIX_HS_CREATE)
        if found:
            ids = ", ".join(f"{n!r} (id {i})" for n, i in sorted(found.items()))
            report.add("hubspot", "lists", "ok", f"found {ids}")

    if mapping is not None:
        _guard(report, "hubspot", "lists", "make each nurture list a MANUAL (static) contact list", lists)
    _budget(report, "hubspot", hs.daily_allowance(), reserve,
            "reported by HubSpot as (remaining, max) in X-HubSpot-RateLimit-Daily(-Remaining)")


def _budget(report: DoctorReport, system: str, allowance: Allowance | None, reserve: int,
            source: str) -> None:
    if allowance is None:
        report.add(system, "api_budget", "ok", f"no daily allowance reported ({source})")
        return
    detail = (f"{allowance.used:,} of {allowance.limit:,} daily API calls used, {allowance.remaining:,} left "
              f"(daily_reserve {reserve:,}; {source})")
    if allowance.remaining < reserve:
        report.add(system, "api_budget", "warning", detail, FIX_BUDGET.format(key=system))
    else:
        report.add(system, "api_budget", "ok", detail)
