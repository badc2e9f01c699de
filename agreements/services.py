"""Every write to settlement agreements: drafting, opening for signature, revising and
signing. Each move goes through the agreement's machine (agreements.transitions), which
locks the row, checks the move, saves and writes the audit event; e-mails go after commit
(DESIGN.md §2, §4)."""

from __future__ import annotations

import copy
import hashlib
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from agreements import pending_signing, selectors
from agreements.content_check import TERM_KINDS, check_before_open
from agreements.drafting_templates import TEMPLATES, initial_draft, template_for
from agreements.models import (
    Agreement,
    AgreementVersion,
    PendingSigning,
    Signature,
    SigningAttempts,
)
from agreements.signature_image import decode_signature_png, render_typed_name
from agreements.transitions import MACHINE
from odr import people
from odr import selectors as odr_selectors
from odr.audit import log_action
from odr.errors import DomainError, Forbidden, Invalid, NotFound
from odr.identity import identities_of
from odr.links import site_url
from odr.models import Dispute, Party
from odr.notifications import notify
from odr.services import dispute_settle
from odr.text import clean_text

S = Agreement.Status
Role = Signature.Role
PARTY_ROLES = (Party.Role.APPLICANT, Party.Role.RESPONDENT)
MAX_TERMS = 50
MAX_TEXT = 20000
# Passwords or codes checked on the signing form per window before it waits (per user).
REAUTH_MAX_FAILURES = 5
REAUTH_LOCKOUT_SECONDS = 15 * 60
# How long a signing begun (step 1) waits for the signer's signature (step 2).
PENDING_SIGNING_MINUTES = 10


# --- helpers ---------------------------------------------------------------------------


def content_of(agreement: Agreement) -> dict[str, Any]:
    """Everything the parties agree to: what a version freezes and the difference shows.
    "parties" holds each party's identity record: frozen once the draft is opened for
    signing, else as the records stand now (so a change of particulars shows too)."""
    return {
        "parties": [i.as_dict() for i in selectors.document_parties(agreement)],
        "facts": agreement.facts,
        "disputed_matters": agreement.disputed_matters,
        "matter": agreement.matter,
        "terms": agreement.terms,
        "performance_method": agreement.performance_method,
        "performance_place": agreement.performance_place,
        "party_details": agreement.party_details,
    }


def _snapshot_version(agreement: Agreement, *, author: AbstractBaseUser, note: str = "") -> None:
    AgreementVersion.objects.create(
        agreement=agreement,
        number=agreement.version,
        facts=agreement.facts,
        terms=agreement.terms,
        performance_method=agreement.performance_method,
        snapshot=content_of(agreement),
        note=note[:200],
        author=author,
    )


def render_pdf(agreement: Agreement) -> bytes:
    """The agreement as a PDF now: while it is out for signature, the document rendered
    when it opened with the signatures given so far; a draft, rendered as it stands."""
    if agreement.status == S.SIGNING and agreement.signing_pdf:
        return bytes(agreement.signing_pdf)
    from agreements.documents.pdf import render_agreement_pdf

    return render_agreement_pdf(agreement)


def render_for_signing(agreement: Agreement) -> tuple[bytes, dict]:
    from agreements.documents.finalize import render_for_signing as render

    return render(agreement)


def _as_it_will_be(agreement: Agreement, **values: Any) -> Agreement:
    """A copy of the locked agreement with the values a move is about to save: the
    document hash is taken of the text as it will read, and the audit event's `before`
    must still read the row as it was (the kernel takes it after `prepare`)."""
    preview = copy.copy(agreement)
    for name, value in values.items():
        setattr(preview, name, value)
    return preview


def _context(agreement: Agreement) -> dict[str, Any]:
    dispute = agreement.dispute
    return {
        "case_number": dispute.case_number,
        "title": dispute.title,
        "case_url": f"{site_url()}/disputes/{dispute.pk}/",
        "agreement_url": f"{site_url()}/agreements/{agreement.pk}/",
        "sign_url": f"{site_url()}/agreements/{agreement.pk}/sign/",
        "organisation": dispute.organisation.name if dispute.organisation else "",
    }


def _party_users(dispute: Dispute) -> list[AbstractBaseUser]:
    """The accounts of the parties who take part (not those who declined to mediate)."""
    return [
        p.user
        for p in dispute.parties.select_related("user__profile")
        if p.user is not None and p.accepted is not False
    ]


# --- input: terms and the other fields -------------------------------------------------


