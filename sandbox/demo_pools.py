"""Word pools for the demo book: Faker's ja_JP and en_US person names (with their frequencies), the
fixed vocabularies of a B2B CRM (stages, loss reasons, industries, titles), and a fast seeded RNG.
"""

from __future__ import annotations

import random
import re
from bisect import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")

# Salesforce's default opportunity stages, in order (the open ones, then the two closed ones).
OPEN_STAGES: tuple[str, ...] = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
)
CLOSED_WON = "Closed Won"
CLOSED_LOST = "Closed Lost"
# The emulated org's custom closed-lost stage (sandbox/salesforce/objects.py STAGES): losses for lack of
# budget are closed there, so a demo book exercises a closed-lost stage other than "Closed Lost".
LOST_NO_BUDGET = "Lost - No Budget"
NO_BUDGET_REASONS = frozenset({"No Budget", "予算不足"})
CLOSED_LOST_STAGES = (CLOSED_LOST, LOST_NO_BUDGET)


def lost_stage(loss_reason: str | None) -> str:
    """The closed-lost stage a deal lost for `loss_reason` ends in."""
    return LOST_NO_BUDGET if loss_reason in NO_BUDGET_REASONS else CLOSED_LOST

# Loss_Reason__c picklist values with relative weights (English and Japanese variants, as in an org
# used by a bilingual sales team).
LOSS_REASONS: tuple[tuple[str, int], ...] = (
    ("Price", 18),
    ("予算不足", 14),
    ("Competitor", 14),
    ("競合採用", 10),
    ("Timing", 12),
    ("時期尚早", 8),
    ("No Decision", 12),
    ("Product Fit", 6),
    ("Duplicate", 2),
    ("Spam", 2),
    ("Invalid Contact", 2),
)

INQUIRY_TYPES: tuple[tuple[str, int], ...] = (
    ("newsletter", 30),
    ("whitepaper", 25),
    ("contact_us", 15),
    ("pricing", 15),
    ("demo_request", 15),
)

# NumberOfEmployees bands: (low, high, weight, people per company (min, max)).
EMPLOYEE_BANDS: tuple[tuple[int, int, int, tuple[int, int]], ...] = (
    (1, 50, 35, (1, 3)),
    (51, 200, 30, (1, 4)),
    (201, 1000, 22, (2, 6)),
    (1001, 30000, 13, (3, 9)),
)

CONTACT_ROLES: tuple[str, ...] = (
    "Decision Maker",
    "Economic Buyer",
    "Technical Buyer",
    "Evaluator",
    "Influencer",
    "Executive Sponsor",
    "Business User",
)

# HubSpot default enumerations.
LEAD_STATUSES_OPEN: tuple[str, ...] = ("NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "CONNECTED")
LEAD_STATUSES_LOST: tuple[str, ...] = ("UNQUALIFIED", "BAD_TIMING", "OPEN", "ATTEMPTED_TO_CONTACT")

EN_INDUSTRIES: tuple[str, ...] = (
    "Technology", "Manufacturing", "Finance", "Healthcare", "Retail", "Consulting", "Education",
    "Telecommunications", "Transportation", "Media", "Energy", "Insurance", "Construction",
    "Food & Beverage", "Biotechnology", "Hospitality",
)

# Japanese company-name words: (kanji, romanized for the domain, Salesforce Industry).
JA_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("建設", "kensetsu", "Construction"),
    ("商事", "shoji", "Retail"),
    ("工業", "kogyo", "Manufacturing"),
    ("電機", "denki", "Electronics"),
    ("システム", "system", "Technology"),
    ("ソフト", "soft", "Technology"),
    ("製作所", "seisakusho", "Machinery"),
    ("物産", "bussan", "Retail"),
    ("食品", "foods", "Food & Beverage"),
    ("製薬", "seiyaku", "Healthcare"),
    ("運輸", "unyu", "Transportation"),
    ("不動産", "fudosan", "Other"),
    ("銀行", "bank", "Banking"),
    ("保険", "hoken", "Insurance"),
    ("通信", "tsushin", "Telecommunications"),
    ("化学", "kagaku", "Chemicals"),
    ("エネルギー", "energy", "Energy"),
    ("印刷", "insatsu", "Media"),
    ("コンサルティング", "consulting", "Consulting"),
    ("精機", "seiki", "Engineering"),
)
JA_REGIONS: tuple[tuple[str, str], ...] = (
    ("", ""), ("", ""), ("", ""), ("東京", "tokyo"), ("大阪", "osaka"), ("名古屋", "nagoya"),
    ("横浜", "yokohama"), ("札幌", "sapporo"), ("福岡", "fukuoka"), ("日本", "nihon"), ("中央", "chuo"),
    ("東日本", "higashinihon"), ("西日本", "nishinihon"), ("関西", "kansai"), ("九州", "kyushu"),
)
EN_COMPANY_SUFFIXES: tuple[str, ...] = (
    "Inc", "LLC", "Group", "Ltd", "Corp", "Partners", "Holdings", "Systems", "Labs", "Solutions",
)

