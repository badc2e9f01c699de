"""A non-binding English rendering of the 人民调解协议书, for a party or an adviser who
reads no Chinese. It is a separate file, never part of the signed document: it is not
signed, sealed or hashed, and every page says it is a translation without legal effect
and that the Chinese original governs. What the parties wrote (facts, terms) is printed
as written; the form's own wording is translated."""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from reportlab.lib import colors
from reportlab.platypus import Spacer

from agreements.documents.fonts import (
    FONT_BOLD,
    SANS_FONT,
    SANS_FONT_BOLD,
    BoldLine,
    register_fonts,
)
from agreements.documents.pdf import (
    _both,
    _build,
    _context,
    _esc,
    _money,
    _p,
    _real_name,
    _side_names,
    _styles,
    document_number,
    signer_name,
    verification_url,
)
from agreements.models import Signature
from odr.identity import PartyIdentity

ROLE_EN = {"applicant": "Applicant", "respondent": "Respondent", "mediator": "Mediator"}
SEX_EN = {"M": "male", "F": "female"}
SCOPE_EN = {"general": "general authority", "special": "special authority"}
NOTICE = (
    "NON-BINDING TRANSLATION. This English rendering is provided for convenience only. It "
    "is not signed or sealed and has no legal effect: the only binding text is the Chinese "
    "人民调解协议书 with document ID {doc_id}, which governs in case of any difference. "
    "Verify the original at {url}."
)


def _day(value) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if hasattr(value, "tzinfo") and timezone.is_aware(value):
        value = timezone.localtime(value)
    return f"{value.day} {value:%B} {value.year}"


def _when(value) -> str:
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{_day(local)}, {local:%H:%M:%S}"


def describe_en(identity: PartyIdentity) -> list[str]:
    """The party's particulars in English, in the order the Chinese original gives them."""
    label = ROLE_EN.get(identity.role, identity.role)
    parts = [identity.name]
    if identity.is_person:
        if identity.sex:
            parts.append(SEX_EN.get(identity.sex, identity.sex))
        if identity.birth_date:
            parts.append(f"born {_day(identity.birth_date)}")
        if identity.ethnicity:
            parts.append(f"ethnicity {identity.ethnicity}")
        if identity.occupation:
            parts.append(f"occupation {identity.occupation}")
        if identity.address:
            parts.append(f"residing at {identity.address}")
        if identity.id_number:
            parts.append(f"resident ID number {identity.id_number}")
    else:
        if identity.address:
            parts.append(f"domicile {identity.address}")
        if identity.credit_code:
            parts.append(f"unified social credit code {identity.credit_code}")
    if identity.phone:
        parts.append(f"phone {identity.phone}")
    lines = [f"{label}: " + ", ".join(parts) + "."]
    if not identity.is_person and identity.representative:
        title = f", {identity.representative_title}" if identity.representative_title else ""
        lines.append(f"Legal representative: {identity.representative}{title}.")
    for agent in identity.agents:
        bits = [agent.name]
        if agent.relation:
            bits.append(agent.relation)
        if agent.scope:
            bits.append(SCOPE_EN.get(agent.scope, agent.scope))
        lines.append("Agent ad litem: " + ", ".join(bits) + ".")
    return lines


