"""Contact batch endpoints: read, update, upsert, create, archive (at most 100 inputs each).

A batch with any failed input answers 207 with `numErrors` and `errors` (`StandardError` entries whose
`context.ids` names the inputs), the successful results in `results`; otherwise 200 (create: 201).
Per-input failures: unknown or archived ids (OBJECT_NOT_FOUND), invalid values (VALIDATION_ERROR with
the real per-property message), duplicate emails (CONFLICT) and injected record faults
(`FaultInjector.draw_record`, category = the fault's error code).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from .errors import (
    HISTORY_BATCH_TOO_LARGE,
    ApiError,
    ContactConflictError,
    batch_error,
    property_problems_message,
)
from .http import Reply, inputs_of
from .serialize import ALWAYS, property_names, public_object
from .store import Contact, ContactStore
from .timefmt import iso_ms

if TYPE_CHECKING:
    from .emulator import HubSpotEmulator

MAX_INPUTS = 100
MAX_HISTORY_INPUTS = 50
NOT_FOUND = "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid."


class _Outcome:
    """Results and errors of one batch, rendered as BatchResponse(WithErrors)."""

    def __init__(self, started: str):
        self.started = started
        self.results: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.missing: list[str] = []

    def reply(self, ok_status: int, completed: str) -> Reply:
        if self.missing:
            self.errors.insert(0, batch_error(NOT_FOUND, "OBJECT_NOT_FOUND", {"ids": self.missing}))
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": self.results,
            "startedAt": self.started,
            "completedAt": completed,
            "requestedAt": self.started,
        }
        if self.errors:
            body["numErrors"] = len(self.errors)
            body["errors"] = self.errors
            return Reply(207, body)
        return Reply(ok_status, body)


def _injected(emu: HubSpotEmulator, endpoint: str, outcome: _Outcome, ident: str) -> bool:
    if not emu.faults.rules:
        return False
    code = emu.faults.draw_record(endpoint)
    if code is None:
        return False
    outcome.errors.append(batch_error(f"sandbox fault injection: {code}", code, {"ids": [ident]}))
    return True


def lookup(
    store: ContactStore,
    ident: str,
    id_property: str | None,
    *,
    archived: bool = False,
    follow_merges: bool = False,
) -> Contact | None:
    if id_property in (None, "", "hs_object_id"):
        return store.find(ident, include_archived=archived, follow_merges=follow_merges)
    if id_property == "email":
        return None if archived else store.find_by_email(ident)
    prop = store.schema.get(id_property)
    if prop is None or not prop.has_unique_value:
        raise ApiError.validation(f"{id_property} is not a unique identifier property for contacts")
    return next((c for c in store.all_active() if c.values.get(id_property) == ident), None)


def batch_read(emu: HubSpotEmulator, body: Any, archived: bool) -> Reply:
    store = emu.store
    inputs = inputs_of(body, MAX_INPUTS)
    history = [str(p) for p in body.get("propertiesWithHistory") or []]
    if history and len(inputs) > MAX_HISTORY_INPUTS:
        raise ApiError.validation(HISTORY_BATCH_TOO_LARGE.format(limit=MAX_HISTORY_INPUTS))
    id_property = body.get("idProperty")
    with store.lock:
        now = store.now_ms()
        outcome = _Outcome(iso_ms(now))
        known = {p.name for p in store.schema.all()}
        names = property_names(body.get("properties") or list(ALWAYS), known)
        history = [h for h in history if h in known]
        seen: set[int] = set()
        for item in inputs:
            ident = str(item.get("id", "")) if isinstance(item, dict) else ""
            if _injected(emu, "hubspot.batch_read", outcome, ident):
                continue
            contact = lookup(store, ident, id_property, archived=archived, follow_merges=True)
            if contact is None:
                outcome.missing.append(ident)
            elif contact.id not in seen:
                seen.add(contact.id)
                outcome.results.append(public_object(contact, names, history=history))
        return outcome.reply(200, iso_ms(store.now_ms()))


def batch_update(emu: HubSpotEmulator, body: Any) -> Reply:
    store = emu.store
    inputs = inputs_of(body, MAX_INPUTS)
    ids = [str(i.get("id", "")) for i in inputs if isinstance(i, dict)]
    dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
    if dupes:
        # the captured real body lists them in context.ids too (amp-labs err-duplicate-ids.json)
        raise ApiError.validation(f"Duplicate IDs found in batch input: {dupes}. IDs must be unique",
                                  context={"ids": dupes})
    with store.lock:
        now = store.now_ms()
        outcome = _Outcome(iso_ms(now))
        if emu.batch_errors == "whole_batch":
            _refuse_whole_batch(store, inputs)
        for item in inputs:
            ident, props = _input(item)
            if _injected(emu, "hubspot.batch_update", outcome, ident):
                continue
            contact = lookup(store, ident, item.get("idProperty"))
            if contact is None:
                outcome.missing.append(ident)
                continue
            _write(store, outcome, props, ident, now, target=contact)
        return outcome.reply(200, iso_ms(store.now_ms()))


def _refuse_whole_batch(store: ContactStore, inputs: list[Any]) -> None:
    """The "whole_batch" mode: a 400 for the whole call, nothing applied, when any input names a
    contact that is not there (unknown, archived, merged away: the ids are listed in the message, as
    in the whole-batch errors client-library issues quote) or holds a value HubSpot rejects (the
    property message only: no id is named, so a client has to narrow the batch down itself).
    UNVERIFIED which real cases answer 400 rather than 207 and with which exact text: HubSpot's
    changelog documents 200/207 for batch/update; this mode is the stricter client-side contract."""
    missing: list[str] = []
    problems = []
    for item in inputs:
        ident, props = _input(item)
        if lookup(store, ident, item.get("idProperty")) is None:
            missing.append(ident)
            continue
        problems.extend(store.schema.check_write(props, api=True)[1])
    if missing:
        raise ApiError(400, f"{NOT_FOUND} Ids not found: [{', '.join(missing)}]", "OBJECT_NOT_FOUND")
    if problems:
        raise ApiError(400, property_problems_message(problems), "VALIDATION_ERROR")


def batch_upsert(emu: HubSpotEmulator, body: Any) -> Reply:
    store = emu.store
    inputs = inputs_of(body, MAX_INPUTS)
    with store.lock:
        now = store.now_ms()
        outcome = _Outcome(iso_ms(now))
        for item in inputs:
            ident, props = _input(item)
            if _injected(emu, "hubspot.batch_upsert", outcome, ident):
                continue
            id_property = item.get("idProperty") if isinstance(item, dict) else None
            contact = lookup(store, ident, id_property)
            if contact is not None:
                _write(store, outcome, props, ident, now, target=contact, new=False)
            elif id_property == "email":
                props = {**props, "email": props.get("email") or ident}
                _write(store, outcome, props, ident, now, target=None, new=True)
            else:
                outcome.missing.append(ident)
        return outcome.reply(200, iso_ms(store.now_ms()))


def batch_create(emu: HubSpotEmulator, body: Any) -> Reply:
    store = emu.store
    inputs = inputs_of(body, MAX_INPUTS)
    with store.lock:
        now = store.now_ms()
        outcome = _Outcome(iso_ms(now))
        for index, item in enumerate(inputs):
            _, props = _input(item)
            ident = str(props.get("email") or index)
            if _injected(emu, "hubspot.batch_create", outcome, ident):
                continue
            _write(store, outcome, props, ident, now, target=None)
        return outcome.reply(201, iso_ms(store.now_ms()))


def batch_archive(emu: HubSpotEmulator, body: Any) -> Reply:
    """Always 204, like the real endpoint (unknown ids are ignored)."""
    store = emu.store
    inputs = inputs_of(body, MAX_INPUTS)
    with store.lock:
        now = store.now_ms()
        for item in inputs:
            contact = store.find(str(item.get("id", "")) if isinstance(item, dict) else "")
            if contact is not None:
                store.archive(contact, now)
    return Reply(204)


def _input(item: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(item, dict):
        raise ApiError.validation("Each batch input must be an object")
    props = item.get("properties") or {}
    if not isinstance(props, dict):
        raise ApiError.validation("properties must be an object of property name to string value")
    return str(item.get("id", "")), props


def _write(
    store: ContactStore,
    outcome: _Outcome,
    props: dict[str, Any],
    ident: str,
    now: int,
    *,
    target: Contact | None,
    new: bool | None = None,
) -> None:
    """Validate and apply one input: update `target`, or create a contact when it is None."""
    values, problems = store.schema.check_write(props, api=True)
    if problems:
        outcome.errors.append(
            batch_error(
                property_problems_message(problems),
                "VALIDATION_ERROR",
                {"ids": [ident], "propertyName": sorted({p.name for p in problems})},
            )
        )
        return
    try:
        if target is None:
            contact = store.insert(values, now, source="API")
        else:
            store.apply_update(target, values, now, source="API")
            contact = target
    except ContactConflictError as exc:
        outcome.errors.append(
            batch_error(str(exc), "CONFLICT", {"ids": [ident], "existingId": [exc.existing_id]})
        )
        return
    names = [n for n in values if n != "createdate"] + [n for n in ALWAYS]
    outcome.results.append(public_object(contact, names, new=new))
