"""The court's documents as PDFs: the joint application for judicial confirmation
(司法确认申请书, with its evidence list and the parties' service addresses) and the ruling
(民事裁定书), in the form a basic people's court issues and accepts.

They are Chinese legal documents filed with and issued by a Chinese court: Chinese only,
whatever the reader's interface language, set in the documents' serif face
(agreements.documents.fonts, settings.ODR_PDF_FONT), embedded and subset. Every party is
named with full particulars from the one identity list the agreement froze
(`agreements.selectors.document_parties`, printed by `odr.identity.describe`): the
originals the parties and the court hold are never masked. Every party of a judicial
confirmation is an applicant (申请人): the application is joint (CPL 2023 Art. 205), so
the documents label each party 申请人, applicants of the mediation first.

The ruling follows the SPC's form for special-procedure rulings: court, 民事裁定书, the
court's own case number as the clerk typed it, the parties, the body, the holding, then
the sign-off — 审判员 (the judge who ruled), the date in Chinese numerals under the court's
seal, 书记员 (the clerk who docketed it). The sign-off is kept on the page of the last
paragraph; should it still fall alone on a page, that page opens with （此页无正文）.

The same input gives the same bytes (reportlab's invariant mode with the document's own
date as its creation date), so a ruling's hash depends only on its content and seal."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
)

from agreements.documents.chinese import (
    amount_in_words,
    cn_date,
    cn_datetime,
    cn_numeral_date,
    format_amount,
    ordinal,
)
from agreements.documents.fonts import (
    FONT,
    FONT_BOLD,
    SEAL_RED,
    CJKParagraph,
    EmbeddedFontCanvas,
    register_fonts,
    styles,
    table_style,
)
from agreements.models import Agreement, ConfirmationRequest
from agreements.selectors import document_parties
from odr.errors import DomainError
from odr.identity import PartyIdentity, describe
from odr.idnumber import mask_id_number
from odr.models import Dispute, Evidence, Party

PAGE_W, PAGE_H = A4
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 28 * mm, 26 * mm, 30 * mm, 25 * mm
BODY_W = PAGE_W - MARGIN_L - MARGIN_R

CPL = "《中华人民共和国民事诉讼法》"
SPC = "《最高人民法院关于适用〈中华人民共和国民事诉讼法〉的解释》"
# Art. 205 the joint application within 30 days; Art. 206 the ruling (valid, or rejected).
LAW_APPLICATION = f"{CPL}第二百零五条"
LAW_RULING = f"{CPL}第二百零六条"
# 驳回 (rejected): CPL Art. 206 and the SPC interpretation Art. 358.
LAW_REJECTED = f"{CPL}第二百零六条、{SPC}第三百五十八条"
# 不予受理 (not accepted, before docketing): CPL Art. 157(1)(i) (a ruling decides it) and
# the SPC interpretation Art. 355.
LAW_NOT_ACCEPTED = f"{CPL}第一百五十七条第一款第一项、{SPC}第三百五十五条"
NO_TEXT = "（此页无正文）"
PREVIEW_MARK = "预览稿　未签发"
# A name that is an e-mail address is never printed as a party's name.
UNNAMED = "（姓名未登记）"

CR = ConfirmationRequest.Status


# --- the parties ------------------------------------------------------------------------


def _named(identity: PartyIdentity) -> PartyIdentity:
    if "@" in identity.name or not identity.name.strip():
        return dataclasses.replace(identity, name=UNNAMED)
    return identity


def parties_of(agreement: Agreement) -> list[PartyIdentity]:
    """The parties as the agreement froze them, applicants of the mediation first, with
    no e-mail address standing for a name."""
    return [_named(i) for i in document_parties(agreement)]


@dataclass(frozen=True)
class PartyInfo:
    """A party as the court's request page lists it (agreements.court.views)."""

    role: str
    name: str
    id_number_masked: str
    phone: str
    email: str
    address: str