def _text(value: Any, *, field: str, limit: int = MAX_TEXT, multiline: bool = True) -> str:
    """Text as the agreement stores it: through the platform's one cleaner, so that no
    invisible or direction-changing character can make a field look filled in, or make a
    term read differently on the signer's screen than in the text (issue 11, L7). A field
    left with nothing visible is empty, and the content check refuses it as before."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(_("“%(field)s” must be text.") % {"field": field}, code="invalid_field")
    value = clean_text(value, multiline=multiline)
    if len(value) > limit:
        raise Invalid(
            _("“%(field)s” is too long (%(limit)s characters at most).")
            % {"field": field, "limit": limit},
            code="invalid_field",
        )
    return value


def _amount(value: Any, *, where: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise Invalid(
            _("The amount of %(where)s is not a valid sum of money.") % {"where": where},
            code="invalid_amount",
        )
    return str(amount.quantize(Decimal("0.01")))


def _date(value: Any, *, where: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise Invalid(
            _("The due date of %(where)s is not a date (YYYY-MM-DD).") % {"where": where},
            code="invalid_date",
        ) from None


def _role(value: Any, *, where: str, parties: dict[str, str] | None = None) -> str:
    """A side ("applicant", "respondent") or, when a side has several parties, one of them
    ("party:<id>", a party of this case who takes part)."""
    if value in (None, ""):
        return ""
    if value in PARTY_ROLES or (parties is not None and value in parties):
        return str(value)
    raise Invalid(
        _(
            "The party in %(where)s must be “applicant”, “respondent” or one of the case's "
            "parties (“party:<id>”)."
        )
        % {"where": where},
        code="invalid_party_role",
    )


def _side(key: str, parties: dict[str, str] | None) -> str:
    """The side ("applicant"/"respondent") a term's party key stands on."""
    if key in PARTY_ROLES:
        return key
    return (parties or {}).get(key, "")


def term_parties(dispute: Dispute) -> dict[str, str]:
    """ "party:<id>" → side, for each party of the case who has not declined to mediate:
    what a term may name as obligor or obligee besides a whole side."""
    return {f"party:{p.pk}": p.role for p in dispute.parties.all() if p.accepted is not False}