def render_agreement_translation_pdf(agreement) -> bytes:
    """The agreement's English translation as PDF bytes (see the module's docstring)."""
    register_fonts()
    # Set in the sans: its Latin letters are proportional, the serif's are not.
    st = _styles()
    for style in st.values():
        style.fontName = SANS_FONT_BOLD if style.fontName == FONT_BOLD else SANS_FONT
    st["notice"] = st["body"].clone(
        "notice",
        fontSize=9.5,
        leading=14,
        textColor=colors.Color(0.6, 0.05, 0.05),
        borderColor=colors.Color(0.6, 0.05, 0.05),
        borderWidth=0.6,
        borderPadding=5,
        spaceBefore=4,
        spaceAfter=10,
    )
    ctx = _context(agreement)
    dispute = ctx.dispute
    url = verification_url(agreement.document_id)
    both = "both" if _both(ctx) == "双方" else "all"
    story: list = [
        _p(_esc(NOTICE.format(doc_id=agreement.document_id, url=url)), st["notice"]),
        _p(f"{_esc(ctx.issuer)} (people's mediation committee)", st["org"]),
        BoldLine(
            "People's Mediation Agreement",
            size=18,
            align="center",
            space_after=6,
            font=SANS_FONT_BOLD,
        ),
        _p("English translation of the 人民调解协议书", st["subtitle"]),
        _p(f"No. {_esc(document_number(dispute.case_number))}", st["docno"]),
    ]
    for identity in ctx.parties:
        lines = describe_en(identity)
        story.append(_p(_esc(lines[0]), st["party"]))
        story += [_p(_esc(line), st["party_more"]) for line in lines[1:]]
    story += [
        _h("Main facts and disputed matters (as written in the original)", st),
        _p(_esc(agreement.facts or dispute.description), st["indent"]),
    ]
    if getattr(agreement, "disputed_matters", ""):
        story.append(_p(f"Disputed matters: {_esc(agreement.disputed_matters)}", st["indent"]))
    story.append(_h(f"Mediated by {ctx.issuer}, the parties have freely agreed as follows:", st))
    for index, term in enumerate(agreement.terms or [], start=1):
        story.append(_p(f"{index}. {_esc(term.get('text', ''))}", st["indent"]))
        details = []
        for key, label in (("obligor", "Obligor"), ("obligee", "Obligee")):
            names = _side_names(ctx, term.get(key))
            if names:
                details.append(f"{label}: {_esc(names)}")
        money = _money(term.get("amount"))
        if money:
            details.append(f"Amount: {money}")
        if term.get("due_date"):
            details.append(f"Due by: {_day(term['due_date'])}")
        if term.get("place"):
            details.append(f"Place: {_esc(term['place'])}")
        if details:
            story.append(_p("; ".join(details) + ".", st["detail"]))
        for n, inst in enumerate(term.get("instalments") or [], start=1):
            line = f"Instalment {n}: {_money(inst.get('amount')) or ''}"
            if inst.get("due_date"):
                line += f", by {_day(inst['due_date'])}"
            story.append(_p(line + ".", st["detail"]))
    story.append(_h("Method, time limit and place of performance", st))
    if agreement.performance_method:
        story.append(_p(_esc(agreement.performance_method), st["indent"]))
    if getattr(agreement, "performance_place", ""):
        story.append(
            _p(
                f"Where no place is agreed, performance is at {_esc(agreement.performance_place)}.",
                st["indent"],
            )
        )
    copies = len(ctx.parties) + 1
    story += [
        _h("Effect and copies", st),
        _p(
            f"1. This agreement takes effect when {both} parties and the mediator have signed "
            "it and the committee's seal is affixed; it is legally binding and shall be "
            "performed (People's Mediation Law, Articles 29 and 31).",
            st["indent"],
        ),
        _p(
            f"2. Made in {copies} copies of equal effect: one for each party and one kept by "
            "the people's mediation committee.",
            st["indent"],
        ),
        _p(
            "3. The parties may jointly apply to a competent people's court for judicial "
            "confirmation within 30 days of the agreement taking effect (People's Mediation "
            "Law, Article 33).",
            st["indent"],
        ),
        _p(
            "4. The original is signed electronically; each signature and the committee's seal "
            "are digital signatures in that file (Electronic Signature Law, Article 13).",
            st["indent"],
        ),
        _h("Signatures (on the Chinese original)", st),
    ]
    for identity, sig in ctx.state.party_signatures:
        story.append(_p(_signed_line(ROLE_EN[identity.role], identity.name, sig), st["body"]))
    mediator = ctx.state.mediator
    name = (signer_name(mediator) if mediator else _real_name(dispute.mediator)) or "—"
    if "@" in name:
        name = _real_name(dispute.mediator) or "—"
    story.append(_p(_signed_line("Mediator", name, mediator), st["body"]))
    story += [
        Spacer(1, 8),
        _p(
            f"{_esc(ctx.issuer)}, "
            + (
                f"{_day(ctx.issued_at)} (seal on the original)"
                if ctx.complete
                else "not yet sealed"
            ),
            st["right"],
        ),
    ]
    return _build(
        agreement,
        ctx,
        story,
        title=f"Non-binding translation of 人民调解协议书 {document_number(dispute.case_number)}",
        watermark="TRANSLATION - NOT BINDING",
        font=SANS_FONT,
        footer=lambda n, total, doc_id: (
            f"Non-binding translation - page {n} of {total}",
            f"Translation of document {doc_id}",
        ),
    )


def _h(text: str, st):
    return _p(f"<b>{_esc(text)}</b>", st["heading"])


def _signed_line(role: str, name: str, sig: Signature | None) -> str:
    if sig is None:
        return f"{role}: {_esc(name)} - not signed yet."
    return f"{role}: {_esc(name)} - signed {_when(sig.signed_at)}."
