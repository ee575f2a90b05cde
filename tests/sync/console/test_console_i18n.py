"""Numbers, amounts and dates as each language writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sync.console.i18n import Lang, choose


def test_amounts_in_each_language() -> None:
    en, ja = Lang("en"), Lang("ja")
    assert en.amount(13_000_000) == "13,000,000" and ja.amount(13_000_000) == "1,300万"
    assert ja.amount(9_999) == "9,999" and ja.amount(12_345) == "1.2万"
    assert ja.amount(250_000_000) == "2.50億"
    assert ja.amount(300_000_000) == "3億" and en.amount(300_000_000) == "300,000,000"
    assert en.number(1234567) == ja.number(1234567) == "1,234,567"
    assert en.rate(0.4567) == "45.7%" and en.rate(None) == "–"


def test_dates_in_utc_in_each_language() -> None:
    at = datetime(2026, 3, 4, 9, 5, tzinfo=timezone(timedelta(hours=9)))  # 00:05 UTC
    assert Lang("en").when(at) == "4 Mar 2026 00:05 UTC"
    assert Lang("ja").when(at) == "2026年3月4日 00:05 UTC"
    assert Lang("en").when(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == "31 Dec 2026 23:59 UTC"


def test_the_cookie_wins_over_the_browser_and_unknown_codes_fall_back_to_english() -> None:
    assert choose("en", "ja-JP").code == "en"
    assert choose(None, "ja-JP,ja;q=0.9").code == "ja"
    assert choose("fr", None).code == "en"
    assert Lang("xx").t("overview") == "Overview" and Lang("ja").t("overview") == "概要"
    assert Lang("ja").t("a stage from the mapping") == "a stage from the mapping"