def normalise_terms(raw: Any, parties: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Terms as stored: every key present, amounts as strings with two decimals, dates
    in ISO form. Bad input names the term; nothing is half-saved. `parties` ("party:<id>"
    → side) lists the parties a term may name one by one."""
    if not isinstance(raw, list):
        raise Invalid(_("The terms must be a list."), code="invalid_terms")
    if len(raw) > MAX_TERMS:
        raise Invalid(
            _("An agreement has at most %(n)s terms.") % {"n": MAX_TERMS}, code="invalid_terms"
        )
    terms = []
    for n, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise Invalid(_("Term %(n)s is not an object.") % {"n": n}, code="invalid_terms")
        where = _("term %(n)s") % {"n": n}
        text = _text(item.get("text"), field=where, limit=2000)
        obligor = _role(item.get("obligor"), where=where, parties=parties)
        amount = _amount(item.get("amount"), where=where)
        kind = item.get("kind") or ("money" if amount else "act" if obligor else "other")
        if kind not in TERM_KINDS:
            raise Invalid(
                _("The kind of %(where)s must be money, act or other.") % {"where": where},
                code="invalid_terms",
            )
        obligee = _role(item.get("obligee"), where=where, parties=parties)
        if obligor and not obligee:
            obligee = next(r for r in PARTY_ROLES if r != _side(obligor, parties))
        # One party cannot owe itself, nor a party owe its own side as a whole (a party
        # may owe another party of its own side, named as such).
        if obligor and (
            obligee == obligor
            or (obligee in PARTY_ROLES and _side(obligor, parties) == obligee)
            or (obligor in PARTY_ROLES and _side(obligee, parties) == obligor)
        ):
            raise Invalid(
                _("In %(where)s a party cannot owe something to itself.") % {"where": where},
                code="invalid_terms",
            )
        instalments = []
        raw_instalments = item.get("instalments") or []
        if not isinstance(raw_instalments, list) or len(raw_instalments) > 120:
            raise Invalid(
                _("The instalments of %(where)s must be a list.") % {"where": where},
                code="invalid_terms",
            )
        for i, inst in enumerate(raw_instalments, start=1):
            inst_where = _("instalment %(i)s of term %(n)s") % {"i": i, "n": n}
            if not isinstance(inst, dict):
                raise Invalid(
                    _("%(where)s is not an object.") % {"where": inst_where}, code="invalid_terms"
                )
            instalments.append(
                {
                    "amount": _amount(inst.get("amount"), where=inst_where),
                    "due_date": _date(inst.get("due_date"), where=inst_where),
                }
            )
        if not text and not amount and not obligor and not instalments:
            continue  # an empty row of the form
        terms.append(
            {
                "text": text,
                "kind": kind,
                "obligor": obligor,
                "obligee": obligee,
                "amount": amount if kind == "money" else None,
                "due_date": _date(item.get("due_date"), where=where),
                "place": _text(item.get("place"), field=where, limit=300, multiline=False),
                "instalments": instalments if kind == "money" else [],
            }
        )
    return terms


# What the drafting input may fill in on a party's identity record (the Party row, the
# one source every document prints from): the particulars a mediator gathers.
PARTICULAR_FIELDS = {
    "address": 300,
    "ethnicity": 20,
    "occupation": 100,
    "representative": 100,
    "representative_title": 100,
}


def _party_details(raw: Any, parties: dict[str, str]) -> dict[str, dict[str, str]]:
    """`{role or "party:<id>": {address?, ethnicity?, occupation?, representative?,
    representative_title?}}`: a role names the first party of that side (one party per
    side, as before several were possible); "party:<id>" names one party of the case."""
    if not isinstance(raw, dict):
        raise Invalid(_("The parties' details must be an object."), code="invalid_field")
    out: dict[str, dict[str, str]] = {}
    labels = {
        "address": _("address"),
        "ethnicity": _("ethnicity"),
        "occupation": _("occupation"),
        "representative": _("legal representative"),
        "representative_title": _("representative's title"),
    }
    # Only the parties given: an update naming one party leaves the others alone.
    for key, entry in raw.items():
        if key not in PARTY_ROLES and key not in parties:
            raise Invalid(
                _("The parties' details name a party that is not in this case."),
                code="invalid_field",
            )
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise Invalid(_("The parties' details must be an object."), code="invalid_field")
        out[key] = {
            name: _text(entry.get(name), field=labels[name], limit=limit, multiline=False)
            for name, limit in PARTICULAR_FIELDS.items()
            if entry.get(name) is not None
        }
    return out


def _apply_party_details(dispute: Dispute, details: dict[str, dict[str, str]]) -> list[str]:
    """Writes the particulars given onto the Party rows; returns what changed, as
    "party:<id>.<field>" (for the audit event)."""
    rows = {f"party:{p.pk}": p for p in dispute.parties.select_for_update()}
    firsts = {}
    for party in sorted(rows.values(), key=lambda p: (p.position, p.pk)):
        firsts.setdefault(party.role, party)
    changed: list[str] = []
    for key, values in details.items():
        party = firsts.get(key) if key in PARTY_ROLES else rows.get(key)
        if party is None:
            continue
        fields = [name for name, value in values.items() if getattr(party, name) != value]
        for name in fields:
            setattr(party, name, values[name])
        if fields:
            party.save(update_fields=fields)
            changed += [f"party:{party.pk}.{name}" for name in fields]
    return changed


def _cleaned_changes(data: dict[str, Any], dispute: Dispute) -> dict[str, Any]:
    """The fields given in `data`, validated. Fields not given keep their value."""
    parties = term_parties(dispute)
    changes: dict[str, Any] = {}
    for name, label in (
        ("facts", _("facts")),
        ("disputed_matters", _("disputed matters")),
        ("performance_method", _("method of performance")),
    ):
        if name in data and data[name] is not None:
            changes[name] = _text(data[name], field=label)
    if data.get("performance_place") is not None:
        changes["performance_place"] = _text(
            data["performance_place"], field=_("place of performance"), limit=300, multiline=False
        )
    if data.get("matter") is not None:
        if data["matter"] not in Agreement.Matter.values:
            raise Invalid(_("Choose the kind of matter from the list."), code="invalid_matter")
        changes["matter"] = data["matter"]
    if data.get("terms") is not None:
        changes["terms"] = normalise_terms(data["terms"], parties)
    if data.get("template") in TEMPLATES:
        changes["template"] = template_for(data["template"]).code
    if data.get("party_details") is not None:
        changes["party_details"] = _party_details(data["party_details"], parties)
    return changes


# --- drafting --------------------------------------------------------------------------


def agreement_save_draft(
    *, dispute: Dispute, actor: AbstractBaseUser, data: dict[str, Any]
) -> Agreement:
    """Create the dispute's agreement from its category's template, or update the draft;
    each save that changes something is a new version."""
    if not odr_selectors.is_mediator_of(dispute, actor):
        raise Forbidden(
            _("Only the case's mediator can draft the agreement."), code="action_not_allowed"
        )
    changes = _cleaned_changes(data, dispute)
    details = changes.get("party_details")
    with transaction.atomic():
        # The dispute's row lock makes two first saves queue; the one-to-one is the
        # backstop.
        locked_dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
        agreement = Agreement.objects.filter(dispute=locked_dispute).first()
        if agreement is None:
            return _create(dispute=locked_dispute, actor=actor, changes=changes)
        # Locked and checked before comparing: a save that changes nothing writes nothing.
        locked = MACHINE.lock(agreement)
        MACHINE.check("edit", locked, actor)
        before = content_of(locked)
        particulars: list[str] = []
        if details is not None:
            changes["party_details"] = {**locked.party_details, **details}
            # The parties' identity records (Party rows) are the one source of their
            # particulars: the details given are written there.
            particulars = _apply_party_details(locked_dispute, details)
        # The template alone is no change of content: it only records where it began.
        changed = sorted(k for k, v in before.items() if k in changes and changes[k] != v)
        if particulars:
            changed = sorted({*changed, "parties"})
        if not changed:
            return locked
        extra: dict[str, Any] = {"changed": changed}
        if particulars:
            extra["particulars"] = particulars
        agreement = MACHINE.apply(
            "edit",
            instance=locked,
            actor=actor,
            changes={
                **changes,
                "version": locked.version + 1,
                "updated_at": timezone.now(),
            },
            extra=extra,
        )
        _snapshot_version(agreement, author=actor)
    return agreement


def _create(*, dispute: Dispute, actor: AbstractBaseUser, changes: dict[str, Any]) -> Agreement:
    if not odr_selectors.is_mediator_of(dispute, actor):
        raise Forbidden(
            _("Only the case's mediator can draft the agreement."), code="action_not_allowed"
        )
    if dispute.status != Dispute.Status.IN_MEDIATION:
        raise DomainError(
            "case_not_in_mediation",
            _("An agreement can be drafted only while the case is in mediation."),
        )
    draft = initial_draft(dispute)
    draft.update(changes)
    if changes.get("party_details"):
        _apply_party_details(dispute, changes["party_details"])
    try:
        with transaction.atomic():
            agreement = Agreement.objects.create(dispute=dispute, created_by=actor, **draft)
    except IntegrityError:
        raise DomainError(
            "agreement_exists", _("This case already has an agreement: reload the page.")
        ) from None
    _snapshot_version(agreement, author=actor, note=f"template:{draft['template']}")
    log_action(
        action="agreement.create",
        obj=agreement,
        actor=actor,
        dispute=dispute,
        after={"status": agreement.status, "version": 1, "template": agreement.template},
    )
    return agreement


# --- opening and revising --------------------------------------------------------------


def agreement_open(*, agreement: Agreement, actor: AbstractBaseUser) -> Agreement:
    """The mediator sends the agreement out for signature: the terms are frozen from now
    on, and so is every party's identity record (Agreement.parties, and the current
    version's snapshot): what the parties sign names them as they stood at this moment,
    whatever later happens to a profile. The content check names every missing element
    first, every missing particular of every party among them."""
    # Read by the kernel when it writes the audit event, after `prepare` fills it in.
    extra: dict[str, Any] = {}

    def prepare(locked: Agreement) -> dict[str, Any]:
        check_before_open(locked)
        now = timezone.now()
        frozen = [i.as_dict() for i in identities_of(locked.dispute, accepted_only=True)]
        values = {"opened_at": now, "updated_at": now, "parties": frozen}
        # The document the signers read and sign, rendered once now (issue 9, point 2):
        # every signature is an incremental update of these bytes.
        pdf, boxes = render_for_signing(_as_it_will_be(locked, status=S.SIGNING, **values))
        sha256 = hashlib.sha256(pdf).hexdigest()
        extra["document_sha256"] = sha256
        extra["parties"] = [i["party_id"] for i in frozen]
        return {
            **values,
            "unsigned_pdf_sha256": sha256,
            "signing_pdf": pdf,
            "signature_boxes": boxes,
        }

    with transaction.atomic():
        agreement = MACHINE.apply(
            "open", instance=agreement, actor=actor, prepare=prepare, extra=extra
        )
        _freeze_version(agreement)
        notify(_party_users(agreement.dispute), "agreement_open", _context(agreement))
    return agreement


def _freeze_version(agreement: Agreement) -> None:
    """The version going out for signature holds the frozen identities, so that the
    difference between versions shows a change of particulars."""
    version = AgreementVersion.objects.filter(agreement=agreement, number=agreement.version).first()
    if version is None:
        return
    version.snapshot = {**(version.snapshot or {}), "parties": list(agreement.parties)}
    version.save(update_fields=["snapshot"])


def agreement_revise(
    *, agreement: Agreement, actor: AbstractBaseUser, reason: str = ""
) -> Agreement:
    """Back to draft: every signature given so far is voided (the text they signed is
    about to change) and the version moves on."""
    reason = clean_text(reason, multiline=True)
    extra: dict[str, Any] = {"reason": reason[:2000]}

    def prepare(locked: Agreement) -> dict[str, Any]:
        now = timezone.now()
        current = locked.signatures.filter(voided_at__isnull=True)
        voided = list(current.values_list("role", "party_id"))
        extra["voided_signatures"] = [role for role, _party in voided]
        extra["voided_parties"] = [party for _role, party in voided if party]
        current.update(voided_at=now)
        # Signings begun over the old text can never complete: their version is not
        # the current one (agreement_sign_complete says 409 `version_changed`), and the
        # next signing clears them away.
        # The identities are read again at the next `open`, and the document rendered
        # again then: nothing signed so far carries over.
        return {
            "version": locked.version + 1,
            "opened_at": None,
            "unsigned_pdf_sha256": "",
            "signing_pdf": b"",
            "signature_boxes": {},
            "parties": [],
            "updated_at": now,
        }

    with transaction.atomic():
        agreement = MACHINE.apply(
            "revise", instance=agreement, actor=actor, prepare=prepare, extra=extra
        )
        _snapshot_version(agreement, author=actor, note=f"revise:{reason}"[:200])
        if extra["voided_signatures"]:
            notify(
                [u for u in _party_users(agreement.dispute) if u.pk != actor.pk],
                "agreement_revised",
                {**_context(agreement), "reason": reason},
            )
    return agreement


def agreement_run_action(
    *, agreement: Agreement, actor: AbstractBaseUser, action: str, data: dict[str, Any]
) -> Agreement:
    """The API's `/actions/{action}`: one service per action of the table."""
    handlers = {
        "open": lambda: agreement_open(agreement=agreement, actor=actor),
        "revise": lambda: agreement_revise(
            agreement=agreement, actor=actor, reason=str(data.get("reason") or "")
        ),
    }
    if action not in handlers:
        raise NotFound(_("Unknown action."))
    return handlers[action]()


# --- signing ---------------------------------------------------------------------------


def _locked_out() -> DomainError:
    return DomainError(
        "too_many_attempts",
        _("Too many wrong attempts. Wait %(minutes)s minutes and try again.")
        % {"minutes": REAUTH_LOCKOUT_SECONDS // 60},
        status=429,
    )


def _take_attempt(user: AbstractBaseUser) -> None:
    """Counts one try before anything is checked, or refuses it: one conditional UPDATE
    that starts a new window when the last one has passed and otherwise adds one only
    while fewer than REAUTH_MAX_FAILURES were taken. The database applies these one after
    another on the row, so fifteen guesses in flight at once are five checks and ten
    refusals, not fifteen checks (issue 11, M3: read, check, then increment raced)."""
    now = timezone.now()
    current = Q(window_started_at__gt=now - timedelta(seconds=REAUTH_LOCKOUT_SECONDS))
    for _attempt in range(2):
        taken = (
            SigningAttempts.objects.filter(user_id=user.pk)
            .filter(~current | Q(taken__lt=REAUTH_MAX_FAILURES))
            .update(
                taken=Case(When(current, then=F("taken") + 1), default=Value(1)),
                window_started_at=Case(
                    When(current, then=F("window_started_at")), default=Value(now)
                ),
            )
        )
        if taken:
            return
        if SigningAttempts.objects.filter(user_id=user.pk).exists():
            raise _locked_out()
        try:
            with transaction.atomic():
                SigningAttempts.objects.create(user_id=user.pk, taken=1, window_started_at=now)
        except IntegrityError:
            continue  # another try made the row at the same instant: count on it
        return
    raise _locked_out()


def reauthenticate(*, user: AbstractBaseUser, password: str = "", code: str = "") -> None:
    """The signer proves again that they are who is logged in, so the signature is under
    their sole control (Electronic Signature Law Art. 13): a user with two-factor on
    gives a current authenticator code, anyone else their password.

    The signing form must not become a way to guess a password from a stolen session: at
    most REAUTH_MAX_FAILURES answers are checked per window of REAUTH_LOCKOUT_SECONDS,
    counted before each check; a right answer clears the count."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if totp is not None:
        if not code.strip():
            raise Forbidden(
                _("Enter the code from your authenticator app to sign."), code="code_required"
            )
        _take_attempt(user)
        if not TOTP(totp).validate_code(code.strip()):
            raise Forbidden(
                _("The authenticator code is wrong or was already used."), code="wrong_code"
            )
        if password and not user.check_password(password):
            raise Forbidden(_("The password is wrong."), code="wrong_password")
    else:
        if not password:
            raise Forbidden(_("Enter your password to sign."), code="password_required")
        _take_attempt(user)
        if not user.check_password(password):
            raise Forbidden(_("The password is wrong."), code="wrong_password")
    SigningAttempts.objects.filter(user_id=user.pk).delete()


class VersionChanged(DomainError):
    """The signer read another version than the one that is open for signing now (issue
    9, point 3): 409 `version_changed`, nothing written. `read` is the version the
    request named (None: it named none), `current` the agreement's, `state` the
    agreement's status now: `signing` (another version is out for signature), `draft`
    (the mediator is still revising it) or `signed` (another version is in force)."""

    def __init__(self, *, read: int | None, current: int, state: str) -> None:
        if read is None:
            # The signing page always names the version it shows: a form without it
            # (a page kept from before, or made by hand) signs nothing.
            message = _(
                "This form did not say which version of the agreement you read. The "
                "current version is %(current)s: read it again before you sign."
            )
        elif state == S.SIGNING:
            message = _(
                "You read version %(read)s of the agreement, but the current version is "
                "%(current)s: the mediator changed it. Read the current version again before "
                "you sign."
            )
        elif state == S.SIGNED:
            message = _(
                "You read version %(read)s of the agreement, but version %(current)s has "
                "since been signed by everyone and is in force. Read it on the agreement's "
                "page."
            )
        else:
            message = _(
                "You read version %(read)s of the agreement; the current version is "
                "%(current)s, which the mediator is still revising and which is not open for "
                "signing. Read it again once it is reopened."
            )
        super().__init__(
            "version_changed", message % {"read": read, "current": current}, status=409
        )
        self.read = read
        self.current = current
        self.state = state

    @property
    def open(self) -> bool:
        return self.state == S.SIGNING


def signer_may_read(agreement: Agreement, user: AbstractBaseUser) -> bool:
    """Whether `user` signs this agreement (a party who takes part, or its mediator): only
    they are told of a version change."""
    return selectors.signer_role(agreement, user) is not None


def check_version_read(agreement: Agreement, read: int | None) -> None:
    """Refuses a signature over another version than the one read: the version named
    must be the agreement's current one, and that one out for signature. A signed
    agreement at the version read is left to the machine's own refusal (nothing about it
    changed: "already signed" or "in force"). None (a request that names no version)
    passes: see agreement_sign."""
    if read is None:
        return
    if read == agreement.version and agreement.status != S.DRAFT:
        return
    raise VersionChanged(read=read, current=agreement.version, state=agreement.status)


def _signature_image(
    *, actor: AbstractBaseUser, signature_png: str | None, typed_name: str | None
) -> tuple[bytes, str]:
    name = people.display_name(actor)
    if signature_png:
        return decode_signature_png(signature_png), Signature.Method.DRAWN
    if typed_name is not None and clean_text(typed_name):
        typed_name = clean_text(typed_name)
        if typed_name != clean_text(name):
            raise Invalid(
                _("Type your name exactly as the agreement states it: %(name)s.") % {"name": name},
                code="typed_name_mismatch",
            )
        return render_typed_name(typed_name), Signature.Method.TYPED
    raise Invalid(_("Draw your signature or type your name."), code="invalid_signature_image")


def agreement_sign(
    *,
    agreement: Agreement,
    actor: AbstractBaseUser,
    password: str = "",
    code: str = "",
    consent: bool,
    public_key: str | None,
    version: int | None,
    signature_png: str | None = None,
    typed_name: str | None = None,
    ip: str | None = None,
) -> PendingSigning:
    """The first of the two signing steps (CONTRACT §3, issue 9): each party who takes
    part (every applicant and every respondent, for itself), in any order, and the
    mediator last.

    `version` is the version the signer read: any other (or none) answers 409
    `version_changed` and writes nothing. It is checked first, on the row as it stands
    (so a stale page neither spends a re-authentication try nor is told the password
    was wrong). Then the signer re-authenticates and consents; `public_key` is the key
    they made on their own device for this signature (EC P-256, PEM): without it, 422
    `signer_key_required`. The platform CA certifies it under the signer's real name, and
    the signer's signature is prepared over the stored signing document (their field,
    with the drawn signature as its appearance). Returns the pending signing: its
    `signing_id` and `signed_attrs`, the bytes the signer signs for agreement_sign_complete.
    Nothing counts as signed until then."""
    if selectors.signer_role(agreement, actor) is not None:
        # A fresh read: the caller's copy may be older than the request.
        fresh = Agreement.objects.only("version", "status").get(pk=agreement.pk)
        if version is None:
            raise VersionChanged(read=None, current=fresh.version, state=fresh.status)
        check_version_read(fresh, version)
    MACHINE.check("sign", agreement, actor)
    if not (public_key or "").strip():
        raise DomainError(
            "signer_key_required",
            _(
                "Signing needs a key made on your own device: send your EC P-256 public key "
                "(PEM) as public_key. A current browser makes one for you."
            ),
            status=422,
        )
    from agreements.documents.finalize import (
        prepare_signature,
        signature_field_name,
        signature_reason,
    )
    from agreements.documents.pki import certify_signer_key, load_signer_public_key

    key = load_signer_public_key(public_key)
    reauthenticate(user=actor, password=password, code=code)
    if consent is not True:
        raise Invalid(
            _("Tick the box to confirm that you have read the agreement and sign it freely."),
            code="consent_required",
        )
    image, method = _signature_image(
        actor=actor, signature_png=signature_png, typed_name=typed_name
    )
    name = people.display_name(actor)
    with transaction.atomic():
        locked = MACHINE.lock(agreement)
        # Under the lock: a revision committed since the first check is a changed version.
        check_version_read(locked, version)
        MACHINE.check("sign", locked, actor)
        party = selectors.signer_party(locked, actor)
        role = party.role if party is not None else Role.MEDIATOR
        base = bytes(locked.signing_pdf)
        if not base:
            raise DomainError(
                "signing_document_missing",
                _("This agreement has no document to sign: the mediator must reopen it."),
            )
        reason = signature_reason(
            role=role, version=locked.version, document_sha256=locked.unsigned_pdf_sha256
        )
        cert = certify_signer_key(
            public_key=key,
            user=actor,
            agreement=locked,
            role=role,
            party_id=party.pk if party is not None else None,
            document=reason,
        )
        now = timezone.now()
        index = len(selectors.current_signatures(locked)) + 1
        field = signature_field_name(index, role)
        signer_key = selectors.party_key(party.pk) if party is not None else Role.MEDIATOR
        boxes = locked.signature_boxes or {}
        prepared = prepare_signature(
            base,
            cert=cert,
            field_name=field,
            box=boxes.get(signer_key) or boxes.get(role),
            image_png=image,
            when=timezone.localtime(now),
            reason=reason,
        )
        # One pending signing per signer: starting again replaces the last; those of
        # another version or expired can never complete.
        PendingSigning.objects.filter(agreement=locked, confirmation__isnull=True).filter(
            Q(signer=actor) | ~Q(version=locked.version) | Q(expires_at__lte=now)
        ).delete()
        pending = PendingSigning.objects.create(
            agreement=locked,
            signer=actor,
            role=role,
            party=party,
            signer_name=name[:100],
            version=locked.version,
            document_sha256=locked.unsigned_pdf_sha256,
            base_sha256=hashlib.sha256(base).hexdigest(),
            signature_png=image,
            method=method,
            ip=ip,
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            field_name=field,
            prepared_pdf=prepared.pdf,
            document_digest=prepared.digest,
            reserved_start=prepared.reserved_start,
            reserved_end=prepared.reserved_end,
            signed_attrs=prepared.signed_attrs,
            created_at=now,
            expires_at=now + timedelta(minutes=PENDING_SIGNING_MINUTES),
        )
    return pending


def agreement_sign_complete(
    *, agreement: Agreement, actor: AbstractBaseUser, signing_id: Any, signature: str | bytes
) -> Agreement:
    """The second signing step: `signature` is the signer's ECDSA-SHA256 signature (DER,
    base64 from the API) over the signed attributes of their pending signing. It must
    verify against the key the CA certified in step 1 (422 `signature_invalid` else,
    nothing changes); it is embedded in the stored document as that signer's incremental
    update and the Signature row is written through the machine. When another signer's
    signature went in since step 1, the prepared bytes no longer extend the document: 409
    `signing_restart`, sign again. The mediator's signature, last, seals the PDF and puts
    the agreement in force in the same transaction."""
    signature = pending_signing.decoded_signature(signature)
    extra: dict[str, Any] = {}
    stored_name: str | None = None
    try:
        with transaction.atomic():
            locked = MACHINE.lock(agreement)
            pending = (
                PendingSigning.objects.select_for_update()
                # The agreement's own signings, never a joint application's.
                .filter(
                    signing_id=pending_signing.signing_uuid(signing_id),
                    agreement=locked,
                    confirmation__isnull=True,
                    signer=actor,
                )
                .first()
            )
            if pending is None or pending.expires_at <= timezone.now():
                raise pending_signing.signing_gone()
            # The text was revised since step 1: what this signer read is not open.
            check_version_read(locked, pending.version)
            signed_pdf = pending_signing.embed(
                pending,
                document=bytes(locked.signing_pdf),
                signature=signature,
                restart=_(
                    "Someone else signed while you were signing: nothing was signed. Sign again."
                ),
            )

            def prepare(row: Agreement) -> dict[str, Any]:
                try:
                    with transaction.atomic():
                        created = Signature.objects.create(
                            agreement=row,
                            signer=actor,
                            role=pending.role,
                            party=pending.party,
                            signer_name=pending.signer_name,
                            version=pending.version,
                            signed_at=pending.created_at,
                            signature_png=bytes(pending.signature_png),
                            method=pending.method,
                            ip=pending.ip,
                            document_sha256=pending.document_sha256,
                            certificate_serial=pending.certificate_serial,
                            certificate_pem=pending.certificate_pem,
                        )
                except IntegrityError:
                    raise DomainError(
                        "already_signed",
                        _("You have already signed this version of the agreement."),
                    ) from None
                extra.update(
                    role=pending.role,
                    party=pending.party_id,
                    signature=created.pk,
                    version_read=pending.version,
                    method=pending.method,
                    document_sha256=pending.document_sha256,
                    certificate_serial=created.certificate_serial,
                    signed_pdf_sha256=hashlib.sha256(signed_pdf).hexdigest(),
                )
                return {"signing_pdf": signed_pdf}

            agreement = MACHINE.apply(
                "sign", instance=locked, actor=actor, prepare=prepare, extra=extra
            )
            pending.delete()
            if extra["role"] == Role.MEDIATOR:
                agreement, stored_name = _seal(agreement)
            elif selectors.parties_all_signed(agreement) and agreement.dispute.mediator is not None:
                notify(
                    [agreement.dispute.mediator],
                    "agreement_parties_signed",
                    _context(agreement),
                )
    except BaseException:
        # The sealed file reached storage before the rollback: remove it again.
        if stored_name:
            Agreement._meta.get_field("pdf").storage.delete(stored_name)
        raise
    return agreement


def _seal(agreement: Agreement) -> tuple[Agreement, str]:
    """The last signature is in: seal the PDF, put the agreement in force, settle the
    case, tell everyone. Returns the agreement and the stored file's name."""
    from agreements.documents.finalize import seal_agreement

    pdf_bytes, sha256 = seal_agreement(agreement, bytes(agreement.signing_pdf))
    field = Agreement._meta.get_field("pdf")
    name = field.storage.save(
        field.generate_filename(agreement, f"{agreement.document_id}.pdf"),
        ContentFile(pdf_bytes),
        max_length=field.max_length,
    )
    try:
        return _put_in_force(agreement, pdf_name=name, sha256=sha256), name
    except BaseException:
        field.storage.delete(name)
        raise


