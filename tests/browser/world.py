"""The world the browser tests look at: the empty sandbox seeded person by person (the
`SeededWorld` of tests/sync/views/worlds.py), with CRM text that tries to run script in the page or
drive a terminal, synced by one real run, and opened as `leadsync console` opens it.

Seven people, each on an account of their own (so no one's deal is a new deal on another's account),
the same seeds as tests/sync/console/test_console_overview.py's world, so the same hand-worked numbers:
a lost early, clicked after the loss -> high (promoted); b early -> low; c, d late -> high (c opened
after the loss: re-engaged); e lost 10 days ago -> waiting; f "Spam" -> excluded; g early, no reason ->
low. The run's one failure: a HubSpot write refused with INVALID_EMAIL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sandbox.launcher import Sandbox
from sync.state.records import NewFailure
from tests.sync.views.worlds import SeededWorld, open_synced_context

SCRIPT = "<script>alert(1)</script>"  # a loss reason (a, b) and c's last name
BREAKER = '"><img src=x onerror=alert(1)>'  # a loss reason (c, d): leaves the attribute, adds an element
TERMINAL = "\x1b[31mred\x1b]8;;http://evil.example\x07link\x1b]8;;\x07"  # a loss reason (e)
FAILURE = f"update: INVALID_EMAIL: Property values were not valid: {BREAKER}"  # a write failure
SHORT_TERMINAL = "\x1b[2Jx\x07"  # c's first name (Salesforce's FirstName holds 40 characters)

# (email, phase-of-loss stage, days since the loss, reason, amount, HubSpot engagement (days ago) or None)
PEOPLE = [
    ("a@example.com", "Prospecting", 40, SCRIPT, 1_000_000, ("click", 5)),
    ("b@example.com", "Prospecting", 40, SCRIPT, 2_000_000, None),
    ("c@example.com", "Negotiation/Review", 60, BREAKER, 4_000_000, ("open", 10)),
    ("d@example.com", "Negotiation/Review", 60, BREAKER, 8_000_000, ("open", 90)),
    ("e@example.com", "Value Proposition", 10, TERMINAL, 16_000_000, None),
    ("f@example.com", "Proposal/Price Quote", 50, "Spam", 32_000_000, None),
    ("g@example.com", "Qualification", 45, None, 64_000_000, None),
]


def build(box: Sandbox, folder: Path) -> SeededWorld:
    """`box` emptied, the seven people seeded and synced once; the caller closes `world.ctx`."""
    box.reset(people=0)
    now = datetime.now().astimezone().replace(microsecond=0)
    sf = box.salesforce.store
    owner = sf.create("User", {"Username": "owner@example.com", "Email": "owner@example.com",
                               "FirstName": "Hanako", "LastName": "Sato", "Alias": "hsato", "IsActive": True},
                      at=now - timedelta(days=900))
    settings_path, ctx = open_synced_context(box, folder)
    world = SeededWorld(box, ctx, settings_path, now, owner, "")
    for email, stage, days, reason, amount, engaged in PEOPLE:
        world.account = sf.create("Account", {"Name": f"Account of {email}", "NumberOfEmployees": 500,
                                              "OwnerId": owner}, at=now - timedelta(days=800))
        hubspot = None
        if engaged:
            kind, ago = engaged
            hubspot = {f"hs_email_{kind}": "1" if kind == "click" else "2",
                       f"hs_email_last_{kind}_date": world.days_ago(ago)}
        world.person(email, lost_stage=stage, lost_days_ago=days, reason=reason, amount=amount,
                     hubspot=hubspot)
    c = next(r for r in sf.all("Contact") if r["Email"] == "c@example.com")
    sf.update("Contact", c["Id"], {"FirstName": SHORT_TERMINAL, "LastName": SCRIPT},
              at=now - timedelta(days=300))
    result = world.sync()
    # one write the CRM refused, its error echoing the hostile value (as a run records it): the
    # failures pages and the overview's count show it
    world.ctx.store.add_failures(result.run_id, [NewFailure("hubspot", "c@example.com", "write",
                                                            FAILURE)])
    return world
