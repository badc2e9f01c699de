"""Demo data of CONTRACT §1: regions, organisations and accounts. Idempotent: running it
again updates what is there and creates nothing twice."""

from argparse import BooleanOptionalAction
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from odr.demo_history import demo_hotline_token, seed_history
from odr.identity import sex_from_id
from odr.idnumber import id_check_char
from odr.models import Grid, Membership, Organisation, Profile, Region, Window

REGIONS = [
    # code, name, level, parent code
    ("330000000000", "浙江省", Region.Level.PROVINCE, None),
    ("330500000000", "湖州市", Region.Level.CITY, "330000000000"),
    ("330523000000", "安吉县", Region.Level.COUNTY, "330500000000"),
    ("330523100000", "孝丰镇", Region.Level.TOWNSHIP, "330523000000"),
    ("330523100201", "横溪坞村", Region.Level.VILLAGE, "330523100000"),
    ("330523100202", "白杨村", Region.Level.VILLAGE, "330523100000"),
    ("330523101000", "天荒坪镇", Region.Level.TOWNSHIP, "330523000000"),
    ("330523101201", "余村", Region.Level.VILLAGE, "330523101000"),
    ("330523101202", "大溪村", Region.Level.VILLAGE, "330523101000"),
]

VILLAGE_CATEGORIES = ["neighbour", "family", "land", "debt", "damage"]
TOWNSHIP_CATEGORIES = [*VILLAGE_CATEGORIES, "contract", "labour", "property"]

ORGANISATIONS = [
    # key, name, kind, region, categories, case code
    (
        "village",
        "余村人民调解委员会",
        Organisation.Kind.VILLAGE_COMMITTEE,
        "330523101201",
        VILLAGE_CATEGORIES,
        "余村调",
    ),
    (
        "township",
        "天荒坪镇人民调解委员会",
        Organisation.Kind.TOWNSHIP_COMMITTEE,
        "330523101000",
        TOWNSHIP_CATEGORIES,
        "天荒坪调",
    ),
    (
        "centre",
        "安吉县社会矛盾纠纷调处化解中心",
        Organisation.Kind.COUNTY_CENTRE,
        "330523000000",
        [],
        "安吉矛调",
    ),
    ("court", "安吉县人民法院", Organisation.Kind.COURT, "330523000000", [], "浙0523民特"),
    # Confirms what belongs to an intermediate court (CPL 2023 Art. 205).
    (
        "intermediate_court",
        "湖州市中级人民法院",
        Organisation.Kind.INTERMEDIATE_COURT,
        "330500000000",
        [],
        "浙05民特",
    ),
]

# The people's mediation committee each organisation hosts, when it is not one itself:
# its name and seal are on the agreements (DESIGN.md §3).
COMMITTEES = {"centre": "安吉县人民调解委员会"}


# The county centre's stationed bodies (窗口, issue 10): kind, name, where, what to bring.
_ID_CARD = "居民身份证原件"
WINDOWS = [
    (Window.Kind.MEDIATION_COMMITTEE, "人民调解委员会窗口", "一楼1号窗口", _ID_CARD),
    (Window.Kind.PETITIONS, "信访接待窗口", "一楼2号窗口", _ID_CARD),
    (Window.Kind.LEGAL_AID, "法律援助窗口", "一楼3号窗口", f"{_ID_CARD}、经济困难证明"),
    (Window.Kind.TRAFFIC, "交通事故调解窗口", "二楼5号窗口", f"{_ID_CARD}、事故认定书"),
    (Window.Kind.MEDICAL, "医疗纠纷调解窗口", "二楼6号窗口", f"{_ID_CARD}、病历资料"),
    (Window.Kind.LABOUR, "劳动争议调解窗口", "二楼7号窗口", f"{_ID_CARD}、劳动合同或工资条"),
    (Window.Kind.FAMILY, "婚姻家庭调解窗口", "二楼8号窗口", _ID_CARD),
    (Window.Kind.LITIGATION, "法院诉讼服务窗口", "一楼4号窗口", f"{_ID_CARD}、起诉材料"),
    (Window.Kind.ARBITRATION, "仲裁窗口", "二楼9号窗口", f"{_ID_CARD}、仲裁协议"),
]
# A grid of the demo village and its grid worker (issue 10).
GRID = ("330523101201", "余村第一网格", "gridworker@demo.odr")


def demo_id_number(birth: str, serial: str) -> str:
    """A valid resident ID number of the county: the serial's last digit is odd for a
    man, even for a woman, and the check character is computed (GB 11643)."""
    first17 = f"330523{birth}{serial}"
    return first17 + id_check_char(first17)


# The demo citizens' full particulars, as a court document names them.
CITIZEN_PARTICULARS = {
    "citizen1@demo.odr": {
        "ethnicity": "汉族",
        "occupation": "农民",
        "address": "浙江省安吉县天荒坪镇余村18号",
    },
    "citizen2@demo.odr": {
        "ethnicity": "汉族",
        "occupation": "个体工商户",
        "address": "浙江省安吉县孝丰镇横溪坞村5组21号",
    },
}


