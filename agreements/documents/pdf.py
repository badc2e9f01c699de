"""The settlement agreement as a PDF: an A4 人民调解协议书 in the form mediation committees
issue and basic courts accept (People's Mediation Law Art. 28-29): the issuing committee
and the document number, each party's full particulars (odr.identity.describe, unmasked:
the original is the parties' and the court's), the main facts and disputed matters, the
terms, the method, time limit and place of performance, the number of copies, every
party's and the mediator's signature, the committee's name and seal over a sign-off
date in Chinese numerals, a QR code to the verification page, and an audit page. Chinese
only and set in the Song/Ming serif (fonts.py).

An English rendering is a separate file, `render_agreement_translation_pdf`, marked on
every page as a non-binding translation; it is never signed, sealed or hashed.

The same agreement gives the same bytes (invariant mode: no random ids), so the unsigned
document has a stable hash; the PDF's creation and modification dates are the
document's own issue time (in force, else the last signature, else the last change), not
the rendering's. Signatures are added afterwards as incremental updates (finalize.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from io import BytesIO
from xml.sax.saxutils import escape

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
    cn_numeral_date,
    format_amount,
    ordinal,
)
from agreements.documents.fonts import (
    FONT,
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
from odr.identity import SCOPE_LABELS, PartyIdentity, describe
from odr.lifecycle import words_for
from odr.links import site_url
from odr.models import Dispute, Party

PAGE_W, PAGE_H = A4
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 26 * mm, 24 * mm, 24 * mm, 22 * mm
R = Signature.Role
# The sides in the order they are printed and sign; the mediator always signs last.
SIGNER_ROLES = (R.APPLICANT, R.RESPONDENT, R.MEDIATOR)
PARTY_ROLES = (R.APPLICANT, R.RESPONDENT)
ROLE_SHORT = {"applicant": "申请人", "respondent": "被申请人", "mediator": "调解员"}
ROLE_LABELS = {R.APPLICANT: "申请人", R.RESPONDENT: "被申请人", R.MEDIATOR: "人民调解员"}
SEAL_LABEL = "人民调解专用章"
NO_NAME = "（姓名未登记）"


def verification_url(document_id) -> str:
    return f"{site_url()}/verify/{document_id}/"


def _p(text: str, style) -> Paragraph:
    return CJKParagraph(text, style)


def _esc(value) -> str:
    return escape(str(value or "")).replace("\n", "<br/>")


def _real_name(user) -> str:
    """A person's real name, never their login: an e-mail address is no name."""
    if user is None:
        return ""
    profile = getattr(user, "profile", None)
    return (getattr(profile, "real_name", "") or "").strip()


def signer_name(sig) -> str:
    """The name printed for a signature: as fixed when it was signed, else the user's."""
    from odr.people import display_name

    return (getattr(sig, "signer_name", "") or "").strip() or display_name(sig.signer)


def current_signatures(agreement) -> list:
    sigs = list(
        agreement.signatures.filter(version=agreement.version, voided_at__isnull=True)
        .select_related("signer__profile")
        .order_by("signed_at", "pk")
    )
    # Parties in the order they signed, the mediator last (the order of the PAdES
    # signatures too).
    return sorted(sigs, key=lambda s: (s.role == R.MEDIATOR, s.signed_at, s.pk or 0))


@dataclass
class SigningState:
    """Who the agreement names and who of them has signed: each party (several per side)
    with their signature or None, and the mediator's."""

    parties: list[PartyIdentity]
    party_signatures: list  # (identity, Signature | None), in document order
    mediator: object | None
    signatures: list = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        out = [
            f"{ROLE_SHORT.get(i.role, i.role)} {i.name}"
            for i, sig in self.party_signatures
            if sig is None
        ]
        if self.mediator is None:
            out.append(ROLE_SHORT["mediator"])
        return out

    @property
    def complete(self) -> bool:
        return bool(self.party_signatures) and not self.missing


