"""The parties' particulars, their agents (委托代理人) and the respondent's statement (答辩)
(DESIGN.md §3; People's Mediation Law Art. 29; CPL Art. 62).

A party's particulars live on its Party row; `odr.identity` reads them and the agreement
freezes them into the version each party signs. They may change only until the agreement
is opened for signing (`particulars_editable`): a frozen version is never touched. A
party with an account keeps their own particulars in their profile (odr.services.profile
copies them here); the mediator and the organisation's coordinator complete those of a
party with no account yet, and an organisation party's representative, title and credit
code. The ID number never enters the audit trail: only whether one is given."""

from __future__ import annotations

from typing import IO, Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from odr import selectors
from odr.audit import log_action
from odr.errors import DomainError, Forbidden
from odr.evidence import check_upload
from odr.identity import birth_date_from_id, is_valid_credit_code, sex_from_id
from odr.idnumber import is_valid_id_number
from odr.lifecycle import Words, register_events
from odr.models import Agent, Dispute, Membership, Party, Profile, Sex, Statement
from odr.services.common import lock
from odr.text import clean_text

register_events(
    {
        "party.update": Words(
            "补充当事人信息", gettext_noop("%(actor)s completed a party's particulars.")
        ),
        "statement.add": Words(
            "被申请人答辩", gettext_noop("%(actor)s gave a statement in answer to the claim.")
        ),
        "agent.add": Words(
            "委托代理人", gettext_noop("%(actor)s named an agent with a power of attorney.")
        ),
        "agent.revoke": Words("解除委托", gettext_noop("%(actor)s revoked an agent's authority.")),
    }
)

# What a power of attorney may be: a signed paper scanned or photographed.
ATTORNEY_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})
MAX_STATEMENT_CHARS = 20000

# The fields of a party's particulars, by kind, that this module writes.
PERSON_FIELDS = ("name", "phone", "address", "id_number", "sex", "ethnicity", "occupation")
ORGANISATION_FIELDS = (
    "name",
    "phone",
    "address",
    "credit_code",
    "representative",
    "representative_title",
)
PARTY_FIELDS = ("kind", *dict.fromkeys(PERSON_FIELDS + ORGANISATION_FIELDS))
_MAX_LENGTHS = {
    "name": 100,
    "phone": 30,
    "address": 300,
    "ethnicity": 20,
    "occupation": 100,
    "representative": 100,
    "representative_title": 100,
}


def invalid(code: str, message: str) -> DomainError:
    """A refused input: 422 with its code (CONTRACT §3)."""
    return DomainError(code, message, status=422)


# --- checks shared with the profile --------------------------------------------------------


def checked_id_number(value: str) -> str:
    value = clean_text(value).upper()
    if value and not is_valid_id_number(value):
        raise invalid(
            "invalid_id_number",
            _("The resident ID number is not valid: check the 18 characters."),
        )
    return value


def checked_sex(sex: str | None, id_number: str) -> str:
    """The sex to keep: the one the ID number says when none is given; one that the ID
    number contradicts is refused."""
    sex = clean_text(sex or "").upper()
    if sex and sex not in Sex.values:
        raise invalid("invalid_sex", _("Choose male or female."))
    from_id = sex_from_id(id_number) if id_number else ""
    if sex and from_id and sex != from_id:
        raise invalid(
            "sex_contradicts_id",
            _("The sex does not match the resident ID number (its 17th digit)."),
        )
    return sex or from_id


def checked_credit_code(value: str) -> str:
    value = clean_text(value).upper()
    if value and not is_valid_credit_code(value):
        raise invalid(
            "invalid_credit_code",
            _("The unified social credit code is not valid: check the 18 characters."),
        )
    return value


# --- when particulars may change --------------------------------------------------------


def _agreement_of(dispute: Dispute) -> Any:
    try:
        return dispute.agreement
    except ObjectDoesNotExist:
        return None


def particulars_editable(dispute: Dispute) -> bool:
    """Until the agreement is opened for signing: no agreement yet, or a draft whose
    parties are not frozen (Agreement.parties empty); and only while the case is open."""
    if not dispute.is_open:
        return False
    agreement = _agreement_of(dispute)
    return agreement is None or (agreement.status == "draft" and not agreement.parties)


def _frozen() -> DomainError:
    return DomainError(
        "particulars_frozen",
        _(
            "The parties' particulars can no longer change here: the agreement is open for "
            "signing (or the case is closed)."
        ),
        status=409,
    )


def _is_case_staff(dispute: Dispute, user: AbstractBaseUser) -> bool:
    """The case's mediator or its organisation's coordinator, not a party to it (回避)."""
    if selectors.party_of(dispute, user) is not None:
        return False
    if selectors.is_mediator_of(dispute, user):
        return True
    return dispute.organisation_id in selectors.user_org_ids(user, Membership.Role.COORDINATOR)


