"""The PDFs of the court's own acts on a request for judicial confirmation (DESIGN.md §3):
the notice to supply materials (补正通知书), the order allowing the application to be
withdrawn or treating it as withdrawn (民事裁定书, 准许撤回 / 按撤回处理), and the record of
an inquiry of the parties (询问笔录). The ruling itself is agreements.court.documents'.

Court documents are Chinese only and share the ruling's form (agreements.court.documents):
the serif face embedded, the court's name and the document's title, the court's own case
number once docketed, every party named from the one identity list the agreement froze
(never an e-mail address for a name), the mediation's number in full-width brackets as the
agreement prints it, page numbers 第n页　共N页, the document's own date as the PDF's
creation date. An order is signed off by its 审判员 and 书记员 by their real names, a
notice by the court; either way the date is in Chinese numerals under the court's seal,
and a sign-off that would stand alone on a page opens it with （此页无正文）. The law:
the SPC interpretation of the Civil Procedure Law, Art. 354 (materials missing from the
application: 限期补交), Art. 356 (补充陈述、补充证明材料, 询问) and Art. 357 (撤回;
按撤回申请处理)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from reportlab.platypus import KeepTogether, Spacer

from agreements.court.documents import (
    UNNAMED,
    _build,
    _mediation_date,
    _p,
    _seal_drawer,
    _SignOff,
    _styles,
    committee_of,
    joint_names,
    mediation_number,
    parties_of,
    party_lines,
)
from agreements.documents.chinese import cn_date, cn_numeral_date
from agreements.models import ConfirmationRequest, Inquiry, SupplementRequest
from odr.identity import PartyIdentity

LAW_INTERPRETATION = "《最高人民法院关于适用〈中华人民共和国民事诉讼法〉的解释》"
# Before docketing the court asks for the materials an application must bring (Art. 354:
# 限期补交); once docketed, for further statements and proof (Art. 356: 限期补充).
ART_MATERIALS = f"{LAW_INTERPRETATION}第三百五十四条"
ART_SUPPLEMENT = f"{LAW_INTERPRETATION}第三百五十六条"
ART_WITHDRAWAL = f"{LAW_INTERPRETATION}第三百五十七条"


def cn_time(value: datetime | None) -> str:
    """A moment as a court's record writes it: 2026年12月3日9时30分."""
    if value is None:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{cn_date(local)}{local.hour}时{local:%M}分"


def _span(start: datetime, end: datetime | None) -> str:
    """From when to when, as a record writes it: 2026年6月10日14时30分至15时05分 (the
    date again only when the end falls on another day)."""
    if end is None or end <= start:
        return cn_time(start)
    a, b = timezone.localtime(start), timezone.localtime(end)
    until = f"{b.hour}时{b:%M}分" if a.date() == b.date() else cn_time(end)
    return f"{cn_time(start)}至{until}"


def _named(name: str) -> str:
    return UNNAMED if "@" in (name or "") or not (name or "").strip() else name


def _heading(request: ConfirmationRequest, title: str, s: dict) -> list:
    story = [_p(request.court.name, s["court"]), _p(title, s["doc_title"])]
    # The court's own number once the clerk docketed it; none invented before.
    if request.case_number:
        story.append(_p(request.case_number, s["number"]))
    else:
        story.append(Spacer(1, 4))
    return story


def _agreement(request: ConfirmationRequest) -> str:
    """于2026年12月1日经安吉县人民调解委员会主持调解达成的（2026）安吉矛调第0001号调解协议."""
    agreement = request.agreement
    dispute = agreement.dispute
    return (
        f"于{_mediation_date(agreement)}经{committee_of(dispute)}主持调解达成的"
        f"{mediation_number(dispute)}调解协议"
    )


def _sign_off(
    paragraph, request: ConfirmationRequest, day, *, judge: str = "", clerk: str = ""
) -> KeepTogether:
    """The last paragraph with the sign-off under the court's seal: 审判员 and 书记员 for
    an order, the court's name for a notice."""
    sign_off = _SignOff(
        judge=judge,
        date=cn_numeral_date(day),
        clerk=clerk,
        seal=_seal_drawer(request.court),
        court=request.court.name,
    )
    return KeepTogether([paragraph, sign_off])


# --- 补正通知书 -----------------------------------------------------------------------------


