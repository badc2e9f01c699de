"""The settlement agreement as a PDF: an A4 人民调解协议书 laid out as mediation committees
print them (People's Mediation Law Art. 29: the parties' basic information, the facts and
disputed matters, the terms, the method, time limit and place of performance), with the
signatures, the committee's seal, a QR code to the verification page and an audit page.

The same agreement gives the same bytes (invariant mode, a creation date taken from the
agreement, no random ids), so the unsigned document has a stable hash; signatures are
added afterwards as incremental updates (finalize.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from io import BytesIO
from xml.sax.saxutils import escape

from django.conf import settings
from django.db.models import Prefetch
from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
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
    format_amount,
    ordinal,
)
from agreements.documents.fonts import (
    FONT,
    FONT_BOLD,
    BoldLine,
    CJKParagraph,
    EmbeddedFontCanvas,
    QrCode,
    draw_seal,
    register_fonts,
    styles,
    table_style,
)
from agreements.models import Agreement, Signature
from odr.idnumber import mask_email, mask_id_number, mask_name, mask_phone
from odr.lifecycle import words_for
from odr.models import Dispute, Party
from odr.people import display_name

PAGE_W, PAGE_H = A4
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 26 * mm, 24 * mm, 24 * mm, 22 * mm
R = Signature.Role
# The signers in the order the blocks are printed; the mediator always signs last.
SIGNER_ROLES = (R.APPLICANT, R.RESPONDENT, R.MEDIATOR)
ROLE_LABELS = {
    R.APPLICANT: "申请人 Applicant",
    R.RESPONDENT: "被申请人 Respondent",
    R.MEDIATOR: "人民调解员 Mediator",
}
ROLE_SHORT = {"applicant": "申请人", "respondent": "被申请人", "mediator": "调解员"}
SEAL_LABEL = "人民调解专用章"


def verification_url(document_id) -> str:
    return f"{settings.SITE_URL}/verify/{document_id}/"


def _p(text: str, style) -> Paragraph:
    return CJKParagraph(text, style)


def _esc(value) -> str:
    return escape(str(value or "")).replace("\n", "<br/>")


@dataclass
class _Context:
    agreement: object
    dispute: object
    organisation: object
    signatures: list
    complete: bool
    issued_at: datetime


def signer_name(sig) -> str:
    """The name printed for a signature: as fixed when it was signed, else the user's."""
    return (getattr(sig, "signer_name", "") or "").strip() or display_name(sig.signer)


def current_signatures(agreement) -> list:
    sigs = list(
        agreement.signatures.filter(voided_at__isnull=True).select_related("signer__profile")
    )
    # Parties in the order they signed, the mediator last (the order of the PAdES
    # signatures too).
    return sorted(sigs, key=lambda s: (s.role == R.MEDIATOR, s.signed_at, s.pk or 0))


def _issued_at(agreement, signatures: list) -> datetime:
    if agreement.effective_at:
        return agreement.effective_at
    if signatures:
        return max(s.signed_at for s in signatures)
    return agreement.updated_at or agreement.created_at


def _party_display_name(party) -> str:
    # The real name from the profile when the party has one (the content check asks for
    # it), else the name given when filing.
    profile = getattr(party.user, "profile", None) if party.user_id else None
    return (getattr(profile, "real_name", "") or "").strip() or party.name


def _party_rows(agreement, dispute, st) -> list:
    out = []
    details = getattr(agreement, "party_details", None) or {}
    for party in sorted(dispute.parties.all(), key=lambda p: p.role != R.APPLICANT):
        profile = getattr(party.user, "profile", None) if party.user_id else None
        id_number = getattr(profile, "id_number", "") or ""
        phone = party.phone or getattr(profile, "phone", "") or ""
        address = str((details.get(party.role) or {}).get("address", "") or "").strip()
        bits = [f"<b>{ROLE_LABELS[party.role]}：</b>{_esc(_party_display_name(party))}"]
        bits.append(
            f"公民身份号码 ID No.：{_esc(mask_id_number(id_number)) or '（未登记 not given）'}"
            f"；联系电话 Phone：{_esc(mask_phone(phone)) or '—'}"
        )
        if address:
            bits.append(f"住址 Address：{_esc(_mask_address(address))}")
        if party.email:
            bits.append(f"电子送达地址 E-service address：{_esc(mask_email(party.email))}")
        if party.agent_name:
            bits.append(f"委托代理人 Agent：{_esc(party.agent_name)}")
        out.append(_p("<br/>".join(bits), st["body"]))
        out.append(Spacer(1, 3))
    return out