def may_edit_party(dispute: Dispute, party: Party, user: AbstractBaseUser) -> bool:
    """Who may change these particulars (leaving aside whether they are frozen): the case's
    staff for a party with no account or an organisation party; the party's own account
    for an organisation party (a person keeps theirs in the profile)."""
    if not user.is_authenticated:
        return False
    if party.user_id is not None and party.user_id == user.pk:
        return not party.is_person
    if not _is_case_staff(dispute, user):
        return False
    return party.user_id is None or not party.is_person


def may_manage_agents(dispute: Dispute, party: Party, user: AbstractBaseUser) -> bool:
    """The party itself, or the case's staff for it."""
    if not user.is_authenticated:
        return False
    if party.user_id is not None and party.user_id == user.pk:
        return True
    return _is_case_staff(dispute, user)


# --- particulars ----------------------------------------------------------------------------


def _audited(party: Party) -> dict[str, Any]:
    data = {f: getattr(party, f) for f in PARTY_FIELDS if f != "id_number"}
    data["id_number_set"] = bool(party.id_number)
    return data


def apply_particulars(party: Party, values: dict[str, Any]) -> None:
    """Checks and sets the given particulars on the row (not saved). Keys absent from
    `values` keep what is there; sex and birth date follow the ID number."""
    kind = values.get("kind", party.kind)
    if kind not in Party.Kind.values:
        raise invalid("invalid_kind", _("A party is a natural person or an organisation."))
    party.kind = kind
    for key in ("name", "phone", "address", "ethnicity", "occupation"):
        if key in values and values[key] is not None:
            setattr(party, key, clean_text(values[key])[: _MAX_LENGTHS[key]])
    for key in ("representative", "representative_title"):
        if key in values and values[key] is not None:
            setattr(party, key, clean_text(values[key])[: _MAX_LENGTHS[key]])
    if not party.name:
        raise invalid("name_required", _("Give the party's name."))
    if values.get("id_number") is not None:
        party.id_number = checked_id_number(values["id_number"])
    if values.get("credit_code") is not None:
        party.credit_code = checked_credit_code(values["credit_code"])
    if party.is_person:
        sex = values.get("sex")
        if (
            sex is None
            and party.sex
            and party.id_number
            and sex_from_id(party.id_number) != party.sex
        ):
            sex = ""  # a new ID number that says otherwise: its sex wins
        party.sex = checked_sex(party.sex if sex is None else sex, party.id_number)
        party.birth_date = birth_date_from_id(party.id_number) or party.birth_date


def party_update(
    *, actor: AbstractBaseUser, dispute: Dispute, party: Party, **values: Any
) -> Party:
    """Complete or correct a party's particulars until the agreement is opened for
    signing. Values not given (or None) stay as they are."""
    unknown = set(values) - set(PARTY_FIELDS)
    if unknown:
        raise invalid(
            "unknown_field", _("Unknown field: %(f)s.") % {"f": ", ".join(sorted(unknown))}
        )
    if not may_edit_party(dispute, party, actor):
        raise Forbidden(
            _(
                "Only the mediator or the coordinator completes a party's particulars; a "
                "person with an account keeps theirs in their own profile."
            ),
            code="not_allowed_to_edit_party",
        )
    with transaction.atomic():
        locked = lock(dispute)
        if not particulars_editable(locked):
            raise _frozen()
        row = Party.objects.select_for_update().get(pk=party.pk, dispute=dispute)
        before = _audited(row)
        apply_particulars(row, values)
        row.save()
        log_action(
            action="party.update",
            obj=row,
            actor=actor,
            dispute=dispute,
            before=before,
            after=_audited(row),
        )
    return row


def _sync_one(party: Party, profile: Profile, actor: AbstractBaseUser | None) -> bool:
    """Copies the profile onto one (locked) Party row; audits and returns True when it
    changed anything."""
    before, before_id = _audited(party), party.id_number
    values = {
        "id_number": profile.id_number,
        "sex": profile.sex,
        "ethnicity": profile.ethnicity,
        "occupation": profile.occupation,
        "address": profile.address,
    }
    if profile.real_name:
        values["name"] = profile.real_name
    if profile.phone:
        values["phone"] = profile.phone
    apply_particulars(party, values)
    after = _audited(party)
    if after == before and party.id_number == before_id:
        return False
    party.save()
    log_action(
        action="party.update",
        obj=party,
        actor=actor,
        dispute=party.dispute,
        before=before,
        after={**after, "from_profile": True},
    )
    return True


def parties_sync_from_profile(
    *, profile: Profile, actor: AbstractBaseUser | None, dispute: Dispute | None = None
) -> list[Party]:
    """Copies a person's profile into their Party rows (as a natural person) on every open
    case (or only `dispute`) whose agreement is not yet opened for signing; a frozen
    version is never touched. Each changed row is audited (without the ID number)."""
    changed: list[Party] = []
    with transaction.atomic():
        rows = Party.objects.select_for_update().filter(user=profile.user, kind=Party.Kind.PERSON)
        if dispute is not None:
            rows = rows.filter(dispute=dispute)
        for party in rows.select_related("dispute"):
            if particulars_editable(party.dispute) and _sync_one(party, profile, actor):
                changed.append(party)
    return changed


