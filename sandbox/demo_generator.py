"""How the demo book is drawn (see `demo_data` for what it contains).

One `random.Random` per book, advanced in a fixed order, so a (people, seed, now) triple always gives
the same accounts. Rare cases are drawn with their probability, and the first one of each kind is
forced once the book has reached a small position, so even a small book (about 60 people) shows every
case the tests and the demo rely on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from sandbox.demo_data import (
    ContactRole,
    DemoAccount,
    DemoBook,
    DemoCompany,
    DemoOpportunity,
    DemoPerson,
    DemoUser,
    Outcome,
    StageStep,
)
from sandbox.demo_engagement import at, hubspot_contact
from sandbox.demo_pools import (
    CLOSED_WON,
    CONTACT_ROLES,
    EMAIL_PATTERNS,
    EMPLOYEE_BANDS,
    EN_COMPANY_SUFFIXES,
    EN_INDUSTRIES,
    EN_PRODUCTS,
    EN_TITLES,
    JA_CATEGORIES,
    JA_PRODUCTS,
    JA_REGIONS,
    JA_TITLES,
    LOSS_REASONS,
    OPEN_STAGES,
    FastRandom,
    NamePools,
    Weighted,
    lost_stage,
    name_pools,
    slug,
)

DAY = 86_400
USER_DOMAIN = "leadsync-demo.example.com"
_OPPS_PER_ACCOUNT = Weighted.of(((0, 20), (1, 45), (2, 25), (3, 10)))
_OUTCOMES: Weighted[Outcome] = Weighted.of((("lost", 60), ("won", 15), ("open", 25)))
_BANDS = Weighted.of((i, band[2]) for i, band in enumerate(EMPLOYEE_BANDS))
_LOSS_REASONS = Weighted.of(LOSS_REASONS)
_AMOUNT_RANGES = ((300_000, 3_000_000), (1_000_000, 10_000_000), (3_000_000, 30_000_000),
                  (10_000_000, 100_000_000))
_PRIMARY_ROLES = ("Decision Maker", "Economic Buyer", "Executive Sponsor")


def make_users(people: int, seed: int) -> tuple[DemoUser, ...]:
    """Salesforce Users: 3 plus one per 100 people, at most 50; about half with Japanese names. Every
    third user after the first three has left (inactive): they still own some old opportunities, never
    accounts (an admin transfers a leaver's accounts, rarely their closed deals)."""
    rng = FastRandom(f"leadsync-demo-users:{seed}")
    pools = name_pools()
    users: list[DemoUser] = []
    taken: set[str] = set()
    for i in range(min(50, 3 + people // 100)):
        japanese = rng.random() < 0.5
        (first, f), (last, lst) = (rng.weighted(pools.ja_first if japanese else pools.en_first),
                                   rng.weighted(pools.ja_last if japanese else pools.en_last))
        local = f"{f}.{lst}"
        while local in taken:
            local += str(rng.randint(0, 9))
        taken.add(local)
        email = f"{local}@{USER_DOMAIN}"
        users.append(DemoUser(key=f"U{i}", first_name=first, last_name=last, username=email, email=email,
                              alias=(f[:1] + lst)[:8], active=not (i >= 3 and i % 3 == 0)))
    return tuple(users)


def iter_accounts(book: DemoBook) -> Iterator[DemoAccount]:
    return _Generator(book).run()


class _Generator:
    def __init__(self, book: DemoBook):
        self.book = book
        self.now = int(book.now.timestamp())
        self.rng = FastRandom(f"leadsync-demo:{book.seed}")
        self.pools: NamePools = name_pools()
        self.seen: Counter[str] = Counter()
        self.n_people = self.n_companies = self.n_opps = self.n_lost = 0
        self.domains: Counter[str] = Counter()
        self.stage_order = list(OPEN_STAGES)
        self.rng.shuffle(self.stage_order)
        self.reason_order = [r for r, _ in LOSS_REASONS]
        self.rng.shuffle(self.reason_order)
        self.opp_span: dict[str, tuple[Outcome, int, int]] = {}  # this account's deals: (outcome, start, end)

    def chance(self, flag: str, p: float, position: int, after: int) -> bool:
        """True with probability p; also True for the first eligible draw at or past `after` when
        the book has none of `flag` yet (so small books show every case)."""
        hit = self.rng.random() < p or (self.seen[flag] == 0 and position >= after)
        if hit:
            self.seen[flag] += 1
        return hit

    def run(self) -> Iterator[DemoAccount]:
        while self.n_people < self.book.people:
            yield self.account(self.book.people - self.n_people)

    # ---- companies
    def account(self, remaining: int) -> DemoAccount:
        rng = self.rng
        key = f"C{self.n_companies}"
        self.n_companies += 1
        self.opp_span.clear()
        band = rng.weighted(_BANDS)
        low, high, _w, (p_min, p_max) = EMPLOYEE_BANDS[band]
        employees = int(low * (high / low) ** rng.random()) if band == len(EMPLOYEE_BANDS) - 1 \
            else rng.randint(low, high)
        japanese = rng.random() < 0.6
        name, name_slug, industry = self.company_name(japanese)
        self.domains[name_slug] += 1
        suffix = "" if self.domains[name_slug] == 1 else str(self.domains[name_slug])
        domain = f"{name_slug}{suffix}.example.{'co.jp' if japanese else 'com'}"
        in_sf = not self.chance("hubspot_only_company", 0.08, self.n_companies, after=6)
        owner = rng.choice([u for u in self.book.users if u.active]).key
        pattern = rng.choice(EMAIL_PATTERNS)
        people = [self.person_draft(key, japanese, domain, pattern, in_sf)
                  for _ in range(min(remaining, rng.randint(p_min, p_max)))]
        sf_people = [p for p in people if p["in_sf"]]
        n_opps = rng.weighted(_OPPS_PER_ACCOUNT) if in_sf else 0
        opps = [self.opportunity(key, name, japanese, band, owner, sf_people) for _ in range(n_opps)]
        done, first = self.finish_people(people, opps)
        first = min([first, *(start for _, start, _ in self.opp_span.values())])
        created = at(first - rng.randint(0, 30 * DAY))
        company = DemoCompany(key=key, name=name, industry=industry, employees=employees,
                              country="Japan" if japanese else "United States", domain=domain,
                              japanese=japanese, owner_key=owner, in_salesforce=in_sf, created_at=created)
        return DemoAccount(company=company, people=tuple(done), opportunities=tuple(opps))

    def company_name(self, japanese: bool) -> tuple[str, str, str]:
        rng = self.rng
        if japanese:
            last, last_ascii = rng.weighted(self.pools.ja_last)
            region, region_ascii = rng.choice(JA_REGIONS)
            cat, cat_ascii, industry = rng.choice(JA_CATEGORIES)
            core = f"{region}{last}{cat}"
            name = f"株式会社{core}" if rng.random() < 0.6 else f"{core}株式会社"
            return name, "-".join(w for w in (region_ascii, last_ascii, cat_ascii) if w), industry
        (a, _), (b, _), (c, _) = (rng.weighted(self.pools.en_last) for _ in range(3))
        form = rng.random()
        if form < 0.5:
            name = f"{a} {rng.choice(EN_COMPANY_SUFFIXES)}"
        elif form < 0.85:
            name = f"{a}-{b}"
        else:
            name = f"{a}, {b} and {c}"
        return name, slug(name.replace(" and ", " ")), rng.choice(EN_INDUSTRIES)

    # ---- people
    def person_draft(self, company_key: str, japanese_company: bool, domain: str, pattern: str,
                     in_sf_company: bool) -> dict:
        rng, pos, pools = self.rng, self.n_people, self.pools
        self.n_people += 1
        japanese = rng.random() < (0.95 if japanese_company else 0.08)
        (first, f), (last, lst) = (rng.weighted(pools.ja_first if japanese else pools.en_first),
                                   rng.weighted(pools.ja_last if japanese else pools.en_last))
        if not in_sf_company or self.chance("hubspot_only", 0.10, pos, after=4):
            in_sf, in_hs = False, True
        elif self.chance("salesforce_only", 0.13, pos, after=2):
            in_sf, in_hs = True, False
        else:
            in_sf, in_hs = True, True
        email: str | None = None
        if in_hs or not self.chance("no_email", 0.35, pos, after=0):
            email = f"{pattern.format(f=f, l=lst, i=f[:1])}@{domain}"
        sf_email = email if in_sf else None
        if email and in_sf and in_hs and self.chance("case_duplicate", 0.10, pos, after=5):
            sf_email = _recase(rng, email)
        return {
            "key": f"P{pos}", "company_key": company_key, "first": first, "last": last,
            "japanese": japanese, "title": rng.choice(JA_TITLES if japanese else EN_TITLES),
            "email": email, "sf_email": sf_email, "in_sf": in_sf, "in_hs": in_hs, "pos": pos,
            "ascii": f"{f}.{lst}",
            "sf_opt_out": in_sf and self.chance("sf_opt_out", 0.04, pos, after=9),
        }

    def finish_people(self, drafts: list[dict], opps: list[DemoOpportunity]) -> tuple[list[DemoPerson], int]:
        """The people of one account, and the earliest instant any of them was created."""
        rng, now = self.rng, self.now
        taken: Counter[str] = Counter()
        by_person: dict[str, list[str]] = {}
        for opp in opps:
            for role in opp.contact_roles:
                by_person.setdefault(role.person_key, []).append(opp.key)
        done: list[DemoPerson] = []
        earliest = now
        for d in drafts:
            email, sf_email = d["email"], d["sf_email"]
            if email:  # two people of one company with the same address pattern: number the later one
                taken[email] += 1
                if taken[email] > 1:
                    local, _, dom = email.partition("@")
                    email = f"{local}{taken[email]}@{dom}"
                    sf_email = None if sf_email is None else (
                        email if sf_email.islower() else _recase(rng, email))
            mine = [self.opp_span[k] for k in by_person.get(d["key"], ())]
            if mine:
                created = min(start for _, start, _ in mine) - rng.randint(DAY, 90 * DAY)
            else:
                created = now - rng.randint(DAY, 4 * 365 * DAY)
            hubspot, hs_created = (hubspot_contact(self, d, email, created, mine) if d["in_hs"] and email
                                   else (None, created))
            if not d["in_sf"]:
                created = min(created, hs_created)
            earliest = min(earliest, created)
            done.append(DemoPerson(
                key=d["key"], company_key=d["company_key"], first_name=d["first"], last_name=d["last"],
                japanese=d["japanese"], title=d["title"], email=email, salesforce_email=sf_email,
                in_salesforce=d["in_sf"], sf_opted_out=d["sf_opt_out"], created_at=at(created),
                hubspot=hubspot,
            ))
        return done, earliest

    # ---- opportunities
    def opportunity(self, company_key: str, company_name: str, japanese: bool, band: int, owner: str,
                    sf_people: list[dict]) -> DemoOpportunity:
        rng, now = self.rng, self.now
        key = f"O{self.n_opps}"
        self.n_opps += 1
        outcome = rng.weighted(_OUTCOMES)
        # a small book still has a won deal, an open one, and a loss at every open stage
        if self.seen["won"] == 0 and self.n_opps >= 4:
            outcome = "won"
        elif self.seen["open"] == 0 and self.n_opps >= 6:
            outcome = "open"
        elif self.n_lost < len(OPEN_STAGES):
            outcome = "lost"
        self.seen[outcome] += 1
        loss_reason: str | None = None
        if outcome == "lost":
            at_stage = OPEN_STAGES.index(self.stage_order[self.n_lost % len(OPEN_STAGES)])
            loss_reason = (self.reason_order[self.n_lost] if self.n_lost < len(self.reason_order)
                           else rng.weighted(_LOSS_REASONS))
            end = now - self.loss_age_days() * DAY - rng.randint(0, 8 * 3600)
            self.n_lost += 1
            times = [*self.times_back(at_stage + 1, end), end]
            stages = (*OPEN_STAGES[: at_stage + 1], lost_stage(loss_reason))
        elif outcome == "won":
            end = now - rng.randint(10, 900) * DAY - rng.randint(0, 8 * 3600)
            times = [*self.times_back(len(OPEN_STAGES), end), end]
            stages = (*OPEN_STAGES, CLOSED_WON)
        else:
            created = now - rng.randint(3 * DAY, 150 * DAY)
            stages = OPEN_STAGES[: rng.randint(1, len(OPEN_STAGES))]
            times = [created, *sorted(rng.randint(created, now - 3600) for _ in stages[1:])]
        path = tuple(StageStep(stage, at(t)) for stage, t in zip(stages, times, strict=True))
        close_date = (path[-1].at.date() if outcome != "open"
                      else at(now + rng.randint(10, 120) * DAY).date())
        self.opp_span[key] = (outcome, times[0], times[-1])
        lo, hi = _AMOUNT_RANGES[band]
        product = rng.choice(JA_PRODUCTS if japanese else EN_PRODUCTS)
        return DemoOpportunity(
            key=key, company_key=company_key,
            name=f"{company_name} {product}" if japanese else f"{company_name} - {product}",
            owner_key=owner if rng.random() < 0.8 else rng.choice(self.book.users).key,
            amount=rng.randint(lo // 10_000, hi // 10_000) * 10_000, outcome=outcome, path=path,
            close_date=close_date, loss_reason=loss_reason if outcome == "lost" else None,
            contact_roles=self.roles(sf_people),
        )

    def loss_age_days(self) -> int:
        """5 days to 3 years; the first two losses of a book are the two ends of that range."""
        if self.n_lost < 2:
            return (5, 3 * 365)[self.n_lost]
        bucket = self.rng.random()
        if bucket < 0.4:
            return self.rng.randint(5, 90)
        if bucket < 0.7:
            return self.rng.randint(91, 365)
        return self.rng.randint(366, 3 * 365)

    def times_back(self, steps: int, end: int) -> list[int]:
        """When each of `steps` stages began, ending before `end`: each stage lasted 2-25 days."""
        times: list[int] = []
        t = end
        for _ in range(steps):
            t -= self.rng.randint(2 * DAY, 26 * DAY - 1)
            times.append(t)
        times.reverse()
        return times

    def roles(self, sf_people: list[dict]) -> tuple[ContactRole, ...]:
        if not sf_people:
            return ()
        chosen = self.rng.sample(sf_people, min(len(sf_people), self.rng.randint(1, 3)))
        return tuple(
            ContactRole(p["key"], self.rng.choice(_PRIMARY_ROLES if i == 0 else CONTACT_ROLES), i == 0)
            for i, p in enumerate(chosen)
        )


def _recase(rng: FastRandom, email: str) -> str:
    """The same address in another letter case (as someone typed it into Salesforce)."""
    local, _, domain = email.partition("@")
    if rng.random() < 0.7:
        variant = ".".join(w[:1].upper() + w[1:] for w in local.split(".")) + "@" + domain
    else:
        variant = email.upper()
    return variant if variant != email else email.upper()
