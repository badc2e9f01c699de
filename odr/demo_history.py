"""The demo's past (seed_demo, issue 10): the 12345 hotline's token and twelve months of
cases across the townships, villages and levels, some of them hotline tickets answered on
time or late and surveyed, so that the dashboard shows something true to look at.

Made in a few bulk inserts (fast), from a fixed random seed (the same history each time),
once: a second run finds the history's tickets and makes nothing."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import F
from django.utils import timezone

from odr import selectors
from odr.models import (
    CaseCounter,
    Dispute,
    Grid,
    GridReport,
    HotlineTicket,
    HotlineToken,
    Organisation,
    Party,
    Region,
    Visit,
)

DEMO_TOKEN_NAME = "演示12345热线"
HISTORY_TICKET_PREFIX = "AJ12345-DEMO-"
CASES = 360
# Quarrels the demo grid's worker settled on the spot over the year (no case opened).
SPOT = 40
# What visitors who filed nothing came to ask about at the windows.
ADVICE = [
    "咨询邻里纠纷处理途径",
    "咨询劳动合同问题",
    "咨询法律援助条件",
    "咨询离婚财产分割",
    "咨询交通事故赔偿",
]

S = Dispute.Status
# Where past cases come from: the villages mostly, the townships and the county seat too.
PLACES = [
    ("330523101201", 6),  # 余村: its committee settles what it can
    ("330523101202", 3),
    ("330523100201", 3),
    ("330523100202", 3),
    ("330523101000", 2),
    ("330523100000", 2),
    ("330523000000", 2),
]
CATEGORIES = [
    ("neighbour", 6),
    ("family", 4),
    ("land", 3),
    ("debt", 4),
    ("contract", 2),
    ("labour", 3),
    ("property", 2),
    ("traffic", 2),
    ("consumer", 1),
    ("damage", 2),
]
CHANNELS = [("online", 5), ("walk_in", 4), ("grid", 3), ("hotline", 3)]
OUTCOMES = [(S.SETTLED, 78), (S.FAILED, 9), (S.WITHDRAWN, 4), (S.REJECTED, 3)]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["建国", "秀英", "桂兰", "志强", "丽华", "海涛", "小红", "国平", "美玲", "伟", "芳", "军"]
TITLES = {
    "neighbour": "宅基地边界与排水纠纷",
    "family": "赡养费纠纷",
    "land": "承包地流转纠纷",
    "debt": "民间借贷纠纷",
    "contract": "买卖合同纠纷",
    "labour": "拖欠劳务费纠纷",
    "property": "物业服务费纠纷",
    "traffic": "交通事故赔偿纠纷",
    "consumer": "消费维权纠纷",
    "damage": "财产损害赔偿纠纷",
}


def demo_hotline_token() -> HotlineToken:
    """The demo's hotline token, whose value is ODR_DEMO_HOTLINE_TOKEN (CONTRACT §1)."""
    from odr.services.hotline import token_create, token_hash

    value = settings.ODR_DEMO_HOTLINE_TOKEN
    token = HotlineToken.objects.filter(name=DEMO_TOKEN_NAME).first()
    if token is None:
        token, _value = token_create(name=DEMO_TOKEN_NAME, value=value)
    elif token.key_hash != token_hash(value) or token.revoked_at is not None:
        token.key_hash, token.prefix, token.revoked_at = token_hash(value), value[:8], None
        token.save(update_fields=["key_hash", "prefix", "revoked_at"])
    return token


def _pick(rng: random.Random, weighted: list[tuple]) -> str:
    return rng.choices([v for v, _w in weighted], weights=[w for _v, w in weighted])[0]