JA_TITLES: tuple[str, ...] = (
    "代表取締役", "取締役", "営業部 部長", "営業部 課長", "マーケティング部 マネージャー",
    "情報システム部 部長", "情報システム部 主任", "経営企画室 室長", "購買部 担当", "総務部 課長",
    "DX推進室 リーダー", "事業開発部 担当",
)
EN_TITLES: tuple[str, ...] = (
    "CEO", "VP of Sales", "Head of Marketing", "IT Director", "Procurement Manager",
    "Operations Manager", "Marketing Specialist", "CTO", "Sales Operations Analyst", "Finance Director",
    "Business Development Manager", "Office Manager",
)
JA_PRODUCTS: tuple[str, ...] = ("年間ライセンス", "導入支援", "追加ライセンス", "更新", "PoC", "全社展開")
EN_PRODUCTS: tuple[str, ...] = ("Annual License", "Onboarding", "Expansion", "Renewal", "Pilot",
                                "Enterprise Plan")

# Email address patterns a company uses for its staff (first, last are romanized lowercase).
EMAIL_PATTERNS: tuple[str, ...] = ("{f}.{l}", "{f}.{l}", "{i}.{l}", "{l}.{f}", "{f}_{l}", "{i}{l}", "{l}")


@dataclass(frozen=True)
class NamePools:
    """Faker's ja_JP and en_US person names with their frequency weights, each as (name, ascii) where
    ascii is the lower-case romanized form used in email addresses ("佐藤" -> "sato")."""

    ja_first: Weighted[tuple[str, str]]
    ja_last: Weighted[tuple[str, str]]
    en_first: Weighted[tuple[str, str]]
    en_last: Weighted[tuple[str, str]]


@lru_cache(maxsize=1)
def name_pools() -> NamePools:
    """The name lists of Faker's ja_JP and en_US person providers, read once.

    Faker's own per-call API costs 20-200 us a name; the generator draws from these tables with its
    own seeded `FastRandom` instead (same frequencies, a fraction of the cost)."""
    from faker.providers.person.en_US import Provider as EnglishNames  # Faker's import is slow: lazily
    from faker.providers.person.ja_JP import Provider as JapaneseNames

    def ascii_of(name: str) -> str:
        return slug(name).replace("-", "")

    return NamePools(
        ja_first=Weighted.of(((k, ascii_of(r)), 1.0) for k, _kana, r in JapaneseNames.first_name_pairs),
        ja_last=Weighted.of(((k, ascii_of(r)), float(w))
                            for (k, _kana, r), w in JapaneseNames.last_name_pairs.items()),
        en_first=Weighted.of(((n, ascii_of(n)), float(w)) for n, w in EnglishNames.first_names.items()),
        en_last=Weighted.of(((n, ascii_of(n)), float(w)) for n, w in EnglishNames.last_names.items()),
    )


_SLUG_RE = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """Lowercase ASCII words joined by '-', for domains and email local parts."""
    return _SLUG_RE.sub("-", text.lower()).strip("-")


class FastRandom(random.Random):
    """`random.Random` with cheaper `randint`/`choice` (one float draw each; a bias below 2**-40 is
    irrelevant for demo data) and `weighted` over a prebuilt cumulative table. Same seed, same draws."""

    def randint(self, a: int, b: int) -> int:  # type: ignore[override]
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq: Sequence[T]) -> T:  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def weighted(self, table: Weighted[T]) -> T:
        return table.values[bisect(table.cumulative, self.random() * table.total)]


@dataclass(frozen=True)
class Weighted(Generic[T]):
    """Values with relative weights, ready for `FastRandom.weighted`."""

    values: tuple[T, ...]
    cumulative: tuple[float, ...]
    total: float

    @classmethod
    def of(cls, pairs: Iterable[tuple[T, float]]) -> Weighted[T]:
        values, weights = zip(*pairs, strict=True)
        cumulative = tuple(accumulate(weights))
        return cls(tuple(values), cumulative, cumulative[-1])