def party_infos(agreement: Agreement) -> list[PartyInfo]:
    """The parties of `parties_of` for the court's page: identity (ID or credit code
    masked) and service addresses."""
    emails = _emails(agreement.dispute)
    # A party record without an ID number falls back to its account's verified one.
    profiles = {
        party.pk: getattr(party.user, "profile", None) if party.user_id else None
        for party in agreement.dispute.parties.select_related("user__profile")
    }
    out = []
    for p in parties_of(agreement):
        profile = profiles.get(p.party_id)
        id_number = p.id_number or (getattr(profile, "id_number", "") if profile else "")
        out.append(
            PartyInfo(
                role=p.role,
                name=p.name,
                id_number_masked=mask_id_number(id_number) if p.is_person else p.credit_code,
                phone=p.phone or (getattr(profile, "phone", "") if profile else ""),
                email=emails.get(p.party_id, ""),
                address=p.address,
            )
        )
    return out


def party_lines(parties: list[PartyIdentity]) -> list[str]:
    """Each party's paragraphs (particulars, legal representative, agents with their
    authority), all labelled 申请人: the application for confirmation is joint."""
    lines: list[str] = []
    for identity in parties:
        lines += describe(identity, label="申请人")
    return lines


def _side(parties: list[PartyIdentity], role: str) -> str:
    return "、".join(p.name for p in parties if p.role == role)


def joint_names(parties: list[PartyIdentity]) -> str:
    """申请人 A、B与C、D: the mediation's applicants, then its respondents."""
    applicants = _side(parties, Party.Role.APPLICANT)
    respondents = _side(parties, Party.Role.RESPONDENT)
    return "与".join(x for x in (applicants, respondents) if x)


def committee_of(dispute: Dispute) -> str:
    """The people's mediation committee that issued the agreement (a county centre hosts
    one: Organisation.issuer_name)."""
    organisation = dispute.organisation
    return organisation.issuer_name if organisation else "人民调解委员会"


def _yuan(amount) -> str:
    """人民币 in figures as a ruling writes it: 10,000.00元 (no ¥ sign)."""
    return f"{format_amount(amount).lstrip('¥')}元"


def term_lines(agreement: Agreement) -> list[str]:
    """Each agreed term as one sentence, with its amount in figures and capitals, its
    instalments and time limits, and its place, unless the term's own text says them."""
    lines = []
    for term in agreement.terms or []:
        text = str(term.get("text") or "").strip()
        extra = []
        amount = term.get("amount")
        if amount not in (None, ""):
            figures, words = _yuan(amount), amount_in_words(amount)
            if figures not in text and words not in text:
                extra.append(f"人民币{figures}（大写：{words}）")
            elif words not in text:
                extra.append(f"大写：{words}")
        instalments = term.get("instalments") or []
        if instalments:
            parts = [
                f"第{ordinal(i)}期于{cn_date(inst.get('due_date'))}前支付"
                f"{_yuan(inst.get('amount') or 0)}"
                for i, inst in enumerate(instalments, 1)
            ]
            extra.append("分期履行：" + "；".join(parts))
        elif term.get("due_date") and cn_date(term["due_date"]) not in text:
            extra.append(f"于{cn_date(term['due_date'])}前履行")
        if term.get("place") and term["place"] not in text:
            extra.append(f"履行地点：{term['place']}")
        if extra:
            text = f"{text.rstrip('。')}（{'，'.join(extra)}）。"
        lines.append(text)
    return lines


def mediation_number(dispute: Dispute) -> str:
    """The mediation's case number as every court document prints it, in full-width
    brackets as the agreement does: （2026）安吉矛调第0001号."""
    from agreements.documents.pdf import document_number

    return document_number(dispute.case_number)


def _mediation_date(agreement: Agreement) -> str:
    return cn_date(agreement.effective_at or agreement.opened_at or agreement.created_at)


# --- layout helpers ---------------------------------------------------------------------


def _p(text: str, style) -> Paragraph:
    return CJKParagraph(escape(text).replace("\n", "<br/>"), style)


