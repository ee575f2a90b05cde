"""Builders of canonical records for the state store tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from connectors.base import ContactRef, DealContact, LostDeal

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def deal(
    i: int,
    *,
    state: str = "lost",
    deleted: bool = False,
    contacts: int = 1,
    name: str | None = None,
    modified: datetime | None = None,
) -> LostDeal:
    return LostDeal(
        opportunity_id=f"006{i:015d}",
        name=name or f"Deal {i}",
        state=state,  # type: ignore[arg-type]
        stage_name="Closed Lost",
        stage_at_loss="Negotiation/Review",
        loss_reason="Price",
        lost_date=date(2024, 4, 1) + timedelta(days=i % 30),
        amount=1000.5 + i,
        owner_id="005000000000000AAA",
        account_id=f"001{i:015d}",
        account_name=f"株式会社 {i}",
        account_employees=120 + i,
        account_industry="Manufacturing",
        contacts=tuple(
            DealContact(
                contact_id=f"003{i:011d}{k:04d}",
                email=f"p{i}.{k}@example.com",
                first_name="太郎",
                last_name="山田",
                opted_out=k % 2 == 1,
                is_primary=k == 0,
                role="Decision Maker",
            )
            for k in range(contacts)
        ),
        modified_at=modified or T0 + timedelta(minutes=i),
        is_deleted=deleted,
    )


def contact(
    i: int,
    *,
    email: str | None = None,
    archived: bool = False,
    merged: tuple[str, ...] = (),
    props: dict[str, str | None] | None = None,
) -> ContactRef:
    return ContactRef(
        contact_id=str(1000 + i),
        email=email if email is not None else f"Person{i}@Example.com",
        properties=props
        if props is not None
        else {"hs_email_open": str(i % 7), "lifecyclestage": "lead", "hs_email_optout": None},
        modified_at=T0 + timedelta(seconds=i),
        archived=archived,
        merged_ids=merged,
    )