def signing_state(agreement, signatures: list | None = None) -> SigningState:
    """Matches the current signatures to the parties the document names
    (agreements.selectors.document_parties): a signature given for a party (Signature.
    party) counts for it; one without (older rows) for the party of its side whose
    account signed, else the first of that side still unsigned."""
    from agreements.selectors import document_parties

    signatures = current_signatures(agreement) if signatures is None else signatures
    parties = _with_stated_addresses(agreement, document_parties(agreement))
    users = dict(
        Party.objects.filter(pk__in=[i.party_id for i in parties if i.party_id]).values_list(
            "pk", "user_id"
        )
    )
    matched: dict[int, object] = {}
    loose = []
    for sig in signatures:
        if sig.role == R.MEDIATOR:
            continue
        index = next(
            (
                n
                for n, i in enumerate(parties)
                if sig.party_id and i.party_id == sig.party_id and n not in matched
            ),
            None,
        )
        if index is None:
            loose.append(sig)
        else:
            matched[index] = sig
    for sig in loose:
        same_side = [n for n, i in enumerate(parties) if i.role == sig.role and n not in matched]
        own = [n for n in same_side if users.get(parties[n].party_id) == sig.signer_id]
        if own or same_side:
            matched[(own or same_side)[0]] = sig
    mediator = next((s for s in reversed(signatures) if s.role == R.MEDIATOR), None)
    return SigningState(
        parties=parties,
        party_signatures=[(i, matched.get(n)) for n, i in enumerate(parties)],
        mediator=mediator,
        signatures=signatures,
    )


def _with_stated_addresses(agreement, parties: list[PartyIdentity]) -> list[PartyIdentity]:
    """Agreements drafted before parties had an address of their own stated it in
    Agreement.party_details, one per side: the first party of that side takes it when
    its record has none."""
    details = agreement.party_details or {}
    seen: set[str] = set()
    out = []
    for identity in parties:
        stated = str((details.get(identity.role) or {}).get("address", "") or "").strip()
        if stated and not identity.address and identity.role not in seen:
            identity = dataclasses.replace(identity, address=stated)
        seen.add(identity.role)
        out.append(identity)
    return out


@dataclass
class _Context:
    agreement: object
    dispute: object
    organisation: object
    issuer: str
    state: SigningState
    issued_at: datetime

    @property
    def signatures(self) -> list:
        return self.state.signatures

    @property
    def complete(self) -> bool:
        return self.state.complete

    @property
    def parties(self) -> list[PartyIdentity]:
        return self.state.parties


def issued_at(agreement, signatures: list) -> datetime:
    """The document's own time: in force, else the last signature, else the last change.
    The PDF's creation date and the sign-off date are this, so the same agreement keeps
    giving the same bytes."""
    if agreement.effective_at:
        return agreement.effective_at
    if signatures:
        return max(s.signed_at for s in signatures)
    return agreement.updated_at or agreement.created_at


def issuer_name(dispute) -> str:
    """The people's mediation committee the agreement is issued under: the committee a
    county centre hosts, else the committee's own name."""
    organisation = dispute.organisation
    return organisation.issuer_name if organisation is not None else "人民调解委员会"


def document_number(case_number: str) -> str:
    """The case number as a Chinese document prints it: full-width brackets."""
    return (case_number or "").replace("(", "（").replace(")", "）")


def _side_names(ctx: _Context, ref) -> str:
    """The party or parties a term names: a side ("applicant"), or one party by its id."""
    if ref in (None, ""):
        return ""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        for i in ctx.parties:
            if i.party_id == int(ref):
                return i.name
        return ""
    names = [i.name for i in ctx.parties if i.role == ref]
    return "、".join(names) or ROLE_SHORT.get(str(ref), str(ref))


def _money(value) -> str | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return _esc(value)
    return f"{format_amount(amount)}（人民币{amount_in_words(amount)}）"


