"""Turn raw system values into what a rule needs, without ever raising.

HubSpot gives strings ("3", "2026-05-01T10:00:00Z", "1714557600000", "true"); Salesforce gives JSON
scalars (1200, "Software", true). Each function returns None for a value it cannot read, and the
engine then says so in the explanation instead of guessing.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time

_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f", ""})
_MIN_EPOCH = datetime(1, 1, 2, tzinfo=UTC).timestamp()  # what datetime can hold (a day of slack)
_MAX_EPOCH = datetime(9999, 12, 30, tzinfo=UTC).timestamp()


def to_number(raw: object) -> float | None:
    """A finite number from an int, a float or a numeric string; None otherwise (bools included)."""
    kind = type(raw)
    if kind is int:
        return raw  # type: ignore[return-value]
    if kind is str:
        try:
            return int(raw)  # type: ignore[call-overload,no-any-return]
        except ValueError:
            pass
        try:
            value = float(raw)  # type: ignore[arg-type]
        except ValueError:
            return None
    elif kind is float:
        value = raw  # type: ignore[assignment]
    else:
        return None
    return value if math.isfinite(value) else None


_RANGE = re.compile(r"\s*(\d[\d,]*)\s*(?:(?:-|–|~|to)\s*\d[\d,]*|\+)\s*")


def to_band_number(raw: object) -> float | None:
    """A number for a band rule: a plain number, or the lower bound of a range as HubSpot's
    enumerations give company sizes ("100-500" -> 100, "1000+" -> 1000, "1,000-5,000" -> 1000)."""
    value = to_number(raw)
    if value is not None or type(raw) is not str:
        return value
    match = _RANGE.fullmatch(raw)  # type: ignore[arg-type]
    return float(match.group(1).replace(",", "")) if match else None


def to_count(raw: object) -> int | None:
    """A non-negative whole count (fractions are floored); None for anything else."""
    value = to_number(raw)
    if value is None or value < 0:
        return None
    return int(value)


def to_datetime(raw: object) -> datetime | None:
    """A timezone-aware UTC datetime from ISO 8601 text, a date, or epoch milliseconds."""
    try:
        kind = type(raw)
        if kind is str:
            text = raw.strip()  # type: ignore[attr-defined]
            if text.isdigit():
                return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
            value = datetime.fromisoformat(text)
        elif kind is datetime:
            value = raw  # type: ignore[assignment]
        elif kind is date:
            value = datetime.combine(raw, time(), tzinfo=UTC)  # type: ignore[arg-type]
        elif kind is int or kind is float:
            return datetime.fromtimestamp(raw / 1000, tz=UTC)  # type: ignore[operator]
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_epoch(raw: object) -> float | None:
    """Seconds since the epoch (UTC) of the same inputs as `to_datetime`, faster for strings."""
    if type(raw) is str:
        if raw.isdigit():  # type: ignore[attr-defined]  # epoch milliseconds
            try:
                seconds = int(raw) / 1000  # type: ignore[call-overload]
            except (ValueError, OverflowError):
                return None
            return seconds if _MIN_EPOCH <= seconds <= _MAX_EPOCH else None
        try:
            value = datetime.fromisoformat(raw.strip())  # type: ignore[attr-defined]
        except ValueError:
            return None
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).timestamp()
    when = to_datetime(raw)
    return when.timestamp() if when is not None else None


def to_bool(raw: object) -> bool | None:
    """True/False from a bool or the usual words ("true", "false", "1", "0", "yes", "no", "")."""
    if raw is True or raw is False:
        return raw
    if type(raw) is str:
        word = raw.strip().casefold()  # type: ignore[attr-defined]
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None


def to_text(raw: object) -> str | None:
    """A stripped string from a string or a number; None for blank or anything else."""
    kind = type(raw)
    if kind is str:
        text = raw.strip()  # type: ignore[attr-defined]
        return text or None
    if kind is int or kind is float:
        return str(raw)
    return None


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class EpochDate:
    """Epoch seconds shown as their UTC date, formatted only when an explanation is read."""

    __slots__ = ("epoch",)

    def __init__(self, epoch: float) -> None:
        self.epoch = epoch

    def __format__(self, spec: str) -> str:
        return format(date.fromordinal(int(self.epoch // 86400) + _EPOCH_ORDINAL), spec)
