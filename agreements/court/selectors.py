"""Reads of judicial confirmation and performance, already filtered by who is asking.

An object the caller may not see is NotFound, never Forbidden (CONTRACT §3): a court other
than the competent one learns nothing, not even that a request exists."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Case, F, Prefetch, QuerySet, Value, When
from django.utils import timezone

from agreements.court import deadlines
from agreements.models import (
    Agreement,
    ConfirmationConsent,
    ConfirmationRequest,
    Inquiry,
    Performance,
    SupplementRequest,
)
from odr import filters as list_filters
from odr import pagination
from odr import selectors as odr_selectors
from odr.errors import NotFound
from odr.models import Agent, Dispute, Evidence, Membership, Organisation, Party

CR = ConfirmationRequest.Status
# What a court sees: from the moment both parties have asked (CONTRACT §3).
COURT_STATUSES = (
    CR.PENDING,
    CR.ACCEPTED,
    CR.CONFIRMED,
    CR.REJECTED,
    CR.NOT_ACCEPTED,
    CR.WITHDRAWN,
)
# Still before the court: docketing or a ruling is due.
OPEN_STATUSES = (CR.PENDING, CR.ACCEPTED)
# A court's people (DESIGN.md §3): the clerk dockets, the judge rules, the president
# approves extensions; they see the requests sent to their court.
COURT_ROLES = (Membership.Role.CLERK, Membership.Role.JUDGE, Membership.Role.PRESIDENT)


def court_roles_of(user: AbstractBaseUser) -> dict[str, set[int]]:
    """The courts the user works for, by court role (clerk, judge), in one query."""
    roles = odr_selectors.user_org_ids_by_role(user)
    return {role: roles[role] for role in COURT_ROLES if role in roles}


def court_ids_of(user: AbstractBaseUser) -> set[int]:
    return odr_selectors.user_org_ids(user, *COURT_ROLES)


def court_ids_in(roles: dict[str, set[int]]) -> set[int]:
    """The courts among a user's organisations read by role (court_roles_of, or
    odr.selectors.user_org_ids_by_role when the caller reads every role for its menu)."""
    return set().union(*(roles.get(role, set()) for role in COURT_ROLES))


def _court_ids(user: AbstractBaseUser, roles: dict[str, set[int]] | None) -> set[int]:
    return court_ids_of(user) if roles is None else court_ids_in(roles)


def is_court_staff(user: AbstractBaseUser) -> bool:
    return bool(court_ids_of(user))


def is_staff_of_court(request: ConfirmationRequest, user: AbstractBaseUser) -> bool:
    return request.court_id in court_ids_of(user)


def _requests() -> QuerySet[ConfirmationRequest]:
    return (
        ConfirmationRequest.objects.select_related(
            "court",
            "agreement",
            "agreement__dispute",
            "agreement__dispute__organisation",
            "accepted_by__profile",
            "decided_by__profile",
            "basis_region",
        )
        .prefetch_related("agreement__dispute__parties", "consents", "supplements", "inquiries")
        .defer(
            # The application as it is being signed (a PDF) is read only by what serves or
            # signs it: never with a list.
            "signing_pdf"
        )
    )


def court_requests_for(
    user: AbstractBaseUser, *, status: str | None = None, roles: dict[str, set[int]] | None = None
) -> QuerySet[ConfirmationRequest]:
    """The court's queue: only the requests sent to the caller's own court (its clerks
    and its judges), oldest deadline first. Everyone else gets an empty list. `roles`:
    the user's courts by role (court_roles_of), when the caller read them already."""
    # Each request's evidence comes in one query for the whole queue (the API lists it).
    evidence = Prefetch(
        "agreement__dispute__evidence", queryset=evidence_of_disputes(), to_attr="evidence_listed"
    )
    qs = (
        _requests()
        .prefetch_related(evidence)
        .filter(court_id__in=_court_ids(user, roles), status__in=COURT_STATUSES)
    )
    if status:
        qs = qs.filter(status=status)
    # Open requests first, the nearest deadline on top; decided ones after, newest first.
    return qs.annotate(
        open_first=Case(When(status__in=OPEN_STATUSES, then=Value(0)), default=Value(1)),
        due=Case(
            When(status=CR.PENDING, then=F("accept_deadline")),
            default=F("rule_deadline"),
        ),
    ).order_by("open_first", "due", "-decided_at", "pk")