ACCOUNTS: list[dict[str, Any]] = [
    {
        "email": "mediator@demo.odr",
        "name": "李调解",
        "org": "centre",
        "role": "mediator",
        "phone": "13900000001",
    },
    {
        "email": "coordinator@demo.odr",
        "name": "王协调",
        "org": "centre",
        "role": "coordinator",
        "phone": "13900000002",
    },
    {
        "email": "clerk@demo.odr",
        "name": "赵敏",
        "org": "court",
        "role": "clerk",
        "phone": "13900000003",
    },
    {
        "email": "judge@demo.odr",
        "name": "周明",
        "org": "court",
        "role": "judge",
        "phone": "13900000004",
    },
    {
        "email": "citizen1@demo.odr",
        "name": "张三",
        "phone": "13800000001",
        "id_number": demo_id_number("19800101", "123"),
    },
    {
        "email": "citizen2@demo.odr",
        "name": "李四",
        "phone": "13800000002",
        "id_number": demo_id_number("19850505", "456"),
    },
    {
        "email": "president@demo.odr",
        "name": "钱院长",
        "org": "court",
        "role": "president",
        "phone": "13900000005",
    },
    {
        "email": "reception@demo.odr",
        "name": "孙窗口",
        "org": "centre",
        "role": "reception",
        "phone": "13900000006",
    },
    {
        "email": "gridworker@demo.odr",
        "name": "钟网格",
        "org": "village",
        "role": "grid_worker",
        "phone": "13900000007",
    },
    {"email": "admin@demo.odr", "name": "平台管理员", "superuser": True},
    # Staff of the village and township committees, so that their cases can be worked too.
    {"email": "mediator.yucun@demo.odr", "name": "陈村调", "org": "village", "role": "mediator"},
    {
        "email": "coordinator.yucun@demo.odr",
        "name": "周村协",
        "org": "village",
        "role": "coordinator",
    },
    {
        "email": "mediator.tianhuangping@demo.odr",
        "name": "吴镇调",
        "org": "township",
        "role": "mediator",
    },
    {
        "email": "coordinator.tianhuangping@demo.odr",
        "name": "郑镇协",
        "org": "township",
        "role": "coordinator",
    },
]


class Command(BaseCommand):
    help = "Create or update the demo regions, organisations and accounts (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        # The past cases are made unless asked not to; the test suite's demo (ODR_TESTING)
        # leaves them out unless asked for, so that its counts and case numbers start clean.
        parser.add_argument(
            "--history",
            action=BooleanOptionalAction,
            default=not settings.TESTING,
            help="Make (or not) twelve months of past cases behind the dashboard.",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        password = settings.ODR_DEMO_PASSWORD
        regions: dict[str, Region] = {}
        for code, name, level, parent in REGIONS:
            regions[code], _ = Region.objects.update_or_create(
                code=code,
                defaults={
                    "name": name,
                    "level": level,
                    "parent": regions[parent] if parent else None,
                },
            )
        orgs: dict[str, Organisation] = {}
        for key, name, kind, region, categories, case_code in ORGANISATIONS:
            orgs[key], _ = Organisation.objects.update_or_create(
                name=name,
                defaults={
                    "kind": kind,
                    "region": regions[region],
                    "categories": categories,
                    "case_code": case_code,
                    "committee_name": COMMITTEES.get(key, ""),
                    "is_active": True,
                },
            )
        User = get_user_model()
        for spec in ACCOUNTS:
            user, _created = User.objects.get_or_create(
                username=spec["email"], defaults={"email": spec["email"]}
            )
            user.email = spec["email"]
            user.is_superuser = user.is_staff = bool(spec.get("superuser"))
            user.set_password(password)
            user.save()
            EmailAddress.objects.update_or_create(
                user=user, email=user.email, defaults={"verified": True, "primary": True}
            )
            id_number = spec.get("id_number", "")
            Profile.objects.update_or_create(
                user=user,
                defaults={
                    "real_name": spec["name"],
                    "phone": spec.get("phone", ""),
                    "id_number": id_number,
                    "sex": sex_from_id(id_number) if id_number else "",
                    **CITIZEN_PARTICULARS.get(spec["email"], {}),
                },
            )
            if "org" in spec:
                Membership.objects.update_or_create(
                    user=user,
                    organisation=orgs[spec["org"]],
                    role=spec["role"],
                    defaults={"is_active": True},
                )
        token = demo_hotline_token()
        for kind, name, location, bring in WINDOWS:
            Window.objects.update_or_create(
                organisation=orgs["centre"],
                kind=kind,
                defaults={"name": name, "location": location, "bring": bring, "is_active": True},
            )
        village, grid_name, worker = GRID
        grid, _created = Grid.objects.get_or_create(village=regions[village], name=grid_name)
        grid.workers.add(User.objects.get(username=worker))
        if options["history"]:
            made = seed_history(
                orgs=orgs,
                token=token,
                reception=User.objects.get(username="reception@demo.odr"),
                grid=grid,
            )
            if made:
                self.stdout.write(f"Made {made} past cases for the dashboard.")
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log in with:"))
        for spec in ACCOUNTS:
            role = spec.get("role") or ("superuser" if spec.get("superuser") else "citizen")
            self.stdout.write(f"  {spec['email']:<40} {password}   ({role})")
        self.stdout.write(
            f"  12345 hotline: Authorization: Bearer {settings.ODR_DEMO_HOTLINE_TOKEN}"
        )
