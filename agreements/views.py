"""Pages of the settlement agreement: the text, drafting, the visible difference between
versions, and signing on a phone. Thin: parse, find what the user may see (404
otherwise), call one service, render. A DomainError becomes a message on the page."""

from __future__ import annotations

import base64
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agreements import selectors, services
from agreements.api import pdf_response
from agreements.content_check import (
    OTHER,
    confirmation_bar,
    missing_elements,
    non_mediable_reason,
)
from agreements.diff import compare, term_line
from agreements.drafting_templates import TEMPLATES, initial_draft, template_for
from agreements.forms import AgreementForm, SignForm, TermForm, TermFormSet, draft_data
from agreements.models import Agreement, Signature
from agreements.transitions import allowed_actions, refusal
from odr import people
from odr import selectors as odr_selectors
from odr.errors import DomainError, NotFound
from odr.models import Party


def _agreement(request: HttpRequest, agreement_id: int) -> Agreement:
    # NotFound rises to odr.middleware.NotFoundMiddleware, which answers 404.
    return selectors.agreement_get_for(user=request.user, agreement_id=agreement_id)


def _party_label(key: str, names: dict[str, str]) -> str:
    if key in Party.Role.values:
        return str(Party.Role(key).label)
    return names.get(key, "")


def text_context(agreement: Agreement) -> dict[str, Any]:
    """What the agreement's text partial needs: the whole agreement as it will be signed,
    and who signs it (every party who takes part, the mediator last) with where each
    stands."""
    names = selectors.party_names(agreement)
    return {
        "agreement": agreement,
        "dispute": agreement.dispute,
        "is_draft": agreement.status == Agreement.Status.DRAFT,
        "is_signed": agreement.status == Agreement.Status.SIGNED,
        "parties": selectors.agreement_parties(agreement),
        "signers": selectors.signers(agreement),
        "terms": [
            {
                **t,
                "n": n,
                "line": term_line(n, t, names),
                "binds": t.get("kind") != OTHER,
                "obligor_label": _party_label(t.get("obligor") or "", names),
                "obligee_label": _party_label(t.get("obligee") or "", names),
            }
            for n, t in enumerate(agreement.terms or [], 1)
        ],
        "signatures": [
            {
                "signature": s,
                "image": base64.b64encode(bytes(s.signature_png)).decode(),
            }
            for s in selectors.current_signatures(agreement)
        ],
    }


