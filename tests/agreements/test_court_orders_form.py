"""The court's orders read as a clerk reads them (issue 8): the 补正通知书, the 民事裁定书
allowing withdrawal or treating the application as withdrawn, and the 询问笔录, in the
ruling's form — Chinese only, the serif face embedded, the court's name and own number,
审判员 and 书记员 by their real names, the date in Chinese numerals under the court's seal,
the sign-off never alone on a page, the document's own date as its creation date, no
e-mail as a name; and, in every court document, the mediation's number in full-width
brackets as the agreement prints it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from io import BytesIO

import pytest
import time_machine
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader

from agreements.court import documents, orders, services
from agreements.documents.chinese import cn_numeral_date
from agreements.documents.pdf import document_number
from agreements.models import ConfirmationRequest, Inquiry
from odr.models import Evidence, Party
from tests import factories
from tests.agreements.test_court_documents_form import (
    CREDIT,
    _dump,
    _flat,
    _fonts,
    _full_parties,
    _pages,
    _text,
)

pytestmark = pytest.mark.django_db
CR = ConfirmationRequest.Status
TZ = timezone.get_fixed_timezone(8 * 60)
MONDAY = datetime(2026, 6, 8, 9, 0, tzinfo=TZ)
NUMBER = "（2026）浙0523民特7号"
NAMES = "张三、王五与李四、安吉青山竹木制品有限公司"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _judge():
    return factories.demo_user(factories.JUDGE)


def _clerk():
    return factories.demo_user(factories.CLERK)


def _docketed() -> ConfirmationRequest:
    request = factories.confirmation_pending()
    _full_parties(request)
    return factories.confirmation_accepted(request, number=NUMBER)


def _read(field) -> bytes:
    with field.open("rb") as f:
        return f.read()


def _creation(pdf: bytes) -> str:
    return str(PdfFileReader(BytesIO(pdf)).trailer["/Info"]["/CreationDate"])


def _mediation(request: ConfirmationRequest) -> str:
    number = request.agreement.dispute.case_number
    # The platform keeps the mediation's number with half-width brackets; documents don't.
    assert number.startswith("("), number
    return document_number(number)


def _court_form(pdf: bytes, tmp_path, *, day) -> tuple[str, str]:
    """What every court document is: the serif face embedded, Chinese only (Latin only in
    a credit code), no e-mail, the court's name first, the mediation's number never with
    half-width brackets, its own date as its creation date, that date in Chinese numerals
    under the court's seal, pages counted 第n页共N页."""
    fonts = _fonts(pdf, tmp_path)
    assert fonts and all(row.split()[-5] == "yes" for row in fonts), fonts
    assert all("UMing" in row for row in fonts), fonts
    text = _text(pdf, tmp_path)
    flat = _flat(text)
    assert flat.startswith("安吉县人民法院"), flat[:40]
    assert not re.search(r"[A-Za-z]", text.replace(CREDIT, "")), re.findall(r"[A-Za-z]+", text)
    assert "@" not in text
    assert "(" not in text and ")" not in text
    assert _creation(pdf).startswith(f"D:{timezone.localtime(day).astimezone(TZ):%Y}"), _creation(
        pdf
    )
    assert _flat(cn_numeral_date(day)) in flat
    assert "样章" in flat  # the development seal drawn over the date
    pages = _pages(text)
    for n, page in enumerate(pages, 1):
        assert f"第{n}页共{len(pages)}页" in page
    return text, flat


def _sign_off_not_alone(flat_pages: list[str], first: str) -> None:
    """The sign-off stands on a page with body text, or under （此页无正文）."""
    last = flat_pages[-1]
    assert first in last
    before = last[: last.index(first)]
    assert before.startswith(documents.NO_TEXT) or "。" in before, last


# --- 补正通知书 -------------------------------------------------------------------------------