def _mask_address(address: str) -> str:
    # Keep the administrative part (the first few characters), hide the house number.
    keep = max(len(address) // 2, min(6, len(address)))
    return address[:keep] + "*" * (len(address) - keep)


def _party_name(dispute, role: str | None) -> str:
    if not role:
        return ""
    for party in dispute.parties.all():
        if party.role == role:
            return _party_display_name(party)
    return str(role)


def _money(value) -> str | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return _esc(value)
    return f"{format_amount(amount)}（人民币{amount_in_words(amount)}）"


def _term_flowables(ctx: _Context, st) -> list:
    out = []
    for index, term in enumerate(ctx.agreement.terms or [], start=1):
        text = _esc(term.get("text", ""))
        details = []
        obligor = _party_name(ctx.dispute, term.get("obligor"))
        obligee = _party_name(ctx.dispute, term.get("obligee"))
        if obligor:
            details.append(f"义务人 Obligor：{_esc(obligor)}")
        if obligee:
            details.append(f"权利人 Obligee：{_esc(obligee)}")
        money = _money(term.get("amount"))
        if money:
            details.append(f"金额 Amount：{money}")
        if term.get("due_date"):
            details.append(f"履行期限 Due：{cn_date(term['due_date'])}前")
        if term.get("place"):
            details.append(f"履行地点 Place：{_esc(term['place'])}")
        out.append(_p(f"{ordinal(index)}、{text}", st["indent"]))
        if details:
            out.append(_p("；".join(details) + "。", st["detail"]))
        for n, inst in enumerate(term.get("instalments") or [], start=1):
            line = f"第{n}期 Instalment {n}：{_money(inst.get('amount')) or ''}"
            if inst.get("due_date"):
                line += f"，于{cn_date(inst['due_date'])}前履行"
            out.append(_p(line + "。", st["detail"]))
    return out


def _performance(ctx: _Context, st) -> list:
    out = []
    if ctx.agreement.performance_method:
        out.append(_p(_esc(ctx.agreement.performance_method), st["indent"]))
    lines = []
    for index, term in enumerate(ctx.agreement.terms or [], start=1):
        due = term.get("due_date") or max(
            (i.get("due_date") or "" for i in term.get("instalments") or []), default=""
        )
        place = term.get("place") or ""
        if due or place:
            parts = [f"第{ordinal(index)}项"]
            if due:
                parts.append(f"最迟于{cn_date(due)}前履行完毕")
            if place:
                parts.append(f"履行地点为{_esc(place)}")
            lines.append("，".join(parts) + "。")
    if lines:
        out.append(_p("".join(lines), st["indent"]))
    place = getattr(ctx.agreement, "performance_place", "") or ""
    if place:
        out.append(_p(f"未另行约定履行地点的，履行地点为{_esc(place)}。", st["indent"]))
    return out


EFFECT_CLAUSES = [
    (
        "本协议经双方当事人签名、人民调解员签名并加盖人民调解委员会印章后生效，"
        "具有法律约束力，当事人应当按照约定履行（《中华人民共和国人民调解法》第二十九条、第三十一条）。",
        "This agreement takes effect when both parties and the mediator have signed it and the "
        "committee's seal is affixed; it is legally binding and shall be performed.",
    ),
    (
        "本协议一式三份，双方当事人和人民调解委员会各执一份，具有同等效力。",
        "Made in three copies of equal effect: one for each party and one for the committee.",
    ),
    (
        "双方当事人可以自本协议生效之日起三十日内，共同向人民法院申请司法确认"
        "（《人民调解法》第三十三条）。",
        "The parties may jointly apply to the people's court for judicial confirmation within "
        "30 days of this agreement taking effect.",
    ),
    (
        "本协议以电子方式签署，每一签名人的电子签名及调解组织印章均以数字证书附于本文件，"
        "任何改动均可被发现（《中华人民共和国电子签名法》第十三条）；扫描二维码或访问下述地址可核验。",
        "Signed electronically: each signer's signature and the seal are digital signatures in "
        "this file, so any change is detectable; scan the QR code or visit the address to verify.",
    ),
]


class _SealBlock(Flowable):
    """The organisation's name and the date, right-aligned, with the round seal stamped
    over them ("骑年盖月") once every signature is in."""

    def __init__(self, *, name: str, when: str, sealed: bool, width: float) -> None:
        super().__init__()
        self.name, self.when, self.sealed = name, when, sealed
        self.width, self.height = width, 124

    def draw(self) -> None:
        c = self.canv
        right = self.width - 12
        c.setFillColor(colors.black)
        c.setFont(FONT, 12.5)
        name = self.name if self.sealed else self.name + "（印章）"
        name_w = c.stringWidth(name, FONT, 12.5)
        c.drawRightString(right, 72, name)
        date_w = c.stringWidth(self.when, FONT, 12.5)
        # The date sits centred under the name, as committees print it.
        c.drawString(right - name_w / 2 - date_w / 2, 50, self.when)
        if self.sealed:
            draw_seal(c, name=self.name, x=right - name_w / 2, y=62, radius=56, label=SEAL_LABEL)
        else:
            c.setFont(FONT, 8.5)
            c.setFillColor(colors.grey)
            c.drawRightString(
                right, 16, "（全部签署完成后加盖印章 Sealed when every signature is in）"
            )


def _signature_table(ctx: _Context, st, width: float) -> Table:
    by_role = {s.role: s for s in ctx.signatures}
    rows = [
        [
            _p("<b>签名人 Signer</b>", st["cell"]),
            _p("<b>签名 Signature</b>", st["cell"]),
            _p("<b>签署时间 Signed at</b>", st["cell"]),
        ]
    ]
    mediator = ctx.dispute.mediator
    names = {
        R.APPLICANT: _party_name(ctx.dispute, R.APPLICANT),
        R.RESPONDENT: _party_name(ctx.dispute, R.RESPONDENT),
        R.MEDIATOR: display_name(mediator) if mediator else "",
    }
    for role in SIGNER_ROLES:
        sig = by_role.get(role)
        name = signer_name(sig) if sig is not None else names[role]
        label = _p(f"{ROLE_LABELS[role]}<br/>{_esc(name)}", st["cell"])
        if sig is None:
            rows.append([label, _p("（待签署 not signed yet）", st["cell"]), ""])
            continue
        rows.append([label, _signature_image(sig, st), _p(cn_datetime(sig.signed_at), st["cell"])])
    table = Table(
        rows, colWidths=[width * 0.32, width * 0.38, width * 0.30], rowHeights=[None] + [46] * 3
    )
    table.setStyle(
        table_style(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.Color(0.6, 0.6, 0.6)),
                ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.94, 0.94, 0.94)),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return table