@login_required
def agreement_detail(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement = _agreement(request, agreement_id)
    context = text_context(agreement)
    is_draft = context["is_draft"]
    if request.GET.get("signed") and any(
        s.signer_id == request.user.pk for s in selectors.current_signatures(agreement)
    ):
        # Where the signing page's script lands after step 2 (a GET: it says, never does).
        if agreement.status == Agreement.Status.SIGNED:
            messages.success(request, _("You signed last: the agreement is sealed and in force."))
        else:
            messages.success(request, _("Thank you: your signature is recorded."))
    return render(
        request,
        "agreements/agreement_detail.html",
        {
            **context,
            "actions": allowed_actions(agreement, request.user),
            "missing": missing_elements(agreement) if is_draft else [],
            "not_mediable": non_mediable_reason(agreement) if is_draft else None,
            # Shown before anyone applies: a court would not confirm this agreement.
            "confirmation_bar": confirmation_bar(agreement),
            "signer_role": selectors.signer_role(agreement, request.user),
        },
    )


@login_required
def agreement_edit(request: HttpRequest, dispute_id: int) -> HttpResponse:
    """The mediator's drafting page: create from the category's template, or edit."""
    dispute = odr_selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)
    agreement = selectors.agreement_of_dispute(dispute)
    if not odr_selectors.is_mediator_of(dispute, request.user):
        raise Http404
    if agreement is not None and agreement.status != Agreement.Status.DRAFT:
        messages.warning(
            request, _("The agreement is out for signature: revise it first to change it.")
        )
        return redirect("agreements:detail", agreement.pk)
    chosen = request.GET.get("template")
    if agreement is None or chosen:
        content = initial_draft(dispute, template=chosen if chosen in TEMPLATES else None)
        if agreement is not None:
            # Changing the template keeps the facts and details already written.
            content = {
                **services.content_of(agreement),
                "terms": content["terms"],
                "performance_method": content["performance_method"],
            }
    else:
        content = services.content_of(agreement)
    parties = selectors.parties_of(dispute)
    choices = _party_choices(parties)
    if request.method == "POST":
        form = AgreementForm(request.POST, parties=parties)
        terms = TermFormSet(request.POST, prefix="terms", form_kwargs={"party_choices": choices})
        if form.is_valid() and terms.is_valid():
            try:
                saved = services.agreement_save_draft(
                    dispute=dispute,
                    actor=request.user,
                    data={**draft_data(form, terms), "template": request.POST.get("template")},
                )
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("Saved as version %(n)s.") % {"n": saved.version})
                return redirect("agreements:detail", saved.pk)
    else:
        form = AgreementForm(initial=AgreementForm.initial_from(content), parties=parties)
        terms = TermFormSet(
            prefix="terms",
            initial=[TermForm.initial_from(t) for t in content["terms"]],
            form_kwargs={"party_choices": choices},
        )
    return render(
        request,
        "agreements/agreement_edit.html",
        {
            "dispute": dispute,
            "agreement": agreement,
            "form": form,
            "terms": terms,
            "templates": [(code, str(t.label)) for code, t in TEMPLATES.items()],
            "current_template": chosen or (agreement.template if agreement else dispute.category),
            "parties": form.party_fields(),
        },
    )