def test_the_supplement_notice_is_addressed_to_the_applicants_and_signed_off_by_the_court(
    demo, tmp_path
):
    with time_machine.travel(MONDAY, tick=False):
        request = _docketed()
        supplement = services.confirmation_supplement_ask(
            request=request,
            actor=_clerk(),
            what="请补充提交借条原件的照片。",
            deadline="2026-06-15",
        )
    pdf = _read(supplement.notice_pdf)
    _dump("order-supplement.pdf", pdf)
    text, flat = _court_form(pdf, tmp_path, day=supplement.asked_at)
    assert flat.startswith(f"安吉县人民法院补正通知书{NUMBER}")
    assert "补　正　通　知　书" in text or "补正通知书" in flat
    # Addressed to every applicant by name; no particulars, no telephone.
    assert f"{NAMES.replace('与', '、')}：你们于2026年6月8日向本院申请" in flat
    assert "13800000001" not in flat and "公民身份号码" not in flat
    assert f"{_mediation(request)}调解协议进行司法确认" in flat
    assert "请你们于2026年6月15日前通过本平台补充提交下列材料或者补充陈述：" in flat
    assert "请补充提交借条原件的照片。" in flat and "第三百五十六条" in flat
    # Docketed: Art. 356 and its consequence, Art. 357; nothing of an undocketed case.
    assert "本院于2026年6月8日立案受理。" in flat and "按撤回申请处理。" in flat
    assert "第三百五十四条" not in flat and "尚未受理" not in flat and "不予受理" not in flat
    assert "经办人：赵敏" in flat
    # Signed off by the court, not by a judge: 特此通知, the court's name, the date.
    assert "特此通知。" in flat
    tail = flat[flat.index("特此通知。") :]
    assert "安吉县人民法院" in tail and "二〇二六年六月八日" in tail
    assert "审判员" not in flat
    assert _creation(pdf).startswith("D:20260608")


def test_a_supplement_notice_before_docketing_asks_for_the_missing_materials(demo, tmp_path):
    with time_machine.travel(MONDAY, tick=False):
        request = factories.confirmation_pending()
        supplement = services.confirmation_supplement_ask(
            request=request,
            actor=_clerk(),
            what="请补交调解组织主持调解的证明。",
            deadline="2026-06-10",
        )
    pdf = _read(supplement.notice_pdf)
    _dump("order-supplement-pending.pdf", pdf)
    _, flat = _court_form(pdf, tmp_path, day=supplement.asked_at)
    # No number before docketing; Art. 354's 限期补交, not Art. 356's review.
    assert flat.startswith("安吉县人民法院补正通知书张三、李四：")
    assert "民特" not in flat and "立案受理" not in flat
    assert "第三百五十四条的规定，请你们于2026年6月10日前通过本平台补交下列材料：" in flat
    assert "第三百五十六条" not in flat and "本院审查期限" not in flat
    assert "补交期间不计入本院决定是否受理的期限。" in flat


# --- 民事裁定书（准许撤回） -----------------------------------------------------------------------


def test_the_order_allowing_withdrawal_is_in_the_rulings_form(demo, tmp_path):
    with time_machine.travel(MONDAY, tick=False):
        request = _docketed()
        services.confirmation_withdraw(
            request=request,
            actor=factories.demo_user("citizen2@demo.odr"),
            reason="双方已自行履行完毕",
        )
    with time_machine.travel(MONDAY + timedelta(days=2), tick=False):
        done = services.confirmation_withdraw_allow(request=request, actor=_judge())
    pdf = _read(done.withdrawal_order_pdf)
    _dump("order-withdrawal.pdf", pdf)
    text, flat = _court_form(pdf, tmp_path, day=done.withdrawn_at)
    assert flat.startswith(f"安吉县人民法院民事裁定书{NUMBER}申请人：张三，男，")
    # The parties in full, without telephones (as in the ruling).
    assert "申请人：安吉青山竹木制品有限公司，住所地" in flat and "委托代理人：刘律" in flat
    assert "联系电话" not in flat and "13800000001" not in flat
    assert f"申请人{NAMES}申请司法确认调解协议一案，本院于2026年6月8日立案受理。" in flat
    assert (
        "申请人李四于2026年6月8日以“双方已自行履行完毕”为由，向本院申请撤回司法确认申请。" in flat
    )
    assert "第三百五十七条" in flat and "裁定如下：" in flat
    assert f"准许申请人{NAMES}撤回司法确认申请。" in flat
    assert "本裁定书自即日起发生法律效力。" in flat
    # 审判员 and 书记员 by their real names, spaced as the ruling spaces them.
    assert "审判员周明" in flat and "书记员赵敏" in flat
    assert "二〇二六年六月十日" in flat and _creation(pdf).startswith("D:20260610")
    _sign_off_not_alone(_pages(text), "审判员周明")