def _put_in_force(agreement: Agreement, *, pdf_name: str, sha256: str) -> Agreement:
    now = timezone.now()
    agreement = MACHINE.apply(
        "in_force",
        instance=agreement,
        actor=None,
        changes={
            "pdf": pdf_name,
            "pdf_sha256": sha256,
            "effective_at": now,
            "updated_at": now,
        },
        extra={"pdf_sha256": sha256, "effective_at": now},
    )
    dispute_settle(dispute=agreement.dispute, agreement_id=agreement.pk)
    # Lay out the obligations (due dates, reminders) as soon as the agreement is in
    # force. After commit and robust: the agreement is in force whatever happens there,
    # and the reminders job lays out what is missing (never a page view).
    transaction.on_commit(lambda: _schedule_performance(agreement.pk), robust=True)
    recipients = _party_users(agreement.dispute)
    if agreement.dispute.mediator is not None:
        recipients.append(agreement.dispute.mediator)
    notify(
        recipients,
        "agreement_in_force",
        {
            **_context(agreement),
            "pdf_sha256": sha256,
            "effective_at": timezone.localtime(now).strftime("%Y-%m-%d %H:%M"),
            "confirmation_days": settings.ODR_CONFIRMATION_WINDOW_DAYS,
        },
    )
    return agreement


def _schedule_performance(agreement_id: int) -> None:
    from agreements.court.services import performance_schedule

    performance_schedule(agreement=Agreement.objects.get(pk=agreement_id))