def _party_choices(parties: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Each party as a term's obligor, offered when a side has several parties."""
    sides = [p["role"] for p in parties]
    if all(sides.count(role) <= 1 for role in sides):
        return []
    return [(p["key"], f"{p['role_label_zh']}{p['name']}") for p in parties]


@login_required
def agreement_versions(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """Every saved version, and the difference between two of them (by default the last
    two), with removed text struck through and added text highlighted."""
    agreement = _agreement(request, agreement_id)
    versions = selectors.agreement_versions(agreement)
    numbers = [v.number for v in versions]
    by_number = {v.number: v for v in versions}

    def pick(name: str, default: int) -> int:
        try:
            value = int(request.GET.get(name, default))
        except ValueError:
            return default
        return value if value in by_number else default

    for version in versions:
        version.label = _version_note(version.note)
    new = pick("b", numbers[-1])
    old = pick("a", numbers[-2] if len(numbers) > 1 else numbers[-1])
    return render(
        request,
        "agreements/agreement_versions.html",
        {
            "agreement": agreement,
            "dispute": agreement.dispute,
            "versions": versions,
            "old": by_number[old],
            "new": by_number[new],
            "sections": compare(by_number[old].snapshot, by_number[new].snapshot),
        },
    )


def _version_note(note: str) -> str:
    """The stored note of a version (`template:<code>`, `revise:<reason>`) for people."""
    kind, _sep, rest = note.partition(":")
    if kind == "template":
        return _("Created from the template “%(name)s”") % {"name": template_for(rest).label}
    if kind == "revise":
        if rest:
            return _("Taken back for revision: %(reason)s") % {"reason": rest}
        return _("Taken back for revision")
    return note


@login_required
@require_POST
def agreement_action(request: HttpRequest, agreement_id: int, action: str) -> HttpResponse:
    agreement = _agreement(request, agreement_id)
    try:
        services.agreement_run_action(
            agreement=agreement,
            actor=request.user,
            action=action,
            data={"reason": request.POST.get("reason", "")},
        )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise  # an unknown action is a page that does not exist (NotFoundMiddleware)
        messages.error(request, exc.message)
    else:
        done = {
            "open": _("The agreement is out for signature. The parties were told."),
            "revise": _("The agreement is a draft again; any signatures were voided."),
        }
        messages.success(request, done[action])
    return redirect("agreements:detail", agreement.pk)


@login_required
def agreement_sign(request: HttpRequest, agreement_id: int) -> HttpResponse:
    """The signing page, phone first: the whole text, re-authentication, consent, and a
    drawn (or typed) signature."""
    from allauth.mfa.models import Authenticator

    agreement = _agreement(request, agreement_id)
    uses_totp = Authenticator.objects.filter(
        user=request.user, type=Authenticator.Type.TOTP
    ).exists()
    # The hidden `version` is the version whose text this page shows: the signature binds
    # that one. The page signs with a key made in the browser (frontend/signature-pad.js
    # and device-signing.js through the API's two steps); a refusal because the version
    # changed brings the signer back here with `?read=<version>`, and the page then
    # says what changed, as the API answers 409 (issue 9, point 3).
    form = SignForm(initial={"version": agreement.version})
    changed: dict[str, Any] | None = None
    no_script_post = request.method == "POST"
    if no_script_post:
        # A form sent without the page's script: nothing can be signed without a key
        # made on the signer's device.
        messages.error(
            request,
            _(
                "Nothing was signed: signing needs a current browser with JavaScript, which "
                "makes your signing key on your device."
            ),
        )
    read = request.GET.get("read")
    if read is not None and services.signer_may_read(agreement, request.user):
        number = int(read) if read.isascii() and read.isdigit() and int(read) > 0 else None
        try:
            if number is None:
                # The request named no version: it signed nothing.
                raise services.VersionChanged(
                    read=None, current=agreement.version, state=agreement.status
                )
            services.check_version_read(agreement, number)
        except services.VersionChanged as exc:
            changed = version_change(agreement, exc)
    why = refusal("sign", agreement, request.user)
    return render(
        request,
        "agreements/agreement_sign.html",
        {
            **text_context(agreement),
            "form": form,
            "uses_totp": uses_totp,
            "refused": why.message if why else None,
            "signs_last": selectors.signer_role(agreement, request.user) == Signature.Role.MEDIATOR,
            "signer_name": people.display_name(request.user),
            "version_change": changed,
            "no_script_post": no_script_post,
        },
        # As the API answers: the signature was refused because the version changed.
        status=409 if changed else 400 if no_script_post else 200,
    )


def version_change(agreement: Agreement, exc: services.VersionChanged) -> dict[str, Any]:
    """What the signing page says when the signer read another version than the current
    one: both numbers, when and by whom it was revised, and each element of the text that
    differs between the version read and the current one (from the versions kept for the
    visible difference). When the version read is not kept (or none was named), the
    page says when it was revised and shows the current text below."""
    versions = {v.number: v for v in selectors.agreement_versions(agreement)}
    read = exc.read
    later = [v for n, v in sorted(versions.items()) if read is not None and n > read]
    revision = later[0] if later else None
    old = versions.get(read) if read is not None else None
    new = versions.get(agreement.version)
    current = new.snapshot if new is not None and new.snapshot else services.content_of(agreement)
    kept = old is not None and bool(old.snapshot)
    kind, _sep, reason = (revision.note if revision else "").partition(":")
    return {
        "message": exc.message,
        "read": read,
        "current": agreement.version,
        "open": agreement.status == Agreement.Status.SIGNING,
        "in_force": agreement.status == Agreement.Status.SIGNED,
        "revised_at": revision.created_at if revision else agreement.updated_at,
        "revised_by": people.display_name(
            revision.author if revision else agreement.dispute.mediator
        ),
        "reason": reason if kind == "revise" else "",
        "kept": kept,
        "sections": [s for s in compare(old.snapshot, current) if s.changed] if kept else [],
        "compare_url": (
            f"{reverse('agreements:versions', args=[agreement.pk])}?a={read}&b={agreement.version}"
            if kept and agreement.version in versions
            else ""
        ),
    }


@login_required
def agreement_pdf(request: HttpRequest, agreement_id: int) -> HttpResponse:
    return pdf_response(_agreement(request, agreement_id))