def _signature_image(sig, st):
    data = bytes(sig.signature_png or b"")
    if data:
        try:
            reader = ImageReader(BytesIO(data))
            w, h = reader.getSize()
        except (OSError, ValueError):
            reader = None
        if reader is not None and w and h:
            scale = min(120 / w, 38 / h)
            return Image(BytesIO(data), width=w * scale, height=h * scale, hAlign="LEFT")
    # A typed signature, or a drawing that cannot be read: the name in the font.
    return _p(f"<font size=14>{_esc(signer_name(sig))}</font>（键入 typed）", st["cell"])


def _audit_flowables(ctx: _Context, st, width: float) -> list:
    out = [
        BoldLine("签署与审计记录", size=20, align="center", space_before=0, space_after=4),
        _p("Certificate of completion and audit trail", st["subtitle"]),
        _p(
            f"案号 Case No.：{_esc(ctx.dispute.case_number)}　　"
            f"文书编号 Document ID：{ctx.agreement.document_id}",
            st["small"],
        ),
        _p(
            f"协议版本 Version：{ctx.agreement.version}　　核验地址 Verify at："
            f"{_esc(verification_url(ctx.agreement.document_id))}",
            st["small"],
        ),
        Spacer(1, 6),
        BoldLine("签名人 Signers"),
    ]
    rows = [
        [
            _p(h, st["cell"])
            for h in (
                "<b>角色</b><br/>Role",
                "<b>签名人</b><br/>Signer",
                "<b>签署时间</b><br/>Signed at",
                "<b>方式</b><br/>Method",
                "<b>证书序列号</b><br/>Certificate",
                "<b>所签文本哈希</b><br/>Text hash seen",
            )
        ]
    ]
    for sig in ctx.signatures:
        rows.append(
            [
                _p(ROLE_SHORT.get(sig.role, sig.role), st["cell"]),
                _p(_esc(mask_name(signer_name(sig))), st["cell"]),
                _p(cn_datetime(sig.signed_at), st["cell"]),
                _p(
                    "手写<br/>drawn" if sig.method == Signature.Method.DRAWN else "键入<br/>typed",
                    st["cell"],
                ),
                _p(_esc(sig.certificate_serial[:20] or "—"), st["cell_mono"]),
                _p(_esc((getattr(sig, "document_sha256", "") or "—")[:16]), st["cell_mono"]),
            ]
        )
    signer_table = Table(rows, colWidths=[w * width for w in (0.12, 0.10, 0.21, 0.10, 0.25, 0.22)])
    signer_table.setStyle(_grid_style())
    out += [signer_table, Spacer(1, 8), BoldLine("审计事件 Audit events")]
    rows = [
        [
            _p(h, st["cell"])
            for h in (
                "<b>#</b>",
                "<b>时间</b><br/>Time",
                "<b>操作人</b><br/>Actor",
                "<b>操作</b><br/>Action",
                "<b>哈希</b><br/>Hash",
            )
        ]
    ]
    events = ctx.dispute.audit_events.select_related("actor__profile").order_by("seq")
    for event in events:
        rows.append(
            [
                _p(str(event.seq), st["cell_mono"]),
                _p(cn_datetime(event.created_at), st["cell"]),
                _p(_esc(_actor(event)), st["cell"]),
                _p(_esc(_action_label(event.action)), st["cell"]),
                _p(event.hash[:16], st["cell_mono"]),
            ]
        )
    audit_table = Table(
        rows, colWidths=[w * width for w in (0.07, 0.25, 0.18, 0.32, 0.18)], repeatRows=1
    )
    audit_table.setStyle(_grid_style())
    out += [
        audit_table,
        Spacer(1, 8),
        _p(
            "审计记录为哈希链：每一事件的哈希覆盖其内容和前一事件的哈希，任何修改、删除或调换均可被发现。"
            "The audit trail is hash-chained: each event's hash covers its content and the "
            "previous event's hash, so an edited, deleted or reordered event is detectable.",
            st["small"],
        ),
    ]
    return out