def _pdf_date(value: datetime) -> str:
    utc = value.astimezone(UTC) if timezone.is_aware(value) else value
    return f"D:{utc:%Y%m%d%H%M%S}+00'00'"


class _PagedCanvas(EmbeddedFontCanvas):
    """第 n 页 共 N 页 at the foot of every page once the count is known, the document's
    own date as the PDF's creation date (reportlab's invariant mode would write
    2000-01-01), and, for a preview, 预览 across every page."""

    def __init__(self, *args, issued: str = "", preview: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._saved: list[dict] = []
        self._preview = preview
        self.setDateFormatter(lambda *_: issued)

    def showPage(self) -> None:
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self.saveState()
            self.setFont(FONT, 9)
            self.setFillColor(colors.Color(0.3, 0.3, 0.3))
            self.drawCentredString(PAGE_W / 2, 14 * mm, f"第{self._pageNumber}页　共{total}页")
            if self._preview:
                _preview_mark(self)
            self.restoreState()
            super().showPage()
        super().save()


def _preview_mark(canvas) -> None:
    canvas.setFillColor(colors.Color(0.8, 0.1, 0.1, alpha=0.16))
    canvas.setFont(FONT_BOLD, 64)
    canvas.saveState()
    canvas.translate(PAGE_W / 2, PAGE_H / 2)
    canvas.rotate(35)
    canvas.drawCentredString(0, 0, "预览　草稿")
    canvas.restoreState()
    canvas.setFillColor(colors.Color(0.75, 0.1, 0.1))
    canvas.setFont(FONT, 10)
    canvas.drawCentredString(
        PAGE_W / 2, PAGE_H - 16 * mm, f"{PREVIEW_MARK}：未加盖印章，不具有法律效力"
    )


def _build(
    story: list, *, title: str, subject: str, author: str, issued: datetime, preview: bool = False
) -> bytes:
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_L,
        rightMargin=MARGIN_R,
        topMargin=MARGIN_T,
        bottomMargin=MARGIN_B,
        title=title,
        subject=subject,
        author=author,
        creator="ODR",
        invariant=1,
    )
    date = _pdf_date(issued)
    doc.build(
        story,
        canvasmaker=lambda *a, **kw: _PagedCanvas(*a, issued=date, preview=preview, **kw),
    )
    return buffer.getvalue()