def _both(ctx: _Context) -> str:
    # 双方 for two parties, 各方 for more (People's Mediation Law's own wording).
    return "双方" if len(ctx.parties) <= 2 else "各方"


# --- the binding document ------------------------------------------------------------


def _party_flowables(ctx: _Context, st) -> list:
    out = []
    for identity in ctx.parties:
        lines = describe(identity)
        out.append(_p(_esc(lines[0]), st["party"]))
        for line in lines[1:]:
            out.append(_p(_esc(line), st["party_more"]))
    return out


def _term_flowables(ctx: _Context, st) -> list:
    out = []
    for index, term in enumerate(ctx.agreement.terms or [], start=1):
        text = _esc(term.get("text", ""))
        details = []
        obligor = _side_names(ctx, term.get("obligor"))
        obligee = _side_names(ctx, term.get("obligee"))
        if obligor:
            details.append(f"义务人：{_esc(obligor)}")
        if obligee:
            details.append(f"权利人：{_esc(obligee)}")
        money = _money(term.get("amount"))
        if money:
            details.append(f"金额：{money}")
        if term.get("due_date"):
            details.append(f"履行期限：{cn_date(term['due_date'])}前")
        if term.get("place"):
            details.append(f"履行地点：{_esc(term['place'])}")
        out.append(_p(f"{ordinal(index)}、{text}", st["indent"]))
        if details:
            out.append(_p("；".join(details) + "。", st["detail"]))
        for n, inst in enumerate(term.get("instalments") or [], start=1):
            line = f"第{ordinal(n)}期：{_money(inst.get('amount')) or ''}"
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
    if not out:
        out.append(_p("按本协议各项约定履行。", st["indent"]))
    return out


def effect_clauses(ctx: _Context) -> list[str]:
    both = _both(ctx)
    copies = len(ctx.parties) + 1
    return [
        f"本协议经{both}当事人签名、人民调解员签名并加盖人民调解委员会印章后生效，"
        "具有法律约束力，当事人应当按照约定履行（《中华人民共和国人民调解法》第二十九条、"
        "第三十一条）。",
        f"本协议一式{ordinal(copies)}份，当事人各执一份，人民调解委员会留存一份，具有同等效力。",
        f"{both}当事人可以自本协议生效之日起三十日内，共同向有管辖权的人民法院申请司法确认"
        "（《中华人民共和国人民调解法》第三十三条）。",
        "本协议以电子方式签署，各签名人的电子签名及人民调解委员会印章均以数字证书附于本文件，"
        "任何改动均可被发现（《中华人民共和国电子签名法》第十三条）；扫描二维码或访问下述地址可核验。",
    ]


class _SealBlock(Flowable):
    """The committee's name and the sign-off date in Chinese numerals, right-aligned,
    with the round seal stamped over them (骑年盖月) once every signature is in. In the
    document fixed for signing the seal cannot be drawn yet: the name carries "（印）" and
    the block records the seal's place in `boxes` (key SEAL_BOX), where the committee's
    seal signature, after the last signer, shows as a drawn round red seal (issue 9)."""

    def __init__(
        self, *, name: str, when: str, sealed: bool, width: float, boxes: dict | None = None
    ) -> None:
        super().__init__()
        self.name, self.when, self.sealed, self.boxes = name, when, sealed, boxes
        self.width, self.height = width, 124

    def draw(self) -> None:
        c = self.canv
        right = self.width - 12
        c.setFillColor(colors.black)
        c.setFont(FONT, 13)
        name = self.name if self.sealed else self.name + "（印）"
        name_w = c.stringWidth(name, FONT, 13)
        c.drawRightString(right, 72, name)
        date_w = c.stringWidth(self.when, FONT, 13)
        # The date sits centred under the name, as committees print it.
        centre = right - name_w / 2
        c.drawString(centre - date_w / 2, 50, self.when)
        if self.sealed:
            draw_seal(c, name=self.name, x=centre, y=SEAL_Y, radius=SEAL_RADIUS, label=SEAL_LABEL)
        else:
            if self.boxes is not None:
                x1, y1 = c.absolutePosition(centre - SEAL_RADIUS, SEAL_Y - SEAL_RADIUS)
                x2, y2 = c.absolutePosition(centre + SEAL_RADIUS, SEAL_Y + SEAL_RADIUS)
                self.boxes[SEAL_BOX] = [c.getPageNumber() - 1, x1, y1, x2, y2]
            c.setFont(FONT, 8.5)
            c.setFillColor(colors.grey)
            c.drawRightString(right, 16, "（各方签署完成后加盖印章）")


