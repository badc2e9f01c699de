"""The PDFs of the court's own acts on a request for judicial confirmation (DESIGN.md §3):
the notice to supply materials (补正通知书), the order allowing the application to be
withdrawn or treating it as withdrawn (民事裁定书, 准许撤回 / 按撤回处理), and the record of
an inquiry of the parties (询问笔录). The ruling itself is agreements.court.documents'.

Court documents are Chinese only. Each names every party in full, from the one identity
list the agreement's documents print (agreements.selectors.document_parties), in the
court's words (odr.identity.describe); sign-off dates are in Chinese numerals. The law:
the SPC interpretation of the Civil Procedure Law, Art. 356 (补充陈述、补充证明材料, 询问)
and Art. 357 (撤回; 按撤回申请处理)."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer

from agreements.documents.chinese import cn_date, cn_numeral_date
from agreements.documents.fonts import FONT, CJKParagraph, EmbeddedFontCanvas, styles
from agreements.models import ConfirmationRequest, Inquiry, SupplementRequest
from agreements.selectors import document_parties
from odr.identity import PartyIdentity, describe

LAW_INTERPRETATION = "《最高人民法院关于适用〈中华人民共和国民事诉讼法〉的解释》"
ART_SUPPLEMENT = f"{LAW_INTERPRETATION}第三百五十六条"
ART_WITHDRAWAL = f"{LAW_INTERPRETATION}第三百五十七条"


def _p(text: str, style) -> Paragraph:
    return CJKParagraph(escape(text).replace("\n", "<br/>"), style)


def _build(story: list, *, title: str, footer: str) -> bytes:
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=28 * mm,
        rightMargin=26 * mm,
        topMargin=30 * mm,
        bottomMargin=25 * mm,
        title=title,
        author="",
        creator="ODR platform",
    )

    def draw(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8.5)
        canvas.setFillColor(colors.grey)
        canvas.drawCentredString(A4[0] / 2, 14 * mm, f"{footer}　第 {doc.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=draw, onLaterPages=draw, canvasmaker=EmbeddedFontCanvas)
    return buffer.getvalue()


def _parties(request: ConfirmationRequest) -> list[PartyIdentity]:
    return list(document_parties(request.agreement))


def _party_lines(parties: list[PartyIdentity], s: dict) -> list:
    # Every party of the joint application is 申请人 before the court.
    return [_p(line, s["body"]) for p in parties for line in describe(p, label="申请人")]


def _names(parties: list[PartyIdentity]) -> str:
    return "、".join(p.name for p in parties)


def _heading(request: ConfirmationRequest, title: str, s: dict) -> list:
    story = [_p(request.court.name, s["title"]), _p(title, s["title"])]
    if request.case_number:
        story.append(_p(request.case_number, s["case_number"]))
    return story


def _sign_off(court: str, day, s: dict, *, judge: str = "", clerk: str = "") -> KeepTogether:
    # An order is signed off by its judge (and the clerk); a notice by the court.
    lines: list = [Spacer(1, 6 * mm)]
    lines.append(_p(f"审判员　{judge}" if judge else court, s["right"]))
    lines.append(_p(cn_numeral_date(day), s["right"]))
    if clerk:
        lines.append(_p(f"书记员　{clerk}", s["right"]))
    return KeepTogether(lines)


# --- 补正通知书 -----------------------------------------------------------------------------


def render_supplement_notice(
    request: ConfirmationRequest, supplement: SupplementRequest, *, asked_by: str
) -> bytes:
    """The notice that the court needs more materials by a deadline; while they are
    awaited the period of review does not run."""
    s = styles()
    parties = _parties(request)
    story = _heading(request, "补 正 通 知 书", s)
    story += _party_lines(parties, s)
    story.append(Spacer(1, 2 * mm))
    story.append(
        _p(
            f"你们于{cn_date(request.submitted_at)}向本院申请司法确认调解协议"
            f"（{request.agreement.dispute.case_number}）。经审查，本院认为申请材料不充分、不完备，"
            f"依照{ART_SUPPLEMENT}的规定，请你们补充提交下列材料或者补充陈述：",
            s["indent"],
        )
    )
    story.append(_p(supplement.what, s["indent"]))
    story.append(
        _p(
            f"请于{cn_date(supplement.deadline)}前通过本平台提交。补正期间不计入本院审查期限。"
            f"无正当理由逾期未补正的，依照{ART_WITHDRAWAL}的规定，本院可以按撤回申请处理；"
            "尚未受理的，本院可以裁定不予受理。",
            s["indent"],
        )
    )
    story.append(_p(f"经办人：{asked_by}", s["indent"]))
    story.append(_sign_off(request.court.name, supplement.asked_at, s))
    return _build(story, title="补正通知书", footer=f"{request.court.name}　补正通知书")


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
    """The order ending the application before a ruling: the parties withdrew it (准许撤回),
    or did not supply the materials in time and it is treated as withdrawn (按撤回处理)."""
    s = styles()
    parties = _parties(request)
    names = _names(parties)
    story = _heading(request, "民 事 裁 定 书", s)
    story += _party_lines(parties, s)
    story.append(Spacer(1, 2 * mm))
    story.append(
        _p(
            f"申请人{names}于{cn_date(request.submitted_at)}向本院申请司法确认调解协议"
            f"（{request.agreement.dispute.case_number}）。",
            s["indent"],
        )
    )
    if lapsed is None:
        said = f"以“{reason.strip().rstrip('。')}”为由，" if reason.strip() else ""
        story += [
            _p(
                f"本院审查过程中，申请人{requested_by or names}{said}向本院申请撤回司法确认申请。",
                s["indent"],
            ),
            _p(
                "本院认为，确认调解协议的裁定作出前，当事人撤回申请，系其对自己权利的处分，"
                f"不违反法律规定。依照{ART_WITHDRAWAL}的规定，裁定如下：",
                s["indent"],
            ),
            _p(f"准许申请人{names}撤回司法确认申请。", s["indent"]),
        ]
    else:
        story += [
            _p(
                f"本院于{cn_date(lapsed.asked_at)}通知申请人于{cn_date(lapsed.deadline)}前补充"
                f"下列材料：{lapsed.what.strip().rstrip('。')}。申请人无正当理由未在限期内补正。",
                s["indent"],
            ),
            _p(f"依照{ART_WITHDRAWAL}的规定，裁定如下：", s["indent"]),
            _p(f"申请人{names}的司法确认申请按撤回申请处理。", s["indent"]),
        ]
    story.append(_p("本裁定书自即日起发生法律效力。", s["indent"]))
    story.append(_sign_off(request.court.name, decided_at, s, judge=judge_name, clerk=clerk_name))
    return _build(
        story,
        title="民事裁定书",
        footer=f"{request.court.name}　民事裁定书　{request.case_number}".rstrip("　"),
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
) -> bytes:
    """The record of an inquiry: when and where, who asked, who kept the record, who was
    present, the questions and answers as written, and each signature with its time."""
    from agreements.documents.chinese import cn_datetime

    s = styles()
    story = _heading(request, "询 问 笔 录", s)
    place = inquiry.place or ("本平台在线询问室" if inquiry.online else "")
    story += [
        _p(f"时间：{cn_datetime(inquiry.scheduled_at)}", s["body"]),
        _p(f"地点：{place}", s["body"]),
        _p(f"案由：申请司法确认调解协议（{request.agreement.dispute.case_number}）", s["body"]),
        _p(f"审判员：{judge_name}", s["body"]),
        _p(f"书记员：{clerk_name}", s["body"]),
        _p("到场人员：", s["body"]),
    ]
    story += [_p(line, s["indent"]) for p in present for line in describe(p, label="申请人")]
    story.append(Spacer(1, 3 * mm))
    story.append(_p("询问记录：", s["body"]))
    for line in inquiry.record.splitlines():
        if line.strip():
            story.append(_p(line.strip(), s["indent"]))
    story.append(Spacer(1, 4 * mm))
    story.append(_p("以上笔录经到场人员阅读无误，签名确认：", s["body"]))
    for sig in signatures:
        when = f"（电子签名，{cn_datetime(sig.signed_at)}）" if sig.signed_at else "（未签名）"
        story.append(_p(f"{sig.label}：{sig.name}{when}", s["body"]))
    return _build(
        story,
        title="询问笔录",
        footer=f"{request.court.name}　询问笔录　{request.case_number}".rstrip("　"),
    )
