"""JSON encodings of what the state store keeps as text: deals, contact properties, written values.

Deterministic (sorted keys, compact separators) so equal records give equal text. Dates are ISO-8601;
datetimes are UTC with an offset.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from connectors.base import DealContact, LostDeal, Scalar
from sync.state.errors import damaged_value

R = TypeVar("R")


def _stored(what: str) -> Callable[[Callable[[Any], R]], Callable[[Any], R]]:
    """A value read back that does not decode means the store was damaged (or edited): say so."""

    def wrap(fn: Callable[[Any], R]) -> Callable[[Any], R]:
        @functools.wraps(fn)
        def decode(text: Any) -> R:
            try:
                return fn(text)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise damaged_value(what, exc) from None

        return decode

    return wrap

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _contact(c: DealContact) -> dict[str, Any]:
    return {"contact_id": c.contact_id, "email": c.email, "first_name": c.first_name,
            "last_name": c.last_name, "opted_out": c.opted_out, "is_primary": c.is_primary,
            "role": c.role}


def deal_to_json(deal: LostDeal) -> str:
    """Every field of a `LostDeal`, as compact JSON."""
    return _dumps({
        "opportunity_id": deal.opportunity_id, "name": deal.name, "state": deal.state,
        "stage_name": deal.stage_name, "stage_at_loss": deal.stage_at_loss,
        "loss_reason": deal.loss_reason,
        "lost_date": deal.lost_date.isoformat() if deal.lost_date else None,
        "amount": deal.amount, "owner_id": deal.owner_id, "account_id": deal.account_id,
        "account_name": deal.account_name, "account_employees": deal.account_employees,
        "account_industry": deal.account_industry,
        "contacts": [_contact(c) for c in deal.contacts],
        "modified_at": deal.modified_at.isoformat(), "is_deleted": deal.is_deleted,
        "lost_date_source": deal.lost_date_source,
        "close_date": deal.close_date.isoformat() if deal.close_date else None,
        "created_at": deal.created_at.isoformat() if deal.created_at else None,
    })


@_stored("a stored deal")
def deal_from_json(text: str) -> LostDeal:
    d = json.loads(text)
    return LostDeal(
        opportunity_id=d["opportunity_id"], name=d["name"], state=d["state"], stage_name=d["stage_name"],
        stage_at_loss=d["stage_at_loss"], loss_reason=d["loss_reason"],
        lost_date=date.fromisoformat(d["lost_date"]) if d["lost_date"] else None,
        amount=d["amount"], owner_id=d["owner_id"], account_id=d["account_id"],
        account_name=d["account_name"], account_employees=d["account_employees"],
        account_industry=d["account_industry"],
        contacts=tuple(DealContact(**c) for c in d["contacts"]),
        modified_at=datetime.fromisoformat(d["modified_at"]), is_deleted=d["is_deleted"],
        # snapshots from before lost dates came from stage history: their lost date was the CloseDate
        lost_date_source=d.get("lost_date_source", "close_date" if d["lost_date"] else None),
        close_date=date.fromisoformat(d["close_date"]) if d.get("close_date") else
        (date.fromisoformat(d["lost_date"]) if d["lost_date"] and "close_date" not in d else None),
        created_at=datetime.fromisoformat(d["created_at"]) if d.get("created_at") else None,
    )


def properties_to_json(properties: Mapping[str, str | None]) -> str:
    return _dumps(dict(properties))


@_stored("stored contact properties")
def properties_from_json(text: str) -> dict[str, str | None]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("contact properties must be a JSON object")
    return value


def scalar_to_json(value: Scalar) -> str:
    """A written value as JSON text, so 1, 1.5, "1", true and null round-trip exactly."""
    if value is not None and not isinstance(value, str | int | float | bool):
        raise TypeError(
            f"a written value must be a str, int, float, bool or None, not {type(value).__name__}")
    return _dumps(value)


@_stored("a stored written value")
def scalar_from_json(text: str) -> Scalar:
    value = json.loads(text)
    if value is not None and not isinstance(value, str | int | float | bool):
        raise ValueError(f"stored value is not a scalar: {text[:80]!r}")
    return value


def object_to_json(value: Mapping[str, Any] | None) -> str:
    return _dumps(dict(value or {}))


@_stored("a stored run record")
def object_from_json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}