def test_an_order_before_docketing_prints_no_number_and_no_clerk(demo, tmp_path):
    with time_machine.travel(MONDAY, tick=False):
        request = factories.confirmation_pending()
        services.confirmation_withdraw(
            request=request, actor=factories.demo_user("citizen1@demo.odr"), reason=""
        )
        done = services.confirmation_withdraw_allow(request=request, actor=_judge())
    pdf = _read(done.withdrawal_order_pdf)
    _, flat = _court_form(pdf, tmp_path, day=done.withdrawn_at)
    assert flat.startswith("安吉县人民法院民事裁定书申请人：")
    assert "民特" not in flat and "立案受理" not in flat
    assert "2026年6月8日，本院收到申请人张三与李四的司法确认申请书" in flat
    assert f"{_mediation(request)}调解协议进行司法确认。" in flat
    assert "审判员周明" in flat and "书记员" not in flat


def test_an_application_not_supplemented_in_time_is_treated_as_withdrawn_by_order(demo, tmp_path):
    with time_machine.travel(MONDAY, tick=False):
        request = _docketed()
        services.confirmation_supplement_ask(
            request=request, actor=_clerk(), what="补充身份证明", deadline="2026-06-10"
        )
    with time_machine.travel(MONDAY + timedelta(days=3), tick=False):
        done = services.confirmation_supplement_lapse(request=request, actor=_judge())
    pdf = _read(done.withdrawal_order_pdf)
    _dump("order-lapse.pdf", pdf)
    text, flat = _court_form(pdf, tmp_path, day=done.withdrawn_at)
    assert flat.startswith(f"安吉县人民法院民事裁定书{NUMBER}")
    assert "本院于2026年6月8日通知申请人于2026年6月10日前补充下列材料：补充身份证明。" in flat
    assert f"申请人{NAMES}的司法确认申请按撤回申请处理。" in flat
    assert "审判员周明" in flat and "书记员赵敏" in flat
    # Its true date, the day of the order, not the day of the notice.
    assert "二〇二六年六月十一日" in flat and _creation(pdf).startswith("D:20260611")
    _sign_off_not_alone(_pages(text), "审判员周明")


# --- 询问笔录 ---------------------------------------------------------------------------------


def test_the_inquiry_record_says_when_where_who_asked_who_recorded_and_who_signed(demo, tmp_path):
    with time_machine.travel(MONDAY, tick=False):
        request = _docketed()
        inquiry = services.confirmation_inquiry_schedule(
            request=request,
            actor=_judge(),
            scheduled_at=datetime(2026, 6, 10, 14, 30, tzinfo=TZ),
            online=True,
        )
    dispute = request.agreement.dispute
    present = [p.pk for p in dispute.parties.all() if p.user_id]
    with time_machine.travel(datetime(2026, 6, 10, 15, 5, tzinfo=TZ), tick=False):
        services.confirmation_inquiry_record(
            request=request,
            actor=_clerk(),
            inquiry=inquiry,
            record="审：调解协议是否是你们自愿达成的？\n张三：是的，自愿。\n李四：是自愿的。",
            present=present,
        )
        for user in (
            factories.demo_user("citizen1@demo.odr"),
            factories.demo_user("citizen2@demo.odr"),
            _judge(),
            _clerk(),
        ):
            services.confirmation_inquiry_sign(
                request=request, actor=user, inquiry=inquiry, password=factories.PASSWORD
            )
    inquiry = Inquiry.objects.get(pk=inquiry.pk)
    pdf = _read(inquiry.record_pdf)
    _dump("order-inquiry.pdf", pdf)
    fonts = _fonts(pdf, tmp_path)
    assert fonts and all(row.split()[-5] == "yes" and "UMing" in row for row in fonts)
    text = _text(pdf, tmp_path)
    flat = _flat(text)
    assert not re.search(r"[A-Za-z@]", text.replace(CREDIT, ""))
    assert "(" not in text
    assert flat.startswith(f"安吉县人民法院询问笔录{NUMBER}")
    # From the inquiry's time to the record's: never a signature before the time printed.
    assert "时间：2026年6月10日14时30分至15时05分" in flat
    assert "地点：本院在线询问室（通过本平台以视频方式进行）" in flat
    assert "案由：申请司法确认调解协议" in flat
    assert f"调解协议：{_mediation(request)}（" in flat
    assert "审判员：周明" in flat and "书记员：赵敏（记录）" in flat
    assert "到场人员：申请人张三、申请人李四" in flat
    assert "申请人：张三，男，1980年1月1日出生" in flat
    assert "记录如下：审：调解协议是否是你们自愿达成的？张三：是的，自愿。李四：是自愿的。" in flat
    # Everyone present, the judge and the clerk sign, by their real names, with the time.
    for line in ("申请人：张三", "申请人：李四", "审判员：周明", "书记员：赵敏"):
        assert f"{line}（电子签名，2026年6月10日15时05分）" in flat, line
    assert "第1页共1页" in flat
    # Its creation date is when the last signature closed it.
    assert _creation(pdf).startswith("D:20260610")