# The seal's place in the seal block, and its key among the signature boxes.
SEAL_RADIUS, SEAL_Y = 56, 62
SEAL_BOX = "seal"
# The completion record's place on the audit page: a title, a header and one row per
# signer (finalize.completion_record draws it in these measures).
RECORD_BOX = "record"
RECORD_ROW, RECORD_TOP = 13, 20


def record_height(signers: int) -> float:
    return RECORD_TOP + RECORD_ROW * (signers + 1) + 4


# The visible signature field of each signer: wide enough for a drawn signature and the
# signing time that the signer's PAdES signature shows as its appearance (issue 9, 4).
FIELD_W, FIELD_H = 200, 46


class _FieldBox(Flowable):
    """An empty place in the signature table where a signer's signature field will sit.
    The document is rendered once when the agreement opens for signing; each signature
    is added later as an incremental update whose widget is this box, so the box records
    where it was drawn (page index and rectangle in PDF points) into `boxes`."""

    def __init__(
        self, key: str, boxes: dict | None, *, width: float = FIELD_W, height: float = FIELD_H
    ) -> None:
        super().__init__()
        self.key, self.boxes = key, boxes
        self.width, self.height = width, height

    def draw(self) -> None:
        c = self.canv
        c.saveState()
        c.setStrokeColor(colors.Color(0.75, 0.75, 0.75))
        c.setDash(2, 2)
        c.setLineWidth(0.5)
        c.rect(0, 0, self.width, self.height)
        c.restoreState()
        if self.boxes is not None:
            x1, y1 = c.absolutePosition(0, 0)
            x2, y2 = c.absolutePosition(self.width, self.height)
            self.boxes[self.key] = [c.getPageNumber() - 1, x1, y1, x2, y2]


def _signature_cell(sig, st, *, party_name: str = ""):
    """The signature image (or typed name), with who signed when it is not the party
    itself (an organisation's representative or an agent)."""
    cell = [_signature_image(sig, st)]
    name = signer_name(sig)
    if "@" in name:
        name = _real_name(sig.signer)
    if party_name and name and name != party_name:
        cell.append(_p(f"签名人：{_esc(name)}", st["cell_small"]))
    return cell


