"""What an admin should check in the org for a per-record error code Salesforce returns on a write
(sObject Collections results, Bulk ingest results). The hint is appended to the failure's message, so
`leadsync failures` says what to do, not only what happened. Codes: REST API Developer Guide, "Status
Codes and Error Responses" and the sObject Collections examples; the hints are judgement."""

from __future__ import annotations

RECORD_HINTS: dict[str, str] = {
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": "a validation rule refused the values: find the rule named in "
    "the message (Setup > Object Manager > the object > Validation Rules) and exempt the integration "
    "user or fix the record",
    "DUPLICATES_DETECTED": "a duplicate rule blocks the save: merge the duplicates, or set the rule's "
    "action to Allow for the integration user (Setup > Duplicate Rules)",
    "CANNOT_EXECUTE_FLOW_TRIGGER": "a flow or process failed on this record: Setup > Flows (or Process "
    "Builder) shows the failing flow named in the message; a lock inside it is retried, anything else "
    "needs the flow fixed",
    "ENTITY_IS_LOCKED": "the record is locked (an approval process or record lock): finish or recall the "
    "approval, or give the integration user permission to edit locked records",
    "INSUFFICIENT_ACCESS_OR_READONLY": "the integration user cannot edit this record: check sharing "
    "(record owner, role, sharing rules) and the object and field permissions of its permission set",
    "FIELD_INTEGRITY_EXCEPTION": "a field value is not allowed here (a lookup to the wrong kind of "
    "record, an inactive or invalid reference): check the field named in the message",
    "INACTIVE_OWNER_OR_USER": "the record's owner is an inactive user: reactivate the user, reassign "
    "the record, or set salesforce.inactive_owner",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": "the value is not in the restricted picklist: add it to "
    "the field's values (leadsync setup --check lists them)",
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": "the integration user cannot see a related record "
    "(owner, account, campaign): check sharing",
}


def with_hint(code: str | None, message: str | None) -> str | None:
    """`message` followed by what to check in the org for `code` (unchanged for codes without a hint)."""
    hint = RECORD_HINTS.get(code or "")
    if hint is None:
        return message
    return f"{message} (check: {hint})" if message else f"(check: {hint})"