def render_supplement_notice(
    request: ConfirmationRequest, supplement: SupplementRequest, *, asked_by: str
) -> bytes:
    """The notice to the applicants that the court needs more materials by a deadline;
    while they are awaited the period of review does not run. Addressed to every
    applicant by name, signed off by the court under its seal."""
    s = _styles()
    parties = parties_of(request.agreement)
    story = _heading(request, "补　正　通　知　书", s)
    applied = (
        f"你们于{cn_date(request.submitted_at)}向本院申请对你们{_agreement(request)}进行司法确认。"
    )
    if request.accepted_at:
        asked = [
            _p(
                f"{applied}本院于{cn_date(request.accepted_at)}立案受理。经审查，本院认为你们的"
                f"陈述或者提供的证明材料不充分、不完备。依照{ART_SUPPLEMENT}的规定，请你们于"
                f"{cn_date(supplement.deadline)}前通过本平台补充提交下列材料或者补充陈述：",
                s["indent"],
            ),
            _p(supplement.what, s["indent"]),
            _p(
                "补正期间不计入本院审查期限。无正当理由逾期未补正的，依照"
                f"{ART_WITHDRAWAL}的规定，本院可以按撤回申请处理。",
                s["indent"],
            ),
        ]
    else:
        asked = [
            _p(
                f"{applied}经审查，申请材料不完备。依照{ART_MATERIALS}的规定，请你们于"
                f"{cn_date(supplement.deadline)}前通过本平台补交下列材料：",
                s["indent"],
            ),
            _p(supplement.what, s["indent"]),
            _p(
                "补交期间不计入本院决定是否受理的期限。无正当理由逾期未补交的，本院可以"
                "按撤回申请处理或者裁定不予受理。",
                s["indent"],
            ),
        ]
    story += [_p(f"{'、'.join(p.name for p in parties)}：", s["body"]), *asked]
    if asked_by.strip():
        story.append(_p(f"经办人：{_named(asked_by)}", s["indent"]))
    story.append(_sign_off(_p("特此通知。", s["indent"]), request, supplement.asked_at))
    return _build(
        story,
        title="补正通知书",
        subject=request.case_number or mediation_number(request.agreement.dispute),
        author=request.court.name,
        issued=supplement.asked_at,
    )


# --- 民事裁定书（准许撤回 / 按撤回处理） ------------------------------------------------------


def render_withdrawal_order(
    request: ConfirmationRequest,
    *,
    judge_name: str,
    clerk_name: str,
    decided_at,
    requested_by: str = "",
    reason: str = "",
    lapsed: SupplementRequest | None = None,
) -> bytes:
    """The order ending the application before a ruling: the applicants withdrew it
    (裁定准许申请人撤回申请), or did not supply the materials in time and it is treated as
    withdrawn (按撤回处理). In the ruling's form: the parties without their telephone
    numbers, signed off by the judge and, once docketed, the clerk."""
    s = _styles()
    parties = [dataclasses.replace(p, phone="") for p in parties_of(request.agreement)]
    names = joint_names(parties)
    story = _heading(request, "民　事　裁　定　书", s)
    story += [_p(line, s["body"]) for line in party_lines(parties)]
    story.append(Spacer(1, 6))
    if request.accepted_at:
        story.append(
            _p(
                f"申请人{names}申请司法确认调解协议一案，本院于{cn_date(request.accepted_at)}"
                "立案受理。",
                s["indent"],
            )
        )
    else:
        story.append(
            _p(
                f"{cn_date(request.submitted_at)}，本院收到申请人{names}的司法确认申请书，"
                f"申请对其{_agreement(request)}进行司法确认。",
                s["indent"],
            )
        )
    if lapsed is None:
        asker = _named(requested_by) if requested_by else names
        asked = (
            f"于{cn_date(request.withdrawal_requested_at)}"
            if request.withdrawal_requested_at
            else ""
        )
        said = f"以“{reason.strip().rstrip('。')}”为由，" if reason.strip() else ""
        story += [
            _p(f"申请人{asker}{asked}{said}向本院申请撤回司法确认申请。", s["indent"]),
            _p(
                "本院认为，在本院作出是否确认调解协议的裁定前，申请人申请撤回司法确认申请，"
                "系对其权利的处分，不违反法律规定，应予准许。依照"
                f"{ART_WITHDRAWAL}的规定，裁定如下：",
                s["indent"],
            ),
            _p(f"准许申请人{names}撤回司法确认申请。", s["indent"]),
        ]
    else:
        story += [
            _p(
                f"本院于{cn_date(lapsed.asked_at)}通知申请人于{cn_date(lapsed.deadline)}前补充"
                f"下列材料：{lapsed.what.strip().rstrip('。')}。申请人无正当理由未在限期内补正。"
                f"依照{ART_WITHDRAWAL}的规定，裁定如下：",
                s["indent"],
            ),
            _p(f"申请人{names}的司法确认申请按撤回申请处理。", s["indent"]),
        ]
    last = _p("本裁定书自即日起发生法律效力。", s["indent"])
    story.append(_sign_off(last, request, decided_at, judge=judge_name, clerk=clerk_name))
    return _build(
        story,
        title="民事裁定书",
        subject=request.case_number or mediation_number(request.agreement.dispute),
        author=request.court.name,
        issued=decided_at,
    )