def _signature_table(ctx: _Context, st, width: float, boxes: dict | None = None) -> Table:
    field_w = min(FIELD_W, width * 0.60 - 12)
    spans = []
    rows = [
        [
            _p("<b>当事人（签名或盖章）</b>", st["cell"]),
            _p("<b>签名</b>", st["cell"]),
            _p("<b>签署时间</b>", st["cell"]),
        ]
    ]
    for identity, sig in ctx.state.party_signatures:
        label = f"{ROLE_LABELS[identity.role]}：{_esc(identity.name)}"
        if not identity.is_person and identity.representative:
            label += f"<br/><font size=8.5>法定代表人：{_esc(identity.representative)}</font>"
        for agent in identity.agents:
            scope = SCOPE_LABELS.get(agent.scope, "")
            label += f"<br/><font size=8.5>委托代理人：{_esc(agent.name)}"
            label += f"（{scope}）</font>" if scope else "</font>"
        if sig is None:
            # The signer's signature field: their drawn signature and signing time.
            key = f"party:{identity.party_id}" if identity.party_id else identity.role
            spans.append(("SPAN", (1, len(rows)), (2, len(rows))))
            rows.append([_p(label, st["cell"]), _FieldBox(key, boxes, width=field_w), ""])
        else:
            rows.append(
                [
                    _p(label, st["cell"]),
                    _signature_cell(sig, st, party_name=identity.name),
                    _p(cn_datetime(sig.signed_at), st["cell"]),
                ]
            )
    mediator = ctx.state.mediator
    name = (
        signer_name(mediator) if mediator is not None else _real_name(ctx.dispute.mediator)
    ) or NO_NAME
    if "@" in name:
        name = _real_name(ctx.dispute.mediator) or NO_NAME
    label = _p(f"{ROLE_LABELS[R.MEDIATOR]}：{_esc(name)}", st["cell"])
    if mediator is None:
        spans.append(("SPAN", (1, len(rows)), (2, len(rows))))
        rows.append([label, _FieldBox(R.MEDIATOR, boxes, width=field_w), ""])
    else:
        rows.append(
            [label, _signature_cell(mediator, st), _p(cn_datetime(mediator.signed_at), st["cell"])]
        )
    table = Table(
        rows,
        colWidths=[width * 0.40, width * 0.34, width * 0.26],
        rowHeights=[None] + [None] * (len(rows) - 1),
        repeatRows=1,
    )
    table.setStyle(
        table_style(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.Color(0.55, 0.55, 0.55)),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 5),
                ("TOPPADDING", (0, 1), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 1), (-1, -1), 5),
                *spans,
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
            scale = min(120 / w, 36 / h)
            return Image(BytesIO(data), width=w * scale, height=h * scale, hAlign="LEFT")
    # A typed signature, or a drawing that cannot be read: the name in the font.
    name = signer_name(sig)
    if "@" in name:
        name = _real_name(sig.signer) or NO_NAME
    return _p(f"<font size=14>{_esc(name)}</font>（键入）", st["cell"])


def _audit_flowables(ctx: _Context, st, width: float, boxes: dict | None = None) -> list:
    out = [
        BoldLine("签署与审计记录", size=18, align="center", space_before=0, space_after=6),
        _p(
            f"调解案号：{_esc(document_number(ctx.dispute.case_number))}　　"
            f"文书编号：{ctx.agreement.document_id}",
            st["small"],
        ),
        _p(
            f"协议版本：第{ordinal(ctx.agreement.version)}版　　核验地址："
            f"{_esc(verification_url(ctx.agreement.document_id))}",
            st["small"],
        ),
        Spacer(1, 6),
        BoldLine("签名人", size=12),
    ]
    rows = [
        [
            _p(f"<b>{h}</b>", st["cell"])
            for h in ("角色", "签名人", "签署时间", "方式", "证书序列号", "所签文本哈希")
        ]
    ]
    names = {id(sig): i.name for i, sig in ctx.state.party_signatures if sig is not None}
    for sig in ctx.signatures:
        name = signer_name(sig)
        if "@" in name:
            name = _real_name(sig.signer) or names.get(id(sig), "") or NO_NAME
        party = names.get(id(sig), "")
        if party and party != name:
            name += f"（代{party}）"
        rows.append(
            [
                _p(ROLE_SHORT.get(sig.role, sig.role), st["cell"]),
                _p(_esc(name), st["cell"]),
                _p(cn_datetime(sig.signed_at), st["cell"]),
                _p("手写" if sig.method == Signature.Method.DRAWN else "键入", st["cell"]),
                _p(_esc(sig.certificate_serial[:20] or "—"), st["cell_mono"]),
                _p(_esc((getattr(sig, "document_sha256", "") or "—")[:16]), st["cell_mono"]),
            ]
        )
    if ctx.signatures:
        signer_table = Table(
            rows, colWidths=[w * width for w in (0.11, 0.19, 0.24, 0.08, 0.20, 0.18)]
        )
        signer_table.setStyle(_grid_style())
        out.append(signer_table)
    else:
        # Rendered once when the agreement opens for signing: each signature is added
        # afterwards, and carries its own signer, time and certificate. What is known only
        # then (each signer's time, certificate, address) the platform seal adds after the
        # last signer as the completion record, drawn in the place kept here (RECORD_BOX).
        out.append(
            _p(
                "本文书于开放签署时生成；各签名人的电子签名按签署顺序以增量更新方式逐一附加，"
                "签名人、签署时间、证书及所签文本的版本和哈希见各电子签名。"
                "全部签署完成后，平台以电子印章在下方附加签署完成记录。",
                st["small"],
            )
        )
        signers = len(ctx.state.party_signatures) + 1  # the parties and the mediator
        out.append(_FieldBox(RECORD_BOX, boxes, width=width, height=record_height(signers)))
    out += [Spacer(1, 8), BoldLine("审计事件", size=12)]
    rows = [[_p(f"<b>{h}</b>", st["cell"]) for h in ("序号", "时间", "操作人", "操作", "哈希")]]
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
            "审计记录为哈希链：每一事件的哈希覆盖其内容和前一事件的哈希，"
            "任何修改、删除或调换均可被发现。",
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
        return _real_name(actor) or "未实名用户"
    label = event.actor_label or ""
    if not label:
        return "系统"
    return "未实名用户" if "@" in label else label