def _grid_style():
    return table_style(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.Color(0.65, 0.65, 0.65)),
            ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.94, 0.94, 0.94)),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LEFTPADDING", (0, 0), (-1, -1), 4),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ]
    )


def _actor(event) -> str:
    actor = event.actor
    if actor is not None:
        return mask_name(display_name(actor))
    if event.actor_label:
        return mask_email(event.actor_label) if "@" in event.actor_label else event.actor_label
    return "系统 System"


def _action_label(action: str) -> str:
    """The audit action as a clerk reads it, from the words its app declared with it
    (odr.lifecycle); an action no longer declared is shown by its code."""
    words = words_for(action)
    return f"{words.document} ({action})" if words is not None else action


class _NumberedCanvas(EmbeddedFontCanvas):
    """Adds 第 n 页 共 N 页 and the document id to every page once the count is known."""

    def __init__(self, *args, document_id: str = "", issued: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._saved: list[dict] = []
        self._document_id = document_id
        self.setDateFormatter(lambda *_: issued)

    def showPage(self) -> None:
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self.setFont(FONT, 8)
            self.setFillColor(colors.grey)
            self.drawRightString(
                PAGE_W - MARGIN_R,
                12 * mm,
                f"第 {self._pageNumber} 页 共 {total} 页  Page {self._pageNumber} of {total}",
            )
            self.drawString(MARGIN_L, 12 * mm, f"文书编号 Document ID {self._document_id}")
            super().showPage()
        super().save()


def _pdf_date(value: datetime) -> str:
    utc = value.astimezone(UTC) if timezone.is_aware(value) else value
    return f"D:{utc:%Y%m%d%H%M%S}+00'00'"


def render_agreement_pdf(agreement) -> bytes:
    """The agreement as it stands (draft preview, signing copy or the final text) as PDF
    bytes. Deterministic: the same rows give the same bytes."""
    register_fonts()
    st = styles()
    st["detail"] = st["body"].clone(
        "detail", fontSize=10, leading=16, leftIndent=23, textColor=colors.Color(0.2, 0.2, 0.2)
    )
    # A fresh copy of the case with its parties, profiles and mediator in three queries:
    # names are looked up for every term and signature block. Fresh, so that the caller's
    # instance keeps no cache it did not ask for.
    dispute = (
        Dispute.objects.select_related("organisation", "mediator__profile")
        .prefetch_related(
            Prefetch("parties", queryset=Party.objects.select_related("user__profile"))
        )
        .get(pk=agreement.dispute_id)
    )
    signatures = current_signatures(agreement)
    roles = {s.role for s in signatures}
    ctx = _Context(
        agreement=agreement,
        dispute=dispute,
        organisation=dispute.organisation,
        signatures=signatures,
        complete=set(SIGNER_ROLES) <= roles,
        issued_at=_issued_at(agreement, signatures),
    )
    org_name = ctx.organisation.name if ctx.organisation else "人民调解委员会"
    width = PAGE_W - MARGIN_L - MARGIN_R
    url = verification_url(agreement.document_id)

    story: list = [
        Spacer(1, 4),
        _p(_esc(org_name), st["org"]),
        BoldLine("人民调解协议书", size=22, align="center", space_before=2, space_after=4),
        _p("People's Mediation Agreement", st["subtitle"]),
        _p(f"{_esc(dispute.case_number)}", st["case_number"]),
        BoldLine("当事人 Parties"),
        *_party_rows(agreement, dispute, st),
        _p(
            f"<b>调解组织 Mediation organisation：</b>{_esc(org_name)}<br/>"
            f"<b>人民调解员 Mediator：</b>"
            f"{_esc(display_name(dispute.mediator)) if dispute.mediator else '—'}",
            st["body"],
        ),
        BoldLine("纠纷主要事实、争议事项 Facts and disputed matters"),
        _p(_esc(agreement.facts or dispute.description), st["indent"]),
        *(
            [_p(f"争议事项：{_esc(agreement.disputed_matters)}", st["indent"])]
            if getattr(agreement, "disputed_matters", "")
            else []
        ),
        _p(
            f"经{_esc(org_name)}主持调解，双方当事人自愿达成如下协议："
            "（The parties, in mediation, have freely agreed as follows:）",
            st["indent"],
        ),
        BoldLine("协议内容 Terms"),
        *_term_flowables(ctx, st),
        BoldLine("履行方式、时限和地点 Method, time limit and place of performance"),
        *_performance(ctx, st),
        BoldLine("协议效力及份数 Effect and copies"),
    ]
    for n, (zh, en) in enumerate(EFFECT_CLAUSES, start=1):
        story.append(_p(f"{n}. {zh}", st["body"]))
        story.append(_p(en, st["english"]))
    story += [
        # The signatures, the seal and the QR code stay together on one page: a seal
        # alone on a page would not show what it seals.
        KeepTogether(
            [
                BoldLine("签署 Signatures"),
                _signature_table(ctx, st, width),
                Spacer(1, 4),
                Table(
                    [
                        [
                            [
                                QrCode(url, size=22 * mm),
                                Spacer(1, 2),
                                _p("扫码核验 Scan to verify", st["small"]),
                                _p(_esc(url), st["cell_mono"]),
                            ],
                            _SealBlock(
                                name=org_name,
                                when=cn_date(ctx.issued_at),
                                sealed=ctx.complete,
                                width=width * 0.62,
                            ),
                        ]
                    ],
                    colWidths=[width * 0.38, width * 0.62],
                    style=table_style(
                        [
                            ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                            ("LEFTPADDING", (0, 0), (-1, -1), 0),
                            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                        ]
                    ),
                ),
            ]
        ),
        PageBreak(),
        *_audit_flowables(ctx, st, width),
    ]

    buffer = BytesIO()
    issued = _pdf_date(ctx.issued_at)
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_L,
        rightMargin=MARGIN_R,
        topMargin=MARGIN_T,
        bottomMargin=MARGIN_B,
        title=f"人民调解协议书 {dispute.case_number}",
        author=org_name,
        subject=f"document-id:{agreement.document_id}",
        creator="ODR platform",
        keywords=[str(agreement.document_id), dispute.case_number],
        invariant=1,
    )

    def on_page(canvas: Canvas, _doc) -> None:
        if agreement.status == Agreement.Status.DRAFT:
            canvas.saveState()
            canvas.setFillColor(colors.Color(0.85, 0.1, 0.1, alpha=0.12))
            canvas.setFont(FONT_BOLD, 80)
            canvas.translate(PAGE_W / 2, PAGE_H / 2)
            canvas.rotate(35)
            canvas.drawCentredString(0, 0, "草稿 DRAFT")
            canvas.restoreState()

    doc.build(
        story,
        onFirstPage=on_page,
        onLaterPages=on_page,
        canvasmaker=lambda *a, **kw: _NumberedCanvas(
            *a, document_id=str(agreement.document_id), issued=issued, **kw
        ),
    )
    return buffer.getvalue()
