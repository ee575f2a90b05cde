"""Call-task owners that can own a task: a Task whose OwnerId is an inactive user is refused with
INACTIVE_OWNER_OR_USER ("operation performed with inactive user: []"), and deals lost up to two years
ago often belong to reps who have left.

Before tasks are sent, the IsActive of their owners is known: the run's deal read names
`Owner.IsActive`, `Account.OwnerId` and `Account.Owner.IsActive` (relationship fields, no extra call),
so the owners of the deals read this run are known as of this run (`read.RunCache`). Only an owner the
run has not seen (a task for a deal read in an earlier run: its snapshot can be months old, and
deactivating a user does not change the deal's SystemModstamp) is read, with one User query per 500
distinct owners; answers are cached for the connector's run. A task whose owner is inactive goes where
`salesforce.inactive_owner` says:

  account_owner  the owner of the deal's account, when that user is active (known from this run's deal
                 read, else one Opportunity query per 500 such tasks: Account.OwnerId,
                 Account.Owner.IsActive); otherwise a failure
  <id>           that User (checked for IsActive like the owners) or queue (00G..., not checked)
  skip           a per-record failure INACTIVE_OWNER_OR_USER, listed by `leadsync failures`
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import replace
from datetime import datetime

from simple_salesforce import format_soql

from connectors.base import CallTask, OwnerOutlook, WriteResult
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.read import MAX_IN_IDS, chunks

USER_PREFIX = "005"
INACTIVE = "INACTIVE_OWNER_OR_USER"


def user_activity(
    client: SalesforceClient, ids: Sequence[str], cache: MutableMapping[str, bool]
) -> dict[str, bool]:
    """User id -> IsActive for the user ids in `ids` (others, and unknown users, are left out); users
    already in `cache` cost nothing, the rest one query per 500."""
    wanted = [i for i in dict.fromkeys(ids) if i and i.startswith(USER_PREFIX) and i not in cache]
    for chunk in chunks(wanted, MAX_IN_IDS):
        for row in client.query(format_soql("SELECT Id, IsActive FROM User WHERE Id IN {}", list(chunk))):
            cache[row["Id"]] = bool(row.get("IsActive"))
    for i in wanted:  # an id the org does not know: let the write answer for it
        cache.setdefault(i, True)
    return {i: cache[i] for i in ids if i in cache}


def _account_owners(
    client: SalesforceClient,
    opp_ids: Sequence[str],
    known: Mapping[str, tuple[str | None, bool]] | None = None,
) -> dict[str, tuple[str, bool]]:
    """Opportunity id -> (account owner id, IsActive) for deals that have an account; deals in `known`
    (read this run: owner None when the deal has no account) cost nothing."""
    out: dict[str, tuple[str, bool]] = {}
    known = known or {}
    for opp in opp_ids:
        if opp in known and known[opp][0]:
            out[opp] = known[opp]  # type: ignore[assignment]
    rest = [o for o in dict.fromkeys(opp_ids) if o not in known]
    for chunk in chunks(rest, MAX_IN_IDS):
        soql = format_soql(
            "SELECT Id, Account.OwnerId, Account.Owner.IsActive FROM Opportunity WHERE Id IN {}",
            list(chunk),
        )
        for row in client.query(soql):
            account = row.get("Account") or {}
            owner = account.get("OwnerId")
            if owner:
                out[row["Id"]] = (owner, bool((account.get("Owner") or {}).get("IsActive")))
    return out


def _failure(task: CallTask, why: str) -> WriteResult:
    return WriteResult(
        task.cycle_key,
        ok=False,
        error_code=INACTIVE,
        message=f"{why}. Reactivate the user or reassign the opportunity, or set "
        "salesforce.inactive_owner to 'account_owner' or an active user / queue id",
    )


def assign_owners(
    client: SalesforceClient, tasks: Sequence[CallTask], mode: str, cache: MutableMapping[str, bool],
    account_cache: Mapping[str, tuple[str | None, bool]] | None = None,
) -> tuple[list[CallTask], dict[str, WriteResult]]:
    """(tasks to send, with owners replaced where needed; failures by cycle key for tasks not sent)."""
    owners = [t.owner_id for t in tasks if t.owner_id]
    fallback = mode if mode not in ("account_owner", "skip") else None
    active = user_activity(client, owners + ([fallback] if fallback else []), cache)
    inactive = [t for t in tasks if t.owner_id and not active.get(t.owner_id, True)]
    if not inactive:
        return list(tasks), {}
    by_account = _account_owners(client, [t.what_id for t in inactive if t.what_id], account_cache) \
        if mode == "account_owner" else {}
    send: dict[str, CallTask] = {}
    failed: dict[str, WriteResult] = {}
    for task in inactive:
        was = f"the deal owner {task.owner_id} is an inactive user"
        if mode == "skip":
            failed[task.cycle_key] = _failure(task, f"{was}; salesforce.inactive_owner = 'skip'")
        elif mode == "account_owner":
            owner, is_active = by_account.get(task.what_id or "", (None, False))
            if owner and is_active:
                send[task.cycle_key] = replace(task, owner_id=owner)
            else:
                detail = f"the account owner {owner} is inactive too" if owner else "the deal has no account"
                failed[task.cycle_key] = _failure(task, f"{was} and {detail}")
        elif fallback is not None and not active.get(fallback, True):
            failed[task.cycle_key] = _failure(
                task, f"{was} and salesforce.inactive_owner {fallback} is inactive too"
            )
        else:
            send[task.cycle_key] = replace(task, owner_id=fallback)
    out = [send.get(t.cycle_key, t) for t in tasks if t.cycle_key not in failed]
    return out, failed


def outlook(
    client: SalesforceClient, lost_since: datetime, mode: str, cache: MutableMapping[str, bool],
    account_cache: Mapping[str, tuple[str | None, bool]] | None = None,
) -> OwnerOutlook:
    """What `assign_owners` would do with a call task for each deal lost (last changed) at or after
    `lost_since`: the same lookups (User IsActive, then the account owners of the inactive ones'
    deals), nothing sent. One deal query (pages of 2,000) plus the owner queries. A deal that entered
    closed-lost on or after `lost_since` was changed then, so its SystemModstamp is that late too: the
    query finds every such deal (and some lost earlier but edited since)."""
    soql = format_soql(
        "SELECT Id, OwnerId FROM Opportunity WHERE IsClosed = true AND IsWon = false "
        "AND SystemModstamp >= {}",
        lost_since,
    )
    tasks = [
        CallTask(cycle_key=row["Id"], contact_id="", owner_id=row.get("OwnerId"), subject="", description="",
                 due_date=lost_since.date(), what_id=row["Id"])
        for row in client.query(soql)
    ]
    placed, failed = assign_owners(client, tasks, mode, cache, account_cache)
    inactive = sum(1 for t in tasks if t.owner_id and not cache.get(t.owner_id, True))
    by_key = {t.cycle_key: t.owner_id for t in tasks}
    reassigned = sum(1 for t in placed if t.owner_id != by_key[t.cycle_key])
    return OwnerOutlook(len(tasks), inactive, reassigned, len(failed))
