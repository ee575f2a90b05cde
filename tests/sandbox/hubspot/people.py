"""Deterministic test contacts for the HubSpot emulator tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sandbox.hubspot import HubSpotEmulator

BASE = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
STAGES = ("subscriber", "lead", "marketingqualifiedlead", "customer")


@dataclass(frozen=True)
class Person:
    """What the test seeded, kept apart from the emulator so expectations are computed independently."""

    id: str
    index: int
    email: str
    stage: str
    opens: int | None
    views: int
    last_open: datetime | None
    modified: datetime


def seed_people(emu: HubSpotEmulator, count: int, base: datetime = BASE) -> list[Person]:
    """`count` contacts created a minute apart from `base`, with varied engagement."""
    people = []
    for i in range(count):
        email = f"person{i}@{'acme' if i % 3 == 0 else 'globex'}.example"
        opens = None if i % 10 == 0 else i % 9
        last_open = base + timedelta(hours=i) if i % 2 == 0 else None
        props: dict[str, str | None] = {
            "email": email,
            "firstname": f"Name{i}",
            "lastname": f"Family{i % 7}",
            "lifecyclestage": STAGES[i % 4],
            "hs_email_open": None if opens is None else str(opens),
            "hs_analytics_num_page_views": str(i * 37 % 5000),
            "hs_email_last_open_date": None if last_open is None else last_open.isoformat(),
        }
        modified = base + timedelta(minutes=i)
        contact_id = emu.store.create_contact(props, at=modified)
        people.append(Person(contact_id, i, email, STAGES[i % 4], opens, i * 37 % 5000, last_open, modified))
    return people


def ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))
