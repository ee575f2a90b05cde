"""The loss analysis heat map over the seeded world of test_console_overview: lost deals by phase at
loss × loss reason, each cell with its deals and amount, hostile reasons as text."""

from __future__ import annotations

import re

from sync.views.loss_labels import NO_REASON

from .conftest import VIEWER_PASSWORD, Site
from .test_console_overview import BREAKER, SCRIPT, hostile  # noqa: F401  (the fixture)


def _cells(page: str, phase: str) -> list[str]:
    row = re.search(rf'<tr data-phase="{phase}">(.*?)</tr>', page, re.S)
    assert row, phase
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def test_the_heat_map_shows_deals_and_amount_per_phase_and_reason(hostile: Site) -> None:  # noqa: F811
    text = hostile.signed_in("reader", VIEWER_PASSWORD, lang="en").get("/losses").text
    head = re.search(r"<thead>(.*?)</thead>", text, re.S)
    assert head
    columns = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r'<th scope="col">(.*?)</th>', head.group(1))]
    # reasons by deals, then amount: the breaker (c 4M, d 8M: 2 deals, 12M), the script (a 1M, b 2M:
    # 2 deals, 3M), no reason (g 64M), Spam (f 32M), the terminal escape (e 16M)
    assert len(columns) == 5
    assert columns[0] == "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;"
    assert columns[1] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert columns[2:4] == [NO_REASON, "Spam"] and columns[4].startswith(r"\x1b[31mred")
    # rows: phases in buying order; Prospecting -> awareness, Qualification -> interest,
    # Value Proposition -> comparison, Proposal/Price Quote and Negotiation/Review -> purchase
    assert _cells(text, "awareness") == ["–", "2 3,000,000", "–", "–", "–"]
    assert _cells(text, "interest") == ["–", "–", "1 64,000,000", "–", "–"]
    assert _cells(text, "comparison") == ["–", "–", "–", "–", "1 16,000,000"]
    assert _cells(text, "purchase") == ["2 12,000,000", "–", "–", "1 32,000,000", "–"]
    assert re.search(r'id="heat-total">7 · 127,000,000<', text)
    assert SCRIPT not in text and BREAKER not in text and "\x1b" not in text
    ja = hostile.signed_in("reader", VIEWER_PASSWORD, lang="ja").get("/losses").text
    assert "失注分析" in ja and _cells(ja, "purchase")[0] == "2 1,200万"
