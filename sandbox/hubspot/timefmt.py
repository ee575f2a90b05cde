"""Time conversions the HubSpot API uses: epoch milliseconds and ISO 8601 with milliseconds and `Z`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

_EPOCH = datetime(1970, 1, 1)  # naive UTC: isoformat() then has no offset suffix


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@lru_cache(maxsize=1 << 16)
def iso_ms(ms: int) -> str:
    """`2024-05-01T09:30:00.000Z` for an epoch-milliseconds value (exact integer arithmetic)."""
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds") + "Z"


def parse_ms(text: str) -> int | None:
    """Epoch milliseconds from epoch-ms digits, an ISO datetime or an ISO date; None if unparseable."""
    text = text.strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        if len(text) == 10:
            return to_ms(datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC))
        return to_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def date_of_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date().isoformat()