def seed_history(
    *,
    orgs: dict[str, Organisation],
    token: HotlineToken,
    reception: AbstractBaseUser,
    grid: Grid,
) -> int:
    """Make the past cases once; the number made (0 when they exist). With them: the
    centre's reception visits (one for each walk-in case, and visitors who only asked for
    advice) and the quarrels the demo grid's worker settled on the spot."""
    if HotlineTicket.objects.filter(ticket_id__startswith=HISTORY_TICKET_PREFIX).exists():
        return 0
    rng = random.Random(2026)
    now = timezone.now()
    regions = {r.code: r for r in Region.objects.filter(code__in=[c for c, _w in PLACES])}
    routes: dict[tuple[str, str], Organisation | None] = {}
    above: dict[int, Organisation | None] = {}
    rows: list[dict] = []
    for n in range(CASES):
        code, category = _pick(rng, PLACES), _pick(rng, CATEGORIES)
        region = regions[code]
        if (code, category) not in routes:
            routes[code, category] = selectors.route_dispute(region=region, category=category)
        organisation = routes[code, category]
        if organisation is None:
            continue
        # A tenth of the cases went one level up before they ended (小事不出村、大事不出镇).
        if rng.random() < 0.1:
            if organisation.pk not in above:
                above[organisation.pk] = selectors.organisation_above(organisation, category)
            organisation = above[organisation.pk] or organisation
        created = now - timedelta(days=rng.uniform(0, 364), hours=rng.uniform(0, 23))
        age_days = (now - created).days
        days = rng.choice([1, 2, 3, 5, 7, 10, 14, 21, 30, 45])
        status = _pick(rng, OUTCOMES)
        if age_days < days:
            status = S.IN_MEDIATION if rng.random() < 0.7 else S.AWAITING_INTAKE
        closed = created + timedelta(days=days, hours=rng.uniform(0, 8))
        rows.append(
            {
                "n": n,
                "region": region,
                "organisation": organisation,
                "category": category,
                "created": created,
                "status": status,
                "closed": closed if status not in (S.IN_MEDIATION, S.AWAITING_INTAKE) else None,
                "channel": _pick(rng, CHANNELS),
                "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                "other": rng.choice(SURNAMES) + rng.choice(GIVEN),
                "phone": f"138{rng.randrange(10**8):08d}",
            }
        )
    numbers = _case_numbers(rows)
    filer = token.user
    disputes = Dispute.objects.bulk_create(
        [
            Dispute(
                case_number=numbers[row["n"]],
                status=row["status"],
                category=row["category"],
                title=TITLES[row["category"]],
                description="（演示历史案件）" + TITLES[row["category"]],
                region=row["region"],
                organisation=row["organisation"],
                filed_by=filer,
                channel=row["channel"],
                created_at=row["created"],
                intake_at=row["created"],
                accepted_at=row["created"] + timedelta(hours=4)
                if row["status"] != S.AWAITING_INTAKE
                else None,
                closed_at=row["closed"],
            )
            for row in rows
        ]
    )
    Party.objects.bulk_create(
        [
            Party(
                dispute=dispute,
                role=role,
                position=0,
                name=row[key],
                phone=row["phone"] if role == Party.Role.APPLICANT else "",
                accepted=True,
            )
            for dispute, row in zip(disputes, rows, strict=True)
            for role, key in ((Party.Role.APPLICANT, "name"), (Party.Role.RESPONDENT, "other"))
        ]
    )
    HotlineTicket.objects.bulk_create(
        [
            _ticket(rng, token, dispute, row, now)
            for dispute, row in zip(disputes, rows, strict=True)
            if row["channel"] == Dispute.Channel.HOTLINE
        ]
    )
    centre = orgs["centre"]
    visits = [
        Visit(
            organisation=centre,
            staff=reception,
            name=row["name"],
            phone=row["phone"],
            purpose=TITLES[row["category"]],
            created_at=row["created"] - timedelta(minutes=20),
            dispute=dispute,
        )
        for dispute, row in zip(disputes, rows, strict=True)
        if row["channel"] == Dispute.Channel.WALK_IN
    ]
    # Many who come to a window only ask (咨询) and file nothing: counted as visits too.
    for _n in range(len(visits) * 3 // 2):
        visits.append(
            Visit(
                organisation=centre,
                staff=reception,
                name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                purpose=rng.choice(ADVICE),
                created_at=now - timedelta(days=rng.uniform(0, 364)),
            )
        )
    Visit.objects.bulk_create(visits)
    GridReport.objects.bulk_create(
        [
            GridReport(
                client_uuid=uuid.UUID(int=rng.getrandbits(128)),
                grid=grid,
                worker=grid.workers.first(),
                category=category,
                place=grid.village.name,
                facts="（演示历史）" + TITLES[category],
                parties=[{"name": rng.choice(SURNAMES) + rng.choice(GIVEN)}],
                outcome=GridReport.Outcome.SETTLED,
                settlement="经网格员现场调解，双方各让一步，当场和解。",
                created_at=now - timedelta(days=rng.uniform(0, 364)),
            )
            for category in rng.choices(["neighbour", "family", "land", "damage"], k=SPOT)
        ]
    )
    return len(disputes)


def _ticket(
    rng: random.Random, token: HotlineToken, dispute: Dispute, row: dict, now
) -> HotlineTicket:
    received = row["created"]
    respond_by = received + timedelta(hours=settings.ODR_HOTLINE_RESPOND_HOURS)
    # Most are answered within the day, some late, a few not yet.
    answered = received + timedelta(hours=rng.choice([1, 2, 4, 6, 12, 20, 30, 48]))
    responded = answered if answered < now and rng.random() < 0.97 else None
    closed = row["closed"]
    status = HotlineTicket.Status.OPEN if responded is None else HotlineTicket.Status.RESPONDED
    if closed is not None:
        status = (
            HotlineTicket.Status.RESOLVED
            if row["status"] == S.SETTLED
            else HotlineTicket.Status.UNRESOLVED
        )
    surveyed = closed is not None and rng.random() < 0.8
    score = None
    if surveyed:
        score = rng.choice([5, 5, 5, 4, 4, 3]) if status == "resolved" else rng.choice([1, 2, 3])
    return HotlineTicket(
        ticket_id=f"{HISTORY_TICKET_PREFIX}{row['n']:04d}",
        token=token,
        dispute=dispute,
        status=status,
        caller_name=row["name"],
        caller_phone=row["phone"],
        text=dispute.description,
        received_at=received,
        respond_by=respond_by,
        responded_at=responded,
        closed_at=closed,
        survey_sent_at=closed,
        satisfaction=score,
        surveyed_at=closed + timedelta(hours=3) if surveyed else None,
    )


def _case_numbers(rows: list[dict]) -> dict[int, str]:
    """Numbers from each organisation's counter for the year, moved on past them, so that
    cases filed later continue the series."""
    by_key: dict[tuple[int, int], list[dict]] = {}
    for row in sorted(rows, key=lambda r: r["created"]):
        year = timezone.localdate(row["created"]).year
        by_key.setdefault((row["organisation"].pk, year), []).append(row)
    out: dict[int, str] = {}
    for (org_id, year), group in by_key.items():
        counter, _created = CaseCounter.objects.get_or_create(organisation_id=org_id, year=year)
        first = counter.last + 1
        CaseCounter.objects.filter(pk=counter.pk).update(last=F("last") + len(group))
        code = group[0]["organisation"].case_code
        for offset, row in enumerate(group):
            out[row["n"]] = f"({year}){code}第{first + offset:04d}号"
    return out