def _table(rows: list[list], widths: list[float], s: dict) -> Table:
    data = [
        [_p(str(c), s["cell"]) if not isinstance(c, Flowable) else c for c in row] for row in rows
    ]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        table_style(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


def _styles() -> dict:
    s = styles()
    s["body"] = s["body"].clone("court_body", fontSize=12, leading=21)
    s["indent"] = s["body"].clone("court_indent", firstLineIndent=24)
    s["court"] = s["body"].clone(
        "court_name", fontName=FONT_BOLD, fontSize=18, leading=26, alignment=1, spaceAfter=2
    )
    s["doc_title"] = s["body"].clone(
        "doc_title", fontName=FONT_BOLD, fontSize=22, leading=30, alignment=1, spaceAfter=6
    )
    s["number"] = s["body"].clone("number", alignment=2, spaceAfter=10)
    s["no_text"] = s["body"].clone("no_text", alignment=0)
    return s


# --- the application ---------------------------------------------------------------------


def _consent_times(request: ConfirmationRequest, parties: list[PartyIdentity]) -> dict:
    """When each party applied: its own consent row, else its side's column."""
    by_party = {}
    if request.pk:
        for consent in request.consents.all():
            by_party[consent.party_id] = consent.consented_at
    if by_party:
        # Each party's own consent, or none: a side's time is not another party's.
        return {p.party_id: by_party.get(p.party_id) for p in parties}
    # Before consents per party: the side's column is its first party's consent.
    side = {
        Party.Role.APPLICANT: request.applicant_consented_at,
        Party.Role.RESPONDENT: request.respondent_consented_at,
    }
    out, seen = {}, set()
    for p in parties:
        out[p.party_id] = side.get(p.role) if p.role not in seen else None
        seen.add(p.role)
    return out


def _applied(when: datetime | None) -> str:
    return f"（{cn_datetime(when)}在线确认申请）" if when else ""


def _emails(dispute: Dispute) -> dict[int, str]:
    """The address each party is served at electronically (never printed as a name)."""
    out = {}
    for party in dispute.parties.select_related("user"):
        out[party.pk] = party.email or (party.user.email if party.user_id else "")
    return out


def _signature_rows(parties: list[PartyIdentity], boxes: dict, s: dict) -> Table:
    """Each party's line 申请人：name with an empty box beside it, where that party's
    signature field (their drawn signature, made with their own device key) will sit;
    each box records its place in `boxes` under the party's key ("party:<id>")."""
    from agreements.documents.pdf import FIELD_H, FIELD_W, _FieldBox
    from agreements.selectors import party_key

    rows = [
        [_p(f"申请人：{party.name}", s["right"]), _FieldBox(party_key(party.party_id), boxes)]
        for party in parties
    ]
    table = Table(rows, colWidths=[BODY_W - FIELD_W - 8, FIELD_W + 8], rowHeights=FIELD_H + 10)
    table.setStyle(
        table_style(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (1, 0), (1, -1), 6),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _record_place(parties: list[PartyIdentity], boxes: dict | None, s: dict) -> list:
    """In the document the parties sign (issue 9, point 5): the last item of the
    attachments ("附：" … "5. 签署完成记录"), the place where the platform seal, after the
    last party, shows the completion record (each party's signer, time, certificate and
    address) as its visible appearance, as on the agreement's audit page; the place is
    recorded in `boxes` (RECORD_BOX). One "附：" list, as a court's form has."""
    if boxes is None:
        return []
    from agreements.documents.pdf import RECORD_BOX, _FieldBox, record_height

    return [
        KeepTogether(
            [
                _p("5. 签署完成记录（各申请人签署后由平台电子印章附加于下方）。", s["body"]),
                Spacer(1, 1 * mm),
                _FieldBox(RECORD_BOX, boxes, width=BODY_W, height=record_height(len(parties))),
            ]
        )
    ]


def render_application(
    request: ConfirmationRequest, *, evidence: list[Evidence], boxes: dict | None = None
) -> bytes:
    """The 司法确认申请书 every party files jointly: the parties with full particulars,
    the request, facts and reasons with the agreed terms, the parties' undertaking, the
    court, each party's online application and the date in Chinese numerals; then the
    evidence list and the parties' service addresses.

    With `boxes` (a dict to fill) it is the document the parties sign (issue 9, point
    5): rendered once when the first party applies, each party's line has an empty box
    for their signature field, and `boxes` receives where each box is."""
    agreement = request.agreement
    dispute: Dispute = agreement.dispute
    s = _styles()
    parties = parties_of(agreement)
    names = joint_names(parties)
    committee = committee_of(dispute)
    court = request.court.name
    submitted = request.submitted_at or timezone.now()
    story: list = [_p("司法确认申请书", s["doc_title"]), Spacer(1, 2 * mm)]
    story += [_p(line, s["body"]) for line in party_lines(parties)]
    story += [
        _p("请求事项", s["heading"]),
        _p(
            f"确认申请人{names}于{_mediation_date(agreement)}经{committee}主持调解达成的"
            "调解协议有效。",
            s["indent"],
        ),
        _p("事实和理由", s["heading"]),
        _p(
            f"申请人之间因{dispute.title}发生纠纷，经{committee}主持调解，于"
            f"{_mediation_date(agreement)}自愿达成如下调解协议：",
            s["indent"],
        ),
    ]
    for i, line in enumerate(term_lines(agreement), 1):
        story.append(_p(f"{ordinal(i)}、{line}", s["indent"]))
    story += [
        _p(
            f"该调解协议已由各方当事人和人民调解员签名并加盖{committee}印章，于"
            f"{cn_date(agreement.effective_at)}生效。依照《中华人民共和国人民调解法》第三十三条"
            f"和{LAW_APPLICATION}的规定，申请人在调解协议生效之日起三十日内共同向"
            f"{court}申请司法确认。",
            s["indent"],
        ),
        _p(
            "申请人承诺：出于解决纠纷的目的自愿达成调解协议，没有恶意串通、规避法律的行为；"
            "所提交的材料真实、合法；如因调解协议内容给他人造成损害的，愿意承担相应的民事责任"
            "和其他法律责任。",
            s["indent"],
        ),
        _p("此致", s["indent"]),
        _p(court, s["body"]),
        Spacer(1, 4 * mm),
    ]
    if boxes is not None:
        story.append(_signature_rows(parties, boxes, s))
    else:
        times = _consent_times(request, parties)
        for party in parties:
            when = times.get(party.party_id)
            story.append(
                _p(
                    f"申请人：{party.name}{_applied(when)}",
                    s["right"],
                )
            )
    story += [
        _p(cn_numeral_date(submitted), s["right"]),
        _p("附：", s["body"]),
        _p(f"1. 人民调解协议书一份，调解案号{mediation_number(dispute)}；", s["body"]),
        # No evidence: the list says so; the attachments count none rather than 0份.
        _p(
            f"2. 证据清单一份，证据{len(evidence)}份；" if evidence else "2. 证据：无；",
            s["body"],
        ),
        _p("3. 申请人身份证明、委托代理人的授权委托书；", s["body"]),
        # The signing record, when there is one, is the list's fifth item.
        _p("4. 当事人送达地址确认书" + ("；" if boxes is not None else "。"), s["body"]),
        *_record_place(parties, boxes, s),
        PageBreak(),
        _p("证据清单", s["doc_title"]),
        _p(f"调解案号{mediation_number(dispute)}", s["number"]),
    ]
    rows: list[list] = [["序号", "名称", "证明内容", "提交人", "大小", "校验值"]]
    submitters = _submitters(dispute)
    for i, item in enumerate(evidence, 1):
        rows.append(
            [
                str(i),
                item.filename,
                item.description or "",
                submitters.get(item.uploaded_by_id, "调解组织"),
                f"{max(1, item.size // 1024)}千字节",
                CJKParagraph(item.sha256[:32] + "<br/>" + item.sha256[32:], s["cell_mono"]),
            ]
        )
    if len(rows) == 1:
        rows.append(["—", "当事人未提交证据", "", "", "", ""])
    story.append(_table(rows, [11 * mm, 36 * mm, 34 * mm, 22 * mm, 16 * mm, 37 * mm], s))
    story += [PageBreak(), _p("当事人送达地址确认书", s["doc_title"]), Spacer(1, 3 * mm)]
    emails = _emails(dispute)
    address_rows: list[list] = [["申请人", "身份证件号码", "联系电话", "电子邮箱", "送达地址"]]
    for party in parties:
        address_rows.append(
            [
                party.name,
                party.id_number if party.is_person else party.credit_code,
                party.phone,
                emails.get(party.party_id, ""),
                party.address or "（以电子方式送达）",
            ]
        )
    story += [
        _table(address_rows, [24 * mm, 40 * mm, 24 * mm, 38 * mm, 30 * mm], s),
        Spacer(1, 4 * mm),
        _p(
            "申请人确认以上送达地址真实有效，同意人民法院通过上述电子邮箱、手机号码及本平台"
            "以电子方式送达诉讼文书；送达地址变更的，及时告知人民法院。",
            s["indent"],
        ),
        Spacer(1, 4 * mm),
        _p(
            f"确认人：{'、'.join(p.name for p in parties)}"
            + ("（以本申请书上的电子签名确认）" if boxes is not None else "（在线确认）"),
            s["right"],
        ),
        _p(cn_numeral_date(submitted), s["right"]),
    ]
    return _build(
        story,
        title="司法确认申请书",
        subject=mediation_number(dispute),
        author=names,
        issued=submitted,
    )


def _submitters(dispute: Dispute) -> dict[int, str]:
    return {
        p.user_id: _named(PartyIdentity(None, p.role, p.kind, p.name)).name
        for p in dispute.parties.all()
        if p.user_id
    }


# --- the court's seal -------------------------------------------------------------------


def draw_specimen_seal(canvas, *, name: str, x: float, y: float, radius: float) -> None:
    """The development court seal: a red ring, the court's name along the upper arc and
    样章 across the middle where a real seal has its star, so that no one takes it for a
    court's."""
    from agreements.documents.pki import SPECIMEN_LABEL

    register_fonts()
    canvas.saveState()
    canvas.setStrokeColor(SEAL_RED)
    canvas.setFillColor(SEAL_RED)
    canvas.setFillAlpha(0.85)
    canvas.setStrokeAlpha(0.85)
    canvas.setLineWidth(radius * 0.05)
    canvas.circle(x, y, radius * 0.96, stroke=1, fill=0)
    chars = list(name.strip()) or ["?"]
    ring = radius * 0.96 - radius * 0.05
    max_span = math.radians(240)
    size = radius * 0.26
    for _attempt in range(3):
        arc = ring - radius * 0.06 - size * 0.88
        size = min(radius * 0.26, arc * max_span / (len(chars) * 1.12))
    arc = ring - radius * 0.06 - size * 0.88
    pitch = size * 1.12 / arc
    start = math.pi / 2 + pitch * (len(chars) - 1) / 2
    for i, ch in enumerate(chars):
        angle = start - i * pitch
        canvas.saveState()
        canvas.translate(x + arc * math.cos(angle), y + arc * math.sin(angle))
        canvas.rotate(math.degrees(angle) - 90)
        canvas.setFont(FONT_BOLD, size)
        canvas.drawCentredString(0, 0, ch)
        canvas.restoreState()
    # Below the centre, where the date the seal covers still shows above it.
    label = radius * 0.36
    canvas.setFont(FONT_BOLD, label)
    canvas.drawCentredString(x, y - radius * 0.62, SPECIMEN_LABEL)
    canvas.restoreState()


def _seal_drawer(court) -> Callable:
    """Draws the court's seal centred at (x, y): its configured image in production, the
    样章 specimen in development (agreements.documents.pki.court_seal)."""
    from agreements.documents.pki import court_seal

    seal = court_seal(court)
    if seal.image is None:
        return lambda canvas, x, y, r: draw_specimen_seal(
            canvas, name=court.name, x=x, y=y, radius=r
        )
    image = ImageReader(BytesIO(seal.image))

    def draw(canvas, x: float, y: float, r: float) -> None:
        canvas.drawImage(image, x - r, y - r, 2 * r, 2 * r, mask="auto", preserveAspectRatio=True)

    return draw


# --- the ruling --------------------------------------------------------------------------


def court_person_name(user) -> str:
    """The real name a judge or clerk signs a ruling with (their profile's), never their
    login: a court's staff member without one is refused (409 real_name_required) before
    anything is issued."""
    profile = getattr(user, "profile", None)
    name = (getattr(profile, "real_name", "") or "").strip()
    if not name or "@" in name:
        raise DomainError(
            "real_name_required",
            _("%(email)s has no real name in their profile: a ruling names its judge and clerk.")
            % {"email": getattr(user, "email", "")},
        )
    return name


LINE = 11 * mm
SEAL_R = 21 * mm


def _spaced(label: str) -> str:
    return "　".join(label)


def _person(name: str) -> str:
    """A two-character name spaced to the width of three, as courts print 周　明."""
    return "　".join(name) if len(name) == 2 else name


class _SignOff(Flowable):
    """The sign-off at the right as a court prints it: 审判员 and the judge, the date in
    Chinese numerals with the court's seal over it (骑年盖月), then 书记员 and the clerk.
    A notice the court itself signs (`court`, no judge) puts the court's name where the
    judge's line stands. Placed first on a page (the body ended on the page before), it
    prints （此页无正文） at the page's top first."""

    SIZE = 12
    TOP = 10 * mm  # space above the judge's line
    GAPS = (13 * mm, 17 * mm)  # judge → date, date → clerk (the seal's lower half)

    def __init__(
        self, *, judge: str, date: str, clerk: str, seal: Callable | None, court: str = ""
    ) -> None:
        super().__init__()
        self.judge, self.date, self.clerk, self.seal = judge, date, clerk, seal
        first = f"{_spaced('审判员')}　{_person(judge)}" if judge else court
        self.lines = [first, date]
        if clerk:
            self.lines.append(f"{_spaced('书记员')}　{_person(clerk)}")
        self.block = self.TOP + sum(self.GAPS[: len(self.lines) - 1]) + 8 * mm
        if not clerk:
            self.block += 10 * mm  # room for the seal's lower half under the date
        self.alone = False

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        frame = getattr(self, "_frame", None)
        # First on its page: nothing of the body above it.
        self.alone = bool(frame is not None and getattr(frame, "_atTop", 0))
        self.width = avail_width
        self.height = self.block + (LINE if self.alone else 0)
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        canvas.setFont(FONT, self.SIZE)
        y = self.height
        if self.alone:
            canvas.drawString(0, y - 6 * mm, NO_TEXT)
            y -= LINE
        y -= self.TOP
        # The lines end two characters from the right margin, as courts set them.
        right = self.width - 2 * self.SIZE
        date_y = y - self.GAPS[0]
        for i, line in enumerate(self.lines):
            canvas.drawRightString(right, y, line)
            if i < len(self.GAPS):
                y -= self.GAPS[i]
        if self.seal is not None:
            width = canvas.stringWidth(self.date, FONT, self.SIZE)
            self.seal(canvas, right - width / 2, date_y + self.SIZE * 0.35, SEAL_R)


def _decision_of(request: ConfirmationRequest, decision: str | None) -> str:
    value = decision or request.status
    if value not in (CR.CONFIRMED, CR.REJECTED, CR.NOT_ACCEPTED):
        raise ValueError(f"No ruling for a request that is {value!r}.")
    return value


def _ruling_body(
    request: ConfirmationRequest, *, decision: str, reason: str, judge: str
) -> list[str]:
    agreement = request.agreement
    dispute = agreement.dispute
    parties = parties_of(agreement)
    names = joint_names(parties)
    committee = committee_of(dispute)
    mediated = f"于{_mediation_date(agreement)}经{committee}主持调解"
    reason = (reason or "").strip().rstrip("。；;.")
    if decision == CR.NOT_ACCEPTED:
        return [
            f"{cn_date(request.submitted_at)}，本院收到申请人{names}的司法确认申请书，申请对其"
            f"{mediated}达成的调解协议进行司法确认。",
            f"本院经审查认为，{reason}。依照{LAW_NOT_ACCEPTED}规定，裁定如下：",
            f"对申请人{names}的司法确认申请，本院不予受理。",
            "本裁定书自即日起发生法律效力。",
        ]
    accepted = f"于{cn_date(request.accepted_at)}" if request.accepted_at else ""
    paragraphs = [
        f"申请人{names}申请司法确认调解协议一案，本院{accepted}受理后，依法指定审判员"
        f"{judge}进行了审查。现已审查终结。",
        f"申请人{names}{mediated}，达成了如下调解协议：",
    ]
    paragraphs += [f"{ordinal(i)}、{line}" for i, line in enumerate(term_lines(agreement), 1)]
    if decision == CR.CONFIRMED:
        grounds = reason or (
            f"申请人{names}达成的调解协议，系各方当事人的真实意思表示，不违反法律、行政法规的"
            "强制性规定，不损害国家利益、社会公共利益和他人合法权益，不违背公序良俗，内容明确，"
            "符合司法确认调解协议的法定条件"
        )
        paragraphs += [
            f"本院经审查认为，{grounds}。依照{LAW_RULING}规定，裁定如下：",
            f"申请人{names}{mediated}达成的调解协议有效。",
            "当事人应当按照调解协议的约定自觉履行义务。一方当事人拒绝履行或者未全部履行的，"
            "对方当事人可以向人民法院申请执行。",
        ]
    else:
        paragraphs += [
            f"本院经审查认为，{reason}。依照{LAW_REJECTED}规定，裁定如下：",
            f"驳回申请人{names}的司法确认申请。",
            "申请人可以通过调解方式变更原调解协议或者达成新的调解协议，也可以向人民法院提起诉讼。",
        ]
    paragraphs.append("本裁定书自即日起发生法律效力。")
    return paragraphs


def render_ruling(
    request: ConfirmationRequest,
    *,
    judge_name: str,
    clerk_name: str = "",
    preview: bool = False,
    decision: str | None = None,
    reason: str | None = None,
    _keep_sign_off_with_text: bool = True,
) -> bytes:
    """The 民事裁定书 of `request`.

    Issued (preview=False): the request as decided — `request.status` confirmed or
    rejected on a docketed request (under the court's own case number, request.
    case_number), or not_accepted (不予受理) before docketing (under the number the judge
    gave the refusal, if any); dated `request.decided_at`;
    the court's seal (pki.court_seal: the court's own image in production, the 样章
    specimen in development) drawn over the date. The caller seals the bytes (pki.seal_pdf)
    and stores them.

    Preview (preview=True): the ruling as it would be issued now, from `decision`
    ("confirmed", "rejected" or "not_accepted"; default the request's status) and `reason`
    (default request.reason), dated today; 预览 across every page and at its top, no seal
    drawn, nothing stored or numbered here: the caller shows the bytes and keeps nothing.

    `judge_name`: the real name of the judge (审判员) who rules; `clerk_name`: the clerk
    (书记员) who docketed it — none before docketing, when the 书记员 line is left out.
    court_person_name(user) gives a user's real name; neither may be an e-mail address
    (ValueError)."""
    for who in (judge_name, clerk_name):
        if "@" in (who or ""):
            raise ValueError("A ruling names the judge and the clerk by their real names.")
    if not (judge_name or "").strip():
        raise ValueError("A ruling names the judge who rules.")
    decided = _decision_of(request, decision)
    agreement = request.agreement
    dispute = agreement.dispute
    court = request.court
    s = _styles()
    when = timezone.now() if preview else (request.decided_at or timezone.now())
    reason_text = request.reason if reason is None else reason
    story: list = [
        _p(court.name, s["court"]),
        _p("民　事　裁　定　书", s["doc_title"]),
    ]
    # The court's own number, as its clerk typed it at docketing, or as the judge typed it
    # for a refusal before docketing (services.confirmation_decide); a refusal without one
    # prints none rather than an invented one.
    if request.case_number:
        story.append(_p(request.case_number, s["number"]))
    else:
        story.append(Spacer(1, 4 * mm))
    # A ruling names the parties without their telephone numbers (the application and
    # the service-address form carry those).
    unlisted = [dataclasses.replace(p, phone="") for p in parties_of(agreement)]
    story += [_p(line, s["body"]) for line in party_lines(unlisted)]
    story.append(Spacer(1, 2 * mm))
    paragraphs = [
        _p(text, s["indent"])
        for text in _ruling_body(request, decision=decided, reason=reason_text, judge=judge_name)
    ]
    sign_off = _SignOff(
        judge=judge_name,
        date=cn_numeral_date(when),
        clerk=clerk_name,
        seal=None if preview else _seal_drawer(court),
    )
    if _keep_sign_off_with_text:
        # The sign-off never stands alone: the last paragraph goes with it to a new page.
        story += [*paragraphs[:-1], KeepTogether([paragraphs[-1], sign_off])]
    else:
        story += [*paragraphs, sign_off]
    return _build(
        story,
        title="民事裁定书（预览）" if preview else "民事裁定书",
        subject=request.case_number or mediation_number(dispute),
        author=court.name,
        issued=when,
        preview=preview,
    )