@pytest.mark.parametrize(
    ("signer", "agent", "line"),
    [
        ("陈青山", False, "安吉青山竹木制品有限公司（法定代表人陈青山）"),
        ("刘律", True, "安吉青山竹木制品有限公司（委托代理人刘律）"),
        # By real name, the agent signing from the company's own account.
        ("刘律", False, "安吉青山竹木制品有限公司（委托代理人刘律）"),
        # Neither: named, with no capacity the record cannot vouch for.
        ("王经理", False, "安吉青山竹木制品有限公司（王经理）"),
    ],
)
def test_an_organisation_signs_the_record_by_the_person_who_signed_for_it(
    demo, tmp_path, signer, agent, line
):
    from odr.models import Agent

    with time_machine.travel(MONDAY, tick=False):
        request = _docketed()
        inquiry = services.confirmation_inquiry_schedule(
            request=request,
            actor=_judge(),
            scheduled_at=datetime(2026, 6, 10, 14, 30, tzinfo=TZ),
            place="本院第三询问室",
        )
    dispute = request.agreement.dispute
    company = dispute.parties.get(kind="organisation")
    account = factories.make_user(
        f"{'agent' if agent else 'boss'}@qingshan.example.org", name=signer
    )
    company.user = account
    company.save(update_fields=["user"])
    if agent:
        Agent.objects.filter(party=company).update(user=account)
    request = ConfirmationRequest.objects.get(pk=request.pk)
    present = list(
        Party.objects.filter(dispute=dispute, user__isnull=False).values_list("pk", flat=True)
    )
    with time_machine.travel(datetime(2026, 6, 10, 15, 5, tzinfo=TZ), tick=False):
        services.confirmation_inquiry_record(
            request=request,
            actor=_clerk(),
            inquiry=inquiry,
            record="审：是否自愿？\n答：自愿。",
            present=present,
        )
        for user in (
            factories.demo_user("citizen1@demo.odr"),
            factories.demo_user("citizen2@demo.odr"),
            account,
            _judge(),
            _clerk(),
        ):
            services.confirmation_inquiry_sign(
                request=request, actor=user, inquiry=inquiry, password=factories.PASSWORD
            )
    inquiry = Inquiry.objects.get(pk=inquiry.pk)
    entry = next(e for e in inquiry.signed if e["user"] == account.pk)
    assert entry["role"] == "party" and entry["name"] == signer
    flat = _flat(_text(_read(inquiry.record_pdf), tmp_path))
    # The company signs by the person who signed for it, named with the capacity.
    assert f"申请人：{line}（电子签名，2026年6月10日15时05分）" in flat, flat
    # And came to the inquiry by that person.
    assert f"到场人员：申请人张三、申请人李四、申请人{line}" in flat, flat
    assert "申请人：张三（电子签名" in flat


