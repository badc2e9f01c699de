"""Test data built through the real services, so every test's case went through the same
transitions (and audit events) a real one does."""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.management import call_command

from odr import services
from odr.models import Dispute, Membership, Organisation, Profile, Region

User = get_user_model()
PASSWORD = "odr-demo-2026"
_seq = itertools.count(1)


def seed_demo() -> None:
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def demo_user(email: str) -> AbstractBaseUser:
    return User.objects.get(email=email)


def id_number_for(n: int) -> str:
    """A valid resident ID number (check character right), a different one for each n."""
    from odr.idnumber import id_check_char

    first17 = f"330523{1960 + n % 40}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return first17 + id_check_char(first17)


def make_user(
    email: str | None = None,
    *,
    name: str = "测试用户",
    password: str = PASSWORD,
    org: Organisation | None = None,
    role: str | None = None,
    id_number: str | None = None,
) -> AbstractBaseUser:
    """A user whose profile has a real name and (unless `id_number=""`) a resident ID
    number: what filing and accepting an invitation ask for first."""
    n = next(_seq)
    email = email or f"user{n}@example.com"
    user = User.objects.create_user(username=email, email=email, password=password)
    Profile.objects.create(
        user=user, real_name=name, id_number=id_number_for(n) if id_number is None else id_number
    )
    if org is not None and role is not None:
        Membership.objects.create(user=user, organisation=org, role=role)
    return user


def file_dispute(
    *,
    applicant: AbstractBaseUser | None = None,
    respondent_email: str = "citizen2@demo.odr",
    region_code: str = "330523000000",
    category: str = "debt",
    title: str = "借款未还",
) -> Dispute:
    """A dispute filed by citizen1 (by default) at county level: it goes to the county
    centre, where the demo mediator and coordinator work. An applicant without a resident
    ID number in their profile (demo staff) is given one first, as filing asks."""
    applicant = applicant or demo_user("citizen1@demo.odr")
    with_identity(applicant)
    return services.dispute_file(
        applicant=applicant,
        category=category,
        title=title,
        description="2025年3月借给李四人民币一万元，约定半年归还，至今未还。",
        request="归还借款一万元。",
        claim_amount=Decimal("10000.00"),
        region_code=region_code,
        respondent_name="李四",
        respondent_email=respondent_email,
    )


def with_identity(user: AbstractBaseUser) -> AbstractBaseUser:
    """The user's profile given a real name and a resident ID number if it lacks them."""
    profile, _created = Profile.objects.get_or_create(user=user)
    if not profile.real_name or not profile.id_number:
        profile.real_name = profile.real_name or "测试用户"
        profile.id_number = profile.id_number or id_number_for(user.pk + 500)
        profile.save()
    return user


def dispute_awaiting_intake(**kwargs) -> Dispute:
    dispute = file_dispute(**kwargs)
    respondent = demo_user(kwargs.get("respondent_email", "citizen2@demo.odr"))
    token = dispute.parties.get(role="respondent").invitation.token
    return services.invitation_accept(token=token, user=respondent, consent_online=True)


def dispute_in_mediation(**kwargs) -> Dispute:
    """Filed, accepted by the respondent, accepted by the county centre's coordinator and
    given to the demo mediator."""
    dispute = dispute_awaiting_intake(**kwargs)
    return services.dispute_accept(
        dispute=dispute,
        actor=demo_user("coordinator@demo.odr"),
        mediator=demo_user("mediator@demo.odr").pk,
    )


def county() -> Region:
    return Region.objects.get(code="330523000000")


# --- odr: disputes in every status, staff of an organisation ---------------------------