# --- the respondent's statement -----------------------------------------------------------


def statement_add(*, actor: AbstractBaseUser, dispute: Dispute, text: str) -> Statement:
    """A respondent's own account (答辩), shown beside the claim and put in the court
    packet. Each respondent may add to it while the case is open."""
    party = selectors.party_of(dispute, actor)
    if party is None or party.role != Party.Role.RESPONDENT:
        raise Forbidden(
            _("Only a respondent gives a statement in answer to the claim."),
            code="not_a_respondent",
        )
    text = clean_text(text, multiline=True)
    if not text:
        raise invalid("statement_required", _("Write your statement first."))
    if len(text) > MAX_STATEMENT_CHARS:
        raise invalid(
            "statement_too_long", _("The statement is too long (20,000 characters at most).")
        )
    with transaction.atomic():
        if not lock(dispute).is_open:
            raise DomainError(
                "case_closed", _("The case is closed: a statement can no longer be added.")
            )
        statement = Statement.objects.create(dispute=dispute, party=party, author=actor, text=text)
        log_action(
            action="statement.add",
            obj=statement,
            actor=actor,
            dispute=dispute,
            after={"party": party.pk, "length": len(text)},
        )
    return statement


# --- agents -------------------------------------------------------------------------------


def _audited_agent(agent: Agent) -> dict[str, Any]:
    return {
        "party": agent.party_id,
        "name": agent.name,
        "relation": agent.relation,
        "scope": agent.scope,
        "id_number_set": bool(agent.id_number),
        "filename": agent.filename,
        "sha256": agent.sha256,
    }


def agent_add(
    *,
    actor: AbstractBaseUser,
    dispute: Dispute,
    party: Party,
    name: str,
    scope: str,
    upload: IO[bytes],
    filename: str,
    size: int | None,
    relation: str = "",
    id_number: str = "",
    phone: str = "",
    powers: str = "",
) -> Agent:
    """The party (or the case's staff for it) names an agent with the signed power of
    attorney (授权委托书), checked by its content: PDF, JPEG or PNG. A special
    authorisation (特别授权) lists the powers it grants (CPL Art. 62)."""
    if not may_manage_agents(dispute, party, actor):
        raise Forbidden(
            _("Only the party, its mediator or the coordinator names the party's agent."),
            code="not_allowed_to_name_agent",
        )
    name = clean_text(name)[:100]
    if not name:
        raise invalid("agent_name_required", _("Give the agent's name."))
    if scope not in Agent.Scope.values:
        raise invalid("invalid_scope", _("Choose general or special authorisation."))
    powers = clean_text(powers, multiline=True)[:5000]
    if scope == Agent.Scope.SPECIAL and not powers:
        raise invalid(
            "powers_required",
            _(
                "A special authorisation names the powers it grants (e.g. to admit, waive "
                "or change claims, to settle)."
            ),
        )
    id_number = checked_id_number(id_number)
    try:
        info = check_upload(upload, name=filename, size=size)
    except DomainError as exc:
        raise invalid(exc.code, exc.message) from exc
    if info.content_type not in ATTORNEY_TYPES:
        raise invalid(
            "file_type_not_allowed",
            _("Upload the signed power of attorney as a PDF or a photo (JPEG or PNG)."),
        )
    with transaction.atomic():
        if not particulars_editable(lock(dispute)):
            raise _frozen()
        agent = Agent(
            party=party,
            name=name,
            id_number=id_number,
            phone=clean_text(phone)[:30],
            relation=clean_text(relation)[:200],
            scope=scope,
            powers=powers,
            filename=info.filename,
            extension=info.extension,
            content_type=info.content_type,
            sha256=info.sha256,
            added_by=actor,
        )
        agent.power_of_attorney.save(info.filename, File(upload), save=False)
        try:
            agent.save()
            log_action(
                action="agent.add",
                obj=agent,
                actor=actor,
                dispute=dispute,
                after=_audited_agent(agent),
            )
        except BaseException:
            agent.power_of_attorney.storage.delete(agent.power_of_attorney.name)
            raise
    return agent


def agent_revoke(*, actor: AbstractBaseUser, dispute: Dispute, agent: Agent) -> Agent:
    """The party (or the case's staff for it) ends the agent's authority. The row and its
    file stay, for the record."""
    if not may_manage_agents(dispute, agent.party, actor):
        raise Forbidden(
            _("Only the party, its mediator or the coordinator revokes the party's agent."),
            code="not_allowed_to_name_agent",
        )
    with transaction.atomic():
        if not particulars_editable(lock(dispute)):
            raise _frozen()
        row = Agent.objects.select_for_update().get(pk=agent.pk)
        if row.revoked_at is not None:
            raise DomainError("agent_revoked", _("This agent's authority is already revoked."))
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
        log_action(
            action="agent.revoke",
            obj=row,
            actor=actor,
            dispute=dispute,
            after=_audited_agent(row),
        )
    return row