# The queue's order as keys for its pages, the API's and the court page's (odr.pagination):
# open requests first, the nearest deadline on top; decided ones after, newest first.
QUEUE_ORDER = (
    pagination.Key("open_first"),
    pagination.Key("due", kind="datetime", nullable=True),
    pagination.Key("decided_at", descending=True, kind="datetime", nullable=True),
    pagination.Key("pk"),
)


# What no row of the court's queue shows, and a list must not read: each agreement's
# document as its signers signed it (a PDF of some hundred kilobytes a row, issue 14).
LIST_DEFERRED = (
    "agreement__signing_pdf",
    # Nor what only the agreement's own page, its documents and a party's application
    # read (its text, its terms, the identities, where each signature sits): the row
    # shows the case's number and title, the agreement's id, state and PDF, and its
    # actions ask its parties and its time limit (issue 14: a third of the page's CPU
    # went on decoding and building these).
    "agreement__template",
    "agreement__facts",
    "agreement__disputed_matters",
    "agreement__terms",
    "agreement__performance_method",
    "agreement__performance_place",
    "agreement__party_details",
    "agreement__signature_boxes",
    "agreement__dispute__description",
    "agreement__dispute__request",
    "agreement__dispute__closing_reason",
    # And the instants no row shows nor any of its actions asks: Django reads each
    # timestamp through psycopg's Python parser (a regular expression a value), which
    # was a third of the page's CPU again. The agreement's `effective_at` (the window to
    # apply) and the request's own instants stay.
    "agreement__created_at",
    "agreement__updated_at",
    "agreement__opened_at",
    "agreement__window_reminded_at",
    "agreement__dispute__created_at",
    "agreement__dispute__intake_at",
    "agreement__dispute__accepted_at",
    "agreement__dispute__mediation_deadline",
    "agreement__dispute__closed_at",
    "agreement__dispute__deadline_reminded_at",
    "accepted_by__last_login",
    "accepted_by__date_joined",
    "decided_by__last_login",
    "decided_by__date_joined",
)


def queue_rows_by_ids(ids: list[int]) -> QuerySet[ConfirmationRequest]:
    """The API queue page's requests (already known to be the caller's court's), with
    what a row reads of its relations (`_requests`' joins), but neither the queue's
    order nor its computed keys: the page's order is the keys' read (odr.pagination),
    and compiling the order's expressions again cost a fifth of the page (issue 14)."""
    return (
        _requests()
        .prefetch_related(None)
        # Not the case's organisation: no row shows it, no action of a request asks it.
        .select_related(None)
        .select_related(
            "court",
            "agreement__dispute",
            "accepted_by__profile",
            "decided_by__profile",
            "basis_region",
        )
        .defer("signing_pdf", *LIST_DEFERRED)
        .filter(pk__in=ids)
        .order_by()
    )


def court_queue_page_rows(
    user: AbstractBaseUser,
    filters: list_filters.ListFilters,
    *,
    roles: dict[str, set[int]] | None = None,
) -> QuerySet[ConfirmationRequest]:
    """The court's queue as its page lists it (issue 14): in the queue's order, narrowed
    by the list filters (the case's category, region and number or party name; the dates
    are the submission's), reading only what a row shows: the region table is joined once
    at most (by the region filter), and nothing is prefetched. `roles`: as
    `court_requests_for`'s."""
    return filtered(
        court_requests_for(user, status=filters.status or None, roles=roles)
        .select_related(None)
        .select_related("agreement__dispute")
        .prefetch_related(None)
        .defer(*LIST_DEFERRED),
        filters,
    )


def _read_by(queryset: QuerySet, key: str, ids: Iterable[int]) -> dict[int, list]:
    grouped: dict[int, list] = {}
    for row in queryset.filter(**{f"{key}__in": list(ids)}):
        grouped.setdefault(getattr(row, key), []).append(row)
    return grouped


def _as_prefetched(instance: Any, name: str, model: type, rows: list) -> None:
    """`instance.<name>.all()` answers `rows` as a prefetch would have left them."""
    cached = QuerySet(model=model)
    cached._result_cache, cached._prefetch_done = rows, True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[name] = cached


_PARTICULARS = (
    "phone",
    "phone_key",
    "address",
    "id_number",
    "sex",
    "birth_date",
    "ethnicity",
    "occupation",
    "credit_code",
    "representative",
    "representative_title",
    "agent_name",
    "consented_online_at",
    "decline_reason",
)