# --- 询问笔录 ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureLine:
    label: str  # 申请人, 审判员, 书记员
    name: str
    signed_at: object  # a datetime, or None while unsigned


def render_inquiry_record(
    request: ConfirmationRequest,
    inquiry: Inquiry,
    *,
    judge_name: str,
    clerk_name: str,
    present: list[PartyIdentity],
    signatures: list[SignatureLine],
    closed_at: datetime | None = None,
    attended_by: dict[int, str] | None = None,
) -> bytes:
    """The record of an inquiry as a court keeps it: when and where (the place, or the
    platform's online hearing room), the case, the judge who asked and the clerk who kept
    the record, who was present (in full), the questions and answers as written, and the
    signature of each person present, the judge and the clerk, with its time."""
    s = _styles()
    dispute = request.agreement.dispute
    story = _heading(request, "询　问　笔　录", s)
    # Who came for an organisation: "（法定代表人陈青山）", by party id.
    by = attended_by or {}
    came = "、".join(f"申请人{p.name}{by.get(p.party_id, '')}" for p in present)
    if inquiry.online:
        place = "本院在线询问室（通过本平台以视频方式进行）"
        if inquiry.place:
            place = f"{inquiry.place}（通过本平台以视频方式进行）"
    else:
        place = inquiry.place
    story += [
        _p(f"时间：{_span(inquiry.scheduled_at, inquiry.recorded_at)}", s["body"]),
        _p(f"地点：{place}", s["body"]),
        _p("案由：申请司法确认调解协议", s["body"]),
        _p(f"调解协议：{mediation_number(dispute)}（{committee_of(dispute)}）", s["body"]),
        _p(f"审判员：{_named(judge_name)}", s["body"]),
        _p(f"书记员：{_named(clerk_name)}（记录）" if clerk_name else "书记员：", s["body"]),
        _p(f"到场人员：{came}", s["body"]),
    ]
    story += [_p(line, s["indent"]) for line in party_lines(present)]
    story.append(Spacer(1, 8))
    story.append(_p("记录如下：", s["body"]))
    record = [_p(line.strip(), s["indent"]) for line in inquiry.record.splitlines() if line.strip()]
    signed_off: list = [Spacer(1, 10), _p("以上笔录经到场人员阅读无误，签名确认：", s["body"])]
    for sig in signatures:
        when = f"（电子签名，{cn_time(sig.signed_at)}）" if sig.signed_at else "（未签名）"
        signed_off.append(_p(f"{sig.label}：{_named(sig.name)}{when}", s["right"]))
    # The signatures never stand alone on a page: the record's last line goes with them.
    story += [*record[:-1], KeepTogether([*record[-1:], *signed_off])]
    signed = [sig.signed_at for sig in signatures if sig.signed_at]
    issued = closed_at or (max(signed) if signed else None) or inquiry.scheduled_at
    return _build(
        story,
        title="询问笔录",
        subject=request.case_number or mediation_number(dispute),
        author=request.court.name,
        issued=issued,
    )


__all__ = [
    "SignatureLine",
    "cn_time",
    "render_inquiry_record",
    "render_supplement_notice",
    "render_withdrawal_order",
]