def staff_of(organisation: Organisation, role: str) -> AbstractBaseUser:
    """The organisation's first active member in this role (the demo account when the
    organisation has several)."""
    membership = (
        Membership.objects.filter(organisation=organisation, role=role, is_active=True)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    assert membership is not None, (organisation, role)
    return membership.user


def dispute_in_status(status: str, **kwargs) -> Dispute:
    """A dispute in `status`, filed with `file_dispute(**kwargs)` and moved there through
    the real services by the people of its own organisation (its coordinator, its first
    mediator): every status of CONTRACT §3, with the audit events a real case has."""
    S = Dispute.Status
    respondent = demo_user(kwargs.get("respondent_email", "citizen2@demo.odr"))
    if status == S.FILED:
        return file_dispute(**kwargs)
    if status == S.DECLINED:
        dispute = file_dispute(**kwargs)
        token = dispute.parties.get(role="respondent").invitation.token
        return services.invitation_decline(token=token, user=respondent, reason="不认识此人")
    dispute = dispute_awaiting_intake(**kwargs)
    if status == S.AWAITING_INTAKE:
        return dispute
    coordinator = staff_of(dispute.organisation, Membership.Role.COORDINATOR)
    if status == S.REJECTED:
        return services.dispute_reject(dispute=dispute, actor=coordinator, reason="不属受理范围")
    mediator = staff_of(dispute.organisation, Membership.Role.MEDIATOR)
    dispute = services.dispute_accept(dispute=dispute, actor=coordinator, mediator=mediator.pk)
    if status == S.IN_MEDIATION:
        return dispute
    if status == S.SETTLED:
        return services.dispute_settle(dispute=dispute, agreement_id=1)
    if status == S.FAILED:
        return services.dispute_fail(dispute=dispute, actor=mediator, reason="差距太大")
    if status == S.WITHDRAWN:
        return services.dispute_withdraw(dispute=dispute, actor=dispute.applicant.user)
    raise AssertionError(f"no way to a dispute in status {status!r}")


# --- settlement agreements (agreements app) --------------------------------------------


def signature_png_b64(width: int = 300, height: int = 120) -> str:
    """A drawn-looking signature: a dark stroke on a transparent canvas, base64 PNG."""
    import base64
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.line(
        [(20, height - 30), (width // 3, 25), (width // 2, height - 40), (width - 20, 30)],
        fill=(0, 0, 0, 255),
        width=6,
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def complete_agreement_data() -> dict:
    """Every element the content check asks for (the demo parties' profiles carry their ID
    numbers)."""
    from datetime import timedelta

    from django.utils import timezone

    due = (timezone.localdate() + timedelta(days=30)).isoformat()
    return {
        "facts": "2025年3月申请人借给被申请人人民币一万元，约定半年归还，至今未还。",
        "disputed_matters": "双方就借款的归还数额和期限发生争议。",
        "terms": [
            {
                "text": "被申请人向申请人归还借款人民币10,000.00元。",
                "kind": "money",
                "obligor": "respondent",
                "amount": "10000.00",
                "due_date": due,
                "place": "浙江省湖州市安吉县递铺街道",
            },
            {"text": "双方就本纠纷再无其他争议。", "kind": "other"},
        ],
        "performance_method": "银行转账至申请人指定账户。",
        "performance_place": "安吉县矛盾纠纷调解中心",
        "party_details": {
            "applicant": {"address": "安吉县递铺街道胜利西路1号"},
            "respondent": {"address": "安吉县孝丰镇三里村8号"},
        },
    }


def complete_particulars(dispute: Dispute) -> Dispute:
    """Every party's identity record as a court needs it (ID number, hence sex and birth
    date; ethnicity; occupation), the ID number from the party's profile when it has one.
    The addresses come with the draft's party details."""
    from odr.management.commands.seed_demo import demo_id_number

    for n, party in enumerate(dispute.parties.select_related("user__profile")):
        if party.id_number or not party.is_person:
            continue
        profile = getattr(party.user, "profile", None) if party.user else None
        party.id_number = (profile.id_number if profile else "") or demo_id_number(
            f"1990010{n % 9 + 1}", f"{n + 500:03d}"
        )
        party.ethnicity = party.ethnicity or "汉族"
        party.occupation = party.occupation or "农民"
        party.save(update_fields=["id_number", "ethnicity", "occupation"])
    return dispute


def agreement_draft(dispute: Dispute | None = None, **data):
    """A complete draft by the demo mediator on a dispute in mediation."""
    from agreements import services as agreement_services

    dispute = complete_particulars(dispute or dispute_in_mediation())
    return agreement_services.agreement_save_draft(
        dispute=dispute,
        actor=demo_user("mediator@demo.odr"),
        data={**complete_agreement_data(), **data},
    )


def agreement_signing(dispute: Dispute | None = None):
    """A complete draft opened for signature."""
    from agreements import services as agreement_services

    agreement = agreement_draft(dispute)
    return agreement_services.agreement_open(
        agreement=agreement, actor=demo_user("mediator@demo.odr")
    )


def agreement_sign_as(agreement, email: str):
    """Both signing steps as `email`, with a key made in the test (tests/signing.py)."""
    from tests.signing import sign_agreement

    return sign_agreement(agreement=agreement, actor=demo_user(email))


def signature_png(seed: int = 0) -> bytes:
    """A small hand-drawn-looking signature (a PNG with a stroke), as the signing canvas
    sends it."""
    from io import BytesIO

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (300, 100), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    points = [(20 + i * 26, 50 + ((i * 37 + seed * 11) % 40) - 20) for i in range(11)]
    draw.line(points, fill=(20, 20, 60, 255), width=5, joint="curve")
    out = BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def agreement_for(dispute: Dispute, *, status: str = "signing", signers: tuple = ()) -> object:
    """An agreement on `dispute` with money, act and instalment terms, built on the models
    directly; `signers` (roles, in signing order) sign it with certificates issued by the
    platform CA for keys made in the test, a second apart, each an incremental update of
    the document rendered once (Agreement.signing_pdf)."""
    from django.utils import timezone

    from agreements.models import Agreement

    mediator = dispute.mediator
    agreement = Agreement.objects.create(
        dispute=dispute,
        status=status,
        facts="申请人于2025年3月借给被申请人人民币一万元，约定半年归还，被申请人至今未还。"
        "双方就还款金额和期限发生争议。",
        terms=[
            {
                "text": "被申请人向申请人归还借款人民币壹万元。",
                "kind": "money",
                "obligor": "respondent",
                "obligee": "applicant",
                "amount": "10000.00",
                "due_date": "2026-12-31",
                "place": "浙江省湖州市安吉县递铺街道",
                "instalments": [
                    {"amount": "5000.00", "due_date": "2026-12-15"},
                    {"amount": "5000.00", "due_date": "2026-12-31"},
                ],
            },
            {
                "text": "被申请人向申请人书面赔礼道歉。",
                "kind": "act",
                "obligor": "respondent",
                "obligee": "applicant",
                "due_date": "2026-12-10",
            },
            {"text": "双方就本纠纷再无其他争议。", "kind": "other"},
        ],
        performance_method="以银行转账方式支付至申请人指定账户。",
        disputed_matters="双方就借款的归还数额和期限发生争议。",
        performance_place="安吉县递铺街道",
        party_details={
            "applicant": {"address": "安吉县递铺街道胜利西路1号"},
            "respondent": {"address": "安吉县孝丰镇三里村8号"},
        },
        created_by=mediator,
        opened_at=timezone.now(),
    )
    users = {
        "applicant": dispute.applicant.user,
        "respondent": dispute.respondent.user,
        "mediator": mediator,
    }
    if signers or status != "draft":
        from tests.signing import sign_directly

        sign_directly(agreement, users=users, roles=signers)
    return agreement


# --- judicial confirmation and performance (agreements.court) ---------------------------


def agreement_in_force(
    *, effective_at=None, matter: str = "civil", with_pdf: bool = True, **kwargs
):
    """A signed agreement in force since `effective_at` (default: now) on a dispute in
    mediation, built on the models directly (the signing services are tested elsewhere),
    with a money term paid in two instalments, an act and a closing clause, and a small
    real PDF standing in for the sealed agreement."""
    import hashlib
    from datetime import timedelta
    from io import BytesIO

    from django.core.files.base import ContentFile
    from django.utils import timezone
    from reportlab.pdfgen.canvas import Canvas

    from agreements.documents.fonts import register_fonts
    from agreements.models import Agreement

    effective_at = effective_at or timezone.now()
    dispute = dispute_in_mediation(**kwargs)
    day = timezone.localdate(effective_at)
    agreement = Agreement.objects.create(
        dispute=dispute,
        status=Agreement.Status.SIGNED,
        matter=matter,
        facts="2025年3月申请人借给被申请人人民币一万元，约定半年归还，至今未还。",
        disputed_matters="双方就借款的归还数额和期限发生争议。",
        terms=[
            {
                "text": "被申请人向申请人归还借款人民币10,000.00元。",
                "kind": "money",
                "obligor": "respondent",
                "obligee": "applicant",
                "amount": "10000.00",
                "instalments": [
                    {"amount": "6000.00", "due_date": (day + timedelta(days=10)).isoformat()},
                    {"amount": "4000.00", "due_date": (day + timedelta(days=40)).isoformat()},
                ],
            },
            {
                "text": "被申请人向申请人书面赔礼道歉。",
                "kind": "act",
                "obligor": "respondent",
                "obligee": "applicant",
                "due_date": (day + timedelta(days=5)).isoformat(),
            },
            {"text": "双方就本纠纷再无其他争议。", "kind": "other"},
        ],
        performance_method="银行转账至申请人指定账户。",
        performance_place="安吉县递铺街道",
        party_details={
            "applicant": {"address": "安吉县递铺街道胜利西路1号"},
            "respondent": {"address": "安吉县孝丰镇三里村8号"},
        },
        created_by=dispute.mediator,
        created_at=effective_at,
        opened_at=effective_at,
        effective_at=effective_at,
    )
    if with_pdf:
        buffer = BytesIO()
        canvas = Canvas(buffer, invariant=1)
        canvas.setFont(register_fonts(), 16)
        canvas.drawString(72, 760, f"人民调解协议书 {dispute.case_number}")
        canvas.save()
        data = buffer.getvalue()
        agreement.pdf.save(f"{agreement.document_id}.pdf", ContentFile(data), save=False)
        agreement.pdf_sha256 = hashlib.sha256(data).hexdigest()
        agreement.save()
    return agreement


def confirmation_pending(**kwargs):
    """Both parties of an agreement in force have applied, each by signing the joint
    application with a key made in the test (issue 9, point 5): the request is before
    the competent (demo) court."""
    from tests.signing import sign_application

    agreement = agreement_in_force(**kwargs)
    sign_application(agreement=agreement, actor=demo_user("citizen1@demo.odr"))
    return sign_application(agreement=agreement, actor=demo_user("citizen2@demo.odr"))


# The demo court's people (CONTRACT §1): its clerk dockets, its judge rules.
CLERK, JUDGE = "clerk@demo.odr", "judge@demo.odr"
_court_numbers = itertools.count(1)


def court_case_number(year: int | None = None) -> str:
    """A fresh number of the demo court's form, as its case system would give one."""
    from django.utils import timezone

    return f"（{year or timezone.localdate().year}）浙0523民特{next(_court_numbers)}号"


def confirmation_accepted(request=None, *, number: str | None = None, **kwargs):
    """The demo court's clerk docketed the request (a new pending one unless given) under
    a court case number."""
    from agreements.court import services as court_services

    request = request or confirmation_pending(**kwargs)
    return court_services.confirmation_accept(
        request=request,
        actor=demo_user(CLERK),
        court_case_number=number or court_case_number(),
    )


def confirmation_decided(request=None, *, decision: str = "confirmed", reason: str = "", **kwargs):
    """The demo court's judge ruled: on a docketed request (docketed first by the clerk
    when given one still pending, or a new one), or, for `not_accepted`, on a pending one."""
    from agreements.court import services as court_services

    if decision == "not_accepted":
        request = request or confirmation_pending(**kwargs)
        reason = reason or "本案不属于本院管辖。"
    elif request is None or request.status == "pending":
        request = confirmation_accepted(request, **kwargs)
    if decision == "rejected" and not reason:
        reason = "调解协议内容不明确，无法执行。"
    return court_services.confirmation_decide(
        request=request, actor=demo_user(JUDGE), decision=decision, reason=reason
    )


# --- mediation sessions (sessions app) ----------------------------------------------------


def dispute_in_mediation_at_village() -> Dispute:
    """A village case (余村) accepted by the village committee's coordinator and given to
    its mediator: a case that can still be sent up (escalate)."""
    dispute = dispute_awaiting_intake(region_code="330523101201")
    return services.dispute_accept(
        dispute=dispute,
        actor=demo_user("coordinator.yucun@demo.odr"),
        mediator=demo_user("mediator.yucun@demo.odr").pk,
    )


def session_in(status: str, *, dispute: Dispute | None = None, in_hours: float = 2):
    """A session of a case in mediation brought to `status` through the session services,
    by the case's mediator: offered times (proposed), one time (scheduled), the mediator
    entered the room (live), then ended it (ended), or cancelled it (cancelled)."""
    from datetime import timedelta

    from django.utils import timezone

    from sessions import services as session_services
    from sessions.models import MediationSession

    S = MediationSession.Status
    dispute = dispute or dispute_in_mediation()
    mediator = dispute.mediator
    when = timezone.now() + timedelta(hours=in_hours)
    if status == S.PROPOSED:
        return session_services.session_schedule(
            dispute=dispute, actor=mediator, proposed_times=[when, when + timedelta(days=1)]
        )
    session = session_services.session_schedule(dispute=dispute, actor=mediator, scheduled_at=when)
    if status == S.CANCELLED:
        return session_services.session_cancel(session=session, actor=mediator)
    if status in (S.LIVE, S.ENDED):
        session = session_services.session_start(session=session, actor=mediator)
    if status == S.ENDED:
        session = session_services.session_end(session=session, actor=mediator)
    return session


def room_in_session(session) -> dict[str, str]:
    """The case's mediator and both parties joined the session's room through the room
    services (the parties admitted): role → peer id. The connections are pretend ones
    (channel names only): for tests of what the room leaves behind, not of the socket."""
    from sessions import services as session_services

    dispute = session.dispute
    people = {"mediator": dispute.mediator}
    for party in dispute.parties.select_related("user"):
        people.setdefault(party.role, party.user)
    peers = {}
    for role, user in people.items():
        joined = session_services.room_join(
            session_id=session.pk, user=user, channel_name=f"test.{role}"
        )
        peers[role] = joined.peer.peer_id
    for role, peer_id in peers.items():
        if role != "mediator":
            session_services.room_admit(
                session_id=session.pk, actor_peer=peers["mediator"], peer_id=peer_id
            )
    return peers