def prefetch_queue_rows(requests: list[ConfirmationRequest]) -> None:
    """What the queue's rows read of their relations, as `court_requests_for` prefetches
    it (each case's parties and evidence, each request's consents, supplements and
    inquiries; the same five queries, each row's in the model's order), without Django's
    prefetching making a queryset per row and relation: a third of a page's ORM time
    (issue 14). Each related row knows its own case or request, as a prefetch's does."""
    if not requests:
        return
    disputes = {r.agreement.dispute_id: r.agreement.dispute for r in requests}
    # Not the parties' particulars nor who uploaded each file: no row shows them and no
    # action asks them (issue 14).
    parties = _read_by(
        Party._default_manager.defer(*_PARTICULARS).order_by("role", "position", "pk"),
        "dispute_id",
        disputes,
    )
    evidence = _read_by(
        evidence_of_disputes().select_related(None).defer("uploaded_by"), "dispute_id", disputes
    )
    for pk, dispute in disputes.items():
        for party in parties.get(pk, ()):
            Party.dispute.field.set_cached_value(party, dispute)
        _as_prefetched(dispute, "parties", Party, parties.get(pk, []))
        dispute.evidence_listed = evidence.get(pk, [])
    by_pk = {r.pk: r for r in requests}
    for model, name in (
        (ConfirmationConsent, "consents"),
        (SupplementRequest, "supplements"),
        (Inquiry, "inquiries"),
    ):
        rows = _read_by(model._default_manager.all(), "request_id", by_pk)
        for pk, request in by_pk.items():
            for row in rows.get(pk, ()):
                model.request.field.set_cached_value(row, request)
            _as_prefetched(request, name, model, rows.get(pk, []))


def filtered(
    qs: QuerySet[ConfirmationRequest], filters: list_filters.ListFilters
) -> QuerySet[ConfirmationRequest]:
    """The court queue narrowed by the list filters, for the page and the API alike: the
    case's category, region and number or party name; the dates are the submission's."""
    qs = list_filters.filter_disputes(qs, filters, prefix="agreement__dispute__")
    return list_filters.filter_dates(qs, filters, "submitted_at")


def court_request_get_for(*, user: AbstractBaseUser, request_id: int) -> ConfirmationRequest:
    request = court_requests_for(user).filter(pk=request_id).first()
    if request is None:
        raise NotFound()
    return request


def agreement_get_for(*, user: AbstractBaseUser, agreement_id: int) -> Agreement:
    """The agreement if the caller may see its dispute (a party, its mediator, its
    organisation's staff, the court it was sent to)."""
    visible = odr_selectors.disputes_visible_to(user).values("pk")
    agreement = (
        Agreement.objects.select_related("dispute", "dispute__organisation")
        .prefetch_related("dispute__parties", "dispute__parties__user")
        .filter(pk=agreement_id, dispute__in=visible)
        .first()
    )
    if agreement is None:
        raise NotFound()
    return agreement


def confirmation_of(agreement: Agreement) -> ConfirmationRequest | None:
    return _requests().filter(agreement=agreement).first()


def party_of(agreement: Agreement, user: AbstractBaseUser) -> Party | None:
    return odr_selectors.party_of(agreement.dispute, user)


# --- who applies ---------------------------------------------------------------------------


def required_parties(agreement: Agreement) -> list[Party]:
    """Every party who must apply: those the agreement names (the identities frozen into
    the version they signed), else — an agreement from before identities were frozen —
    every party of the dispute who did not decline to mediate. In document order. A list
    works them out once a row (`remember_required_parties`): its actions ask this of
    every party-only action."""
    remembered = getattr(agreement, "_required_parties", None)
    if remembered is not None:
        return remembered
    parties = list(agreement.dispute.parties.all())
    named = {d.get("party_id") for d in agreement.parties or [] if d.get("party_id")}
    if named:
        chosen = [p for p in parties if p.pk in named]
    else:
        chosen = [p for p in parties if p.accepted is not False]
    return sorted(chosen, key=lambda p: (p.role != Party.Role.APPLICANT, p.position, p.pk))


def remember_required_parties(agreements: Iterable[Agreement]) -> None:
    """Works out each agreement's required parties once, for a page that only reads them
    (the court's queue): `required_parties` then answers from the agreement itself."""
    for agreement in agreements:
        agreement._required_parties = required_parties(agreement)


def parties_acting_for(agreement: Agreement, user: AbstractBaseUser) -> list[Party]:
    """The parties whose application this user makes: their own, and those for whom
    they hold an unrevoked special authorisation (特别授权) as agent with an account."""
    if not user.is_authenticated:
        return []
    represented, uid = special_agent_for(user), user.pk  # the user may be a lazy object
    return [p for p in required_parties(agreement) if p.user_id == uid or p.pk in represented]


