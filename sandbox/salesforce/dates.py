"""SOQL relative date literals (TODAY, LAST_N_DAYS:30, THIS_MONTH, ...) as half-open date ranges in UTC."""

from __future__ import annotations

from datetime import date, timedelta


def _month_start(day: date, shift: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + shift
    return date(index // 12, index % 12 + 1, 1)


def relative_range(name: str, n: int | None, today: date) -> tuple[date, date]:
    """[start, end) of a relative date literal; ValueError for an unknown name."""
    week = today - timedelta(days=(today.weekday() + 1) % 7)  # weeks start on Sunday (en_US)
    count = n or 0
    day = timedelta(days=1)
    ranges: dict[str, tuple[date, date]] = {
        "TODAY": (today, today + day),
        "YESTERDAY": (today - day, today),
        "TOMORROW": (today + day, today + 2 * day),
        "LAST_N_DAYS": (today - count * day, today + day),
        "NEXT_N_DAYS": (today + day, today + (count + 1) * day),
        "N_DAYS_AGO": (today - count * day, today - (count - 1) * day),
        "LAST_90_DAYS": (today - 90 * day, today + day),
        "NEXT_90_DAYS": (today + day, today + 91 * day),
        "THIS_WEEK": (week, week + 7 * day),
        "LAST_WEEK": (week - 7 * day, week),
        "NEXT_WEEK": (week + 7 * day, week + 14 * day),
        "LAST_N_WEEKS": (week - 7 * count * day, week),
        "NEXT_N_WEEKS": (week + 7 * day, week + 7 * (count + 1) * day),
        "THIS_MONTH": (_month_start(today), _month_start(today, 1)),
        "LAST_MONTH": (_month_start(today, -1), _month_start(today)),
        "NEXT_MONTH": (_month_start(today, 1), _month_start(today, 2)),
        "LAST_N_MONTHS": (_month_start(today, -count), _month_start(today)),
        "NEXT_N_MONTHS": (_month_start(today, 1), _month_start(today, count + 1)),
        "THIS_YEAR": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        "LAST_YEAR": (date(today.year - 1, 1, 1), date(today.year, 1, 1)),
        "NEXT_YEAR": (date(today.year + 1, 1, 1), date(today.year + 2, 1, 1)),
    }
    if name not in ranges:
        raise ValueError(f"unknown date literal {name}")
    return ranges[name]