def test_a_record_names_no_one_by_an_e_mail_address(demo, tmp_path):
    request = _docketed()
    Party.objects.filter(dispute=request.agreement.dispute, name="李四").update(
        name="lisi@example.org"
    )
    identities = documents.parties_of(request.agreement)
    inquiry = Inquiry(
        request=request,
        judge=_judge(),
        clerk=_clerk(),
        scheduled_at=MONDAY,
        place="本院第三询问室",
        record="审：是否自愿？\n答：自愿。",
    )
    pdf = orders.render_inquiry_record(
        request,
        inquiry,
        judge_name="周明",
        clerk_name="赵敏",
        present=identities,
        signatures=[orders.SignatureLine("申请人", "lisi@example.org", MONDAY)],
    )
    flat = _flat(_text(pdf, tmp_path))
    assert "@" not in flat and "地点：本院第三询问室" in flat
    assert f"申请人：{documents.UNNAMED}（电子签名，2026年6月8日9时00分）" in flat


# --- the application: evidence and the mediation's number --------------------------------


def test_the_application_counts_evidence_as_a_court_form_does(demo, tmp_path):
    request = factories.confirmation_pending()
    request.submitted_at = MONDAY
    mediation = _mediation(request)
    empty = _flat(_text(documents.render_application(request, evidence=[]), tmp_path))
    assert "2.证据：无；" in empty and "0份" not in empty
    assert f"1.人民调解协议书一份，调解案号{mediation}；" in empty
    assert f"证据清单调解案号{mediation}" in empty
    assert "(" not in empty
    evidence = [
        Evidence(filename="借条.jpg", description="借款事实", size=2048, sha256="a" * 64),
        Evidence(filename="转账记录.pdf", description="交付借款", size=4096, sha256="b" * 64),
    ]
    some = _flat(_text(documents.render_application(request, evidence=evidence), tmp_path))
    assert "2.证据清单一份，证据2份；" in some and "证据：无" not in some
    # The agreement prints the same number the same way.
    from agreements.documents.pdf import render_agreement_pdf

    agreement_text = _flat(_text(render_agreement_pdf(request.agreement), tmp_path))
    assert mediation in agreement_text


def test_a_ruling_not_to_accept_prints_the_courts_number_under_its_title(demo, tmp_path):
    request = factories.confirmation_pending()
    request.case_number = "（2026）浙0523民特12号"
    for preview in (True, False):
        pdf = documents.render_ruling(
            request,
            judge_name="周明",
            preview=preview,
            decision="not_accepted",
            reason="不属本院管辖",
        )
        flat = _flat(_text(pdf, tmp_path))
        assert "民事裁定书（2026）浙0523民特12号申请人：" in flat, flat[:80]
        assert "本院不予受理" in flat


def test_the_packets_particulars_name_the_mediation_as_the_documents_do(demo):
    from agreements.court import package

    request = factories.confirmation_pending()
    text = package.particulars_text(request.agreement)
    assert text.startswith(f"当事人基本情况\n调解案号{_mediation(request)}\n")
    assert "(" not in text and ")" not in text


def test_the_records_signatures_never_stand_alone_on_a_page(demo, tmp_path):
    request = _docketed()
    identities = documents.parties_of(request.agreement)
    signatures = [
        orders.SignatureLine(label, name, MONDAY)
        for label, name in (("申请人", "张三"), ("申请人", "李四"), ("审判员", "周明"))
    ]
    paged = 0
    for n in range(20, 56, 2):
        inquiry = Inquiry(
            request=request,
            judge=_judge(),
            scheduled_at=MONDAY,
            place="本院第三询问室",
            record="\n".join(
                f"问：第{i}个问题？" if i % 2 else f"答：第{i}个回答。" for i in range(n)
            ),
        )
        pdf = orders.render_inquiry_record(
            request,
            inquiry,
            judge_name="周明",
            clerk_name="赵敏",
            present=identities,
            signatures=signatures,
        )
        pages = _pages(_text(pdf, tmp_path))
        paged += len(pages) > 1
        last = pages[-1]
        assert "以上笔录经到场人员阅读无误" in last
        assert re.search(r"[问答]：第\d+个", last.split("以上笔录")[0]), (n, last[:80])
    assert paged