def reads_application_being_signed(agreement: Agreement, user: AbstractBaseUser) -> bool:
    """Who reads the joint application while the parties sign it: the parties (and their
    agents with special authorisation), and the mediator who drew up the agreement. The
    court reads it once it is before it, sealed, in its portal."""
    if parties_acting_for(agreement, user) or party_of(agreement, user) is not None:
        return True
    return user.is_authenticated and agreement.dispute.mediator_id == user.pk


def special_agent_for(user: AbstractBaseUser) -> frozenset[int]:
    """The parties for whom the user is agent with unrevoked special authorisation; read
    once per user object (a queue asks it of every request)."""
    cached = getattr(user, "_special_agent_for", None)
    if cached is None:
        cached = frozenset(
            Agent.objects.filter(
                user=user, scope=Agent.Scope.SPECIAL, revoked_at__isnull=True
            ).values_list("party_id", flat=True)
        )
        user._special_agent_for = cached
    return cached


def consents_of(request: ConfirmationRequest) -> dict[int, ConfirmationConsent]:
    """Each party's application, by party id."""
    return {c.party_id: c for c in ConfirmationConsent.objects.filter(request=request)}


def missing_parties(request: ConfirmationRequest) -> list[Party]:
    """The parties who have not applied yet."""
    done = consents_of(request)
    return [p for p in required_parties(request.agreement) if p.pk not in done]


def request_for_ruling(*, user: AbstractBaseUser, request_id: int) -> ConfirmationRequest:
    """The court that ruled and the parties may fetch the ruling (CONTRACT §3)."""
    request = _requests().filter(pk=request_id).first()
    if request is None:
        raise NotFound()
    if is_staff_of_court(request, user) and request.status in COURT_STATUSES:
        return request
    if party_of(request.agreement, user) is not None:
        return request
    raise NotFound()


def request_for_documents(*, user: AbstractBaseUser, request_id: int) -> ConfirmationRequest:
    """The application and its packet: the court (once it is before it), the parties who
    applied, and the mediator who drew up the agreement."""
    request = _requests().filter(pk=request_id).first()
    if request is None:
        raise NotFound()
    if is_staff_of_court(request, user) and request.status in COURT_STATUSES:
        return request
    dispute = request.agreement.dispute
    if party_of(request.agreement, user) is not None or dispute.mediator_id == user.pk:
        return request
    raise NotFound()


def request_for_party(*, user: AbstractBaseUser, request_id: int) -> ConfirmationRequest:
    """A request before the court as one of its parties sees it: to answer the court's
    request for materials, to ask to withdraw, to sign the record of an inquiry."""
    request = _requests().filter(pk=request_id, status__in=COURT_STATUSES).first()
    if request is None or party_of(request.agreement, user) is None:
        raise NotFound()
    return request


def request_for_acts(*, user: AbstractBaseUser, request_id: int) -> ConfirmationRequest:
    """A request as the court's staff or its parties see it (the court's acts' pages and
    documents)."""
    request = _requests().filter(pk=request_id, status__in=COURT_STATUSES).first()
    if request is None:
        raise NotFound()
    if is_staff_of_court(request, user) or party_of(request.agreement, user) is not None:
        return request
    raise NotFound()


def may_download_package(agreement: Agreement, user: AbstractBaseUser) -> bool:
    """The evidence package is for the court: the staff of the competent court once the
    request is before it, and the dispute's mediator who prepares it."""
    if not user.is_authenticated:
        return False
    if agreement.dispute.mediator_id == user.pk:
        return True
    request = ConfirmationRequest.objects.filter(agreement=agreement).first()
    return (
        request is not None
        and request.status in COURT_STATUSES
        and is_staff_of_court(request, user)
    )


def package_agreement_for(*, user: AbstractBaseUser, agreement_id: int) -> Agreement:
    agreement = agreement_get_for(user=user, agreement_id=agreement_id)
    if not may_download_package(agreement, user):
        raise NotFound()
    return agreement


def evidence_of_disputes() -> QuerySet[Evidence]:
    return Evidence.objects.select_related("uploaded_by").order_by("created_at", "pk")


def evidence_of(dispute: Dispute) -> QuerySet[Evidence]:
    return evidence_of_disputes().filter(dispute=dispute)