def _action_label(action: str) -> str:
    """The audit action as a clerk reads it: the words its app declared with it
    (odr.lifecycle); an action no longer declared is shown by its code."""
    words = words_for(action)
    return words.document if words is not None else action


class _NumberedCanvas(EmbeddedFontCanvas):
    """Adds 第 n 页 共 N 页 and the document id to every page once the count is known. The
    file is dated with the document's own time (`issued_at`, EmbeddedFontCanvas)."""

    def __init__(
        self, *args, document_id: str = "", footer=None, font: str = FONT, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self._footer_font = font
        self._saved: list[dict] = []
        self._document_id = document_id
        self._footer = footer or (lambda n, total, doc_id: (f"第{n}页　共{total}页", doc_id))

    def showPage(self) -> None:
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self.setFont(self._footer_font, 8)
            self.setFillColor(colors.grey)
            right, left = self._footer(self._pageNumber, total, self._document_id)
            self.drawRightString(PAGE_W - MARGIN_R, 12 * mm, right)
            self.drawString(MARGIN_L, 12 * mm, left)
            super().showPage()
        super().save()


def _context(agreement) -> _Context:
    # A fresh copy of the case with its organisation and mediator: the caller's instance
    # keeps no cache it did not ask for.
    dispute = Dispute.objects.select_related("organisation", "mediator__profile").get(
        pk=agreement.dispute_id
    )
    state = signing_state(agreement)
    return _Context(
        agreement=agreement,
        dispute=dispute,
        organisation=dispute.organisation,
        issuer=issuer_name(dispute),
        state=state,
        issued_at=issued_at(agreement, state.signatures),
    )


def _styles() -> dict:
    st = styles()
    st["detail"] = st["body"].clone(
        "detail", fontSize=10.5, leading=17, leftIndent=23, textColor=colors.Color(0.15, 0.15, 0.15)
    )
    # Party paragraphs indented two characters, as court documents print them.
    st["party"] = st["body"].clone("party", leading=19, spaceAfter=1, firstLineIndent=23)
    st["party_more"] = st["party"].clone("party_more")
    st["cell_small"] = st["cell"].clone("cell_small", fontSize=8.5, leading=11)
    st["docno"] = st["body"].clone("docno", alignment=2, fontSize=11.5, spaceAfter=10)
    st["heading"] = st["heading"].clone("heading_kept", keepWithNext=1)
    return st


def _build(
    agreement,
    ctx: _Context,
    story: list,
    *,
    title: str,
    watermark: str,
    footer,
    font: str = FONT,
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
        author=ctx.issuer,
        subject=f"document-id:{agreement.document_id}",
        creator="ODR platform",
        keywords=[str(agreement.document_id), ctx.dispute.case_number],
        invariant=1,
    )

    def on_page(canvas: Canvas, _doc) -> None:
        if watermark:
            canvas.saveState()
            canvas.setFillColor(colors.Color(0.85, 0.1, 0.1, alpha=0.12))
            canvas.setFont(font, 72 if len(watermark) <= 4 else 40)
            canvas.translate(PAGE_W / 2, PAGE_H / 2)
            canvas.rotate(35)
            canvas.drawCentredString(0, 0, watermark)
            canvas.restoreState()

    doc.build(
        story,
        onFirstPage=on_page,
        onLaterPages=on_page,
        canvasmaker=lambda *a, **kw: _NumberedCanvas(
            *a,
            document_id=str(agreement.document_id),
            issued_at=ctx.issued_at,
            footer=footer,
            font=font,
            **kw,
        ),
    )
    return buffer.getvalue()


def render_agreement_pdf(agreement, boxes: dict | None = None) -> bytes:
    """The 人民调解协议书 as it stands (draft preview, or the document rendered once when
    it opens for signing) as PDF bytes, in Chinese only. Deterministic: the same rows give
    the same bytes. `boxes`, when given, receives where each signer's signature field
    sits (signer key -> [page index, x1, y1, x2, y2])."""
    register_fonts()
    st = _styles()
    ctx = _context(agreement)
    dispute = ctx.dispute
    width = PAGE_W - MARGIN_L - MARGIN_R
    url = verification_url(agreement.document_id)
    both = _both(ctx)

    story: list = [
        _p(_esc(ctx.issuer), st["org"]),
        BoldLine("人民调解协议书", size=22, align="center", space_before=4, space_after=10),
        _p(f"编号：{_esc(document_number(dispute.case_number))}", st["docno"]),
        *_party_flowables(ctx, st),
        BoldLine("纠纷主要事实、争议事项："),
        _p(_esc(agreement.facts or dispute.description), st["indent"]),
        *(
            [_p(f"争议事项：{_esc(agreement.disputed_matters)}", st["indent"])]
            if getattr(agreement, "disputed_matters", "")
            else []
        ),
        # A paragraph, not a BoldLine: a committee's name may be long.
        _p(f"<b>经{_esc(ctx.issuer)}调解，{both}当事人自愿达成如下协议：</b>", st["heading"]),
        *_term_flowables(ctx, st),
        BoldLine("履行方式、时限、地点："),
        *_performance(ctx, st),
        BoldLine("协议效力及份数："),
    ]
    for n, clause in enumerate(effect_clauses(ctx), start=1):
        story.append(_p(f"{ordinal(n)}、{clause}", st["indent"]))
    story += [
        # The signatures, the seal and the QR code stay together on one page: a seal
        # alone on a page would not show what it seals.
        KeepTogether(
            [
                Spacer(1, 6),
                _signature_table(ctx, st, width, boxes),
                Spacer(1, 4),
                Table(
                    [
                        [
                            [
                                QrCode(url, size=22 * mm),
                                Spacer(1, 2),
                                _p("扫码核验本协议书", st["small"]),
                            ],
                            _SealBlock(
                                name=ctx.issuer,
                                when=cn_numeral_date(ctx.issued_at),
                                sealed=ctx.complete,
                                width=width * 0.62,
                                boxes=boxes,
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
                _p(f"核验地址：{_esc(url)}", st["small"]),
            ]
        ),
        PageBreak(),
        *_audit_flowables(ctx, st, width, boxes),
    ]
    return _build(
        agreement,
        ctx,
        story,
        title=f"人民调解协议书 {document_number(dispute.case_number)}",
        watermark="草稿" if agreement.status == Agreement.Status.DRAFT else "",
        footer=lambda n, total, doc_id: (f"第{n}页　共{total}页", f"文书编号 {doc_id}"),
    )