def evidence_list_of(dispute: Dispute) -> list[Evidence]:
    """`evidence_of` as a list, from the rows `court_requests_for` fetched with the queue
    when there are any (no query per request)."""
    prefetched = getattr(dispute, "evidence_listed", None)
    return prefetched if prefetched is not None else list(evidence_of(dispute))


def court_evidence_get(*, request: ConfirmationRequest, evidence_id: int) -> Evidence:
    evidence = evidence_of(request.agreement.dispute).filter(pk=evidence_id).first()
    if evidence is None:
        raise NotFound()
    return evidence


# --- deadlines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The 30-day window to apply for judicial confirmation (People's Mediation Law
    Art. 33)."""

    effective_at: datetime
    closes_at: datetime
    days_left: int
    is_open: bool


def confirmation_window(agreement: Agreement, now: datetime | None = None) -> Window | None:
    if agreement.status != Agreement.Status.SIGNED or agreement.effective_at is None:
        return None
    now = now or timezone.now()
    closes = deadlines.confirmation_window_closes(agreement.effective_at)
    return Window(
        effective_at=agreement.effective_at,
        closes_at=closes,
        days_left=deadlines.days_left(closes, now) or 0,
        is_open=now <= closes,
    )


def overdue_kind(request: ConfirmationRequest, now: datetime | None = None) -> str:
    """ "accept" or "rule" when the court has let that deadline pass, else ""."""
    now = now or timezone.now()
    if request.status == CR.PENDING:
        return "accept" if request.accept_deadline and now > request.accept_deadline else ""
    if request.status == CR.ACCEPTED:
        return "rule" if request.rule_deadline and now > request.rule_deadline else ""
    return ""


def current_deadline(request: ConfirmationRequest) -> datetime | None:
    if request.status == CR.PENDING:
        return request.accept_deadline
    if request.status == CR.ACCEPTED:
        return request.rule_deadline
    return None


# --- performance -------------------------------------------------------------------------


def obligations_of(agreement: Agreement) -> QuerySet[Performance]:
    return (
        Performance.objects.filter(agreement=agreement)
        .select_related("done_by")
        .order_by(F("due_date").asc(nulls_last=True), "term_index", "instalment_index")
    )


def obligation_get_for(*, user: AbstractBaseUser, obligation_id: int) -> Performance:
    obligation = Performance.objects.select_related("agreement").filter(pk=obligation_id).first()
    if obligation is None:
        raise NotFound()
    agreement_get_for(user=user, agreement_id=obligation.agreement_id)
    return obligation


def obligation_proof_for(*, user: AbstractBaseUser, obligation_id: int) -> Performance:
    obligation = obligation_get_for(user=user, obligation_id=obligation_id)
    if not obligation.proof:
        raise NotFound()
    return obligation


# The two ways to a remedy when an obligation is not performed.
ENFORCEMENT, LAWSUIT = "enforcement", "lawsuit"


@dataclass(frozen=True)
class DefaultGuidance:
    """What a party can do when an obligation is not performed: apply for enforcement of
    a confirmed agreement to the court that confirmed it (Civil Procedure Law Art. 206),
    or otherwise sue on the agreement (People's Mediation Law Art. 32)."""

    route: str  # "enforcement" | "lawsuit"
    court: Organisation | None
    court_case_number: str
    overdue: list[Performance]
    enforcement_deadline: date | None


def default_guidance(agreement: Agreement, today: date | None = None) -> DefaultGuidance | None:
    today = today or timezone.localdate()
    overdue = [o for o in obligations_of(agreement) if o.is_overdue(today)]
    if not overdue:
        return None
    request = ConfirmationRequest.objects.select_related("court").filter(agreement=agreement)
    request = request.first()
    if request is not None and request.status == CR.CONFIRMED:
        # Two years from the last day of the period of performance (Art. 250).
        last_due = max(o.due_date for o in overdue if o.due_date is not None)
        try:
            until = last_due.replace(year=last_due.year + deadlines.ENFORCEMENT_YEARS)
        except ValueError:  # 29 February
            until = last_due.replace(year=last_due.year + deadlines.ENFORCEMENT_YEARS, day=28)
        return DefaultGuidance(
            route=ENFORCEMENT,
            court=request.court,
            court_case_number=request.case_number,
            overdue=overdue,
            enforcement_deadline=until,
        )
    organisation = agreement.dispute.organisation
    court = odr_selectors.court_for_organisation(organisation) if organisation else None
    return DefaultGuidance(
        route=LAWSUIT,
        court=court,
        court_case_number="",
        overdue=overdue,
        enforcement_deadline=None,
    )
