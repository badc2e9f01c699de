"""Reads of judicial confirmation and performance, already filtered by who is asking.

An object the caller may not see is NotFound, never Forbidden (CONTRACT §3): a court other
than the competent one learns nothing, not even that a request exists."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections, router
from django.db.models import (
    Case,
    CharField,
    F,
    JSONField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import JSONArray
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
from odr.models import Agent, Dispute, Evidence, Membership, Organisation, Party, Region

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
    return _queue_of(_requests().prefetch_related(evidence), user, status, roles).order_by(
        "open_first", "due", "-decided_at", "pk"
    )


def _queue_of(
    qs: QuerySet[ConfirmationRequest],
    user: AbstractBaseUser,
    status: str | None,
    roles: dict[str, set[int]] | None,
) -> QuerySet[ConfirmationRequest]:
    """`qs` narrowed to the caller's courts' queue, with the keys of its order: open
    requests first, the nearest deadline on top; decided ones after, newest first."""
    qs = qs.filter(court_id__in=_court_ids(user, roles), status__in=COURT_STATUSES)
    if status:
        qs = qs.filter(status=status)
    return qs.annotate(
        open_first=Case(When(status__in=OPEN_STATUSES, then=Value(0)), default=Value(1)),
        due=Case(
            When(status=CR.PENDING, then=F("accept_deadline")),
            default=F("rule_deadline"),
        ),
    )


# The queue's order as keys for its pages, the API's and the court page's (odr.pagination):
# open requests first, the nearest deadline on top; decided ones after, newest first.
QUEUE_ORDER = (
    pagination.Key("open_first"),
    pagination.Key("due", kind="datetime", nullable=True),
    pagination.Key("decided_at", descending=True, kind="datetime", nullable=True),
    pagination.Key("pk"),
)


def court_queue_keys(
    user: AbstractBaseUser,
    filters: list_filters.ListFilters,
    *,
    status: str | None = None,
    roles: dict[str, set[int]] | None = None,
) -> QuerySet[ConfirmationRequest]:
    """The court's queue as its pages read it, the API's and the court page's (QUEUE_ORDER's
    keys, then `queue_items_by_ids` or `queue_page_rows_by_ids`): the request table
    alone, narrowed by the list filters (the case's category, region and number or party
    name; the dates are the submission's), with neither a join nor a prefetch for what
    the rows show, nor any column a row shows (issue 14)."""
    return filtered(_queue_of(ConfirmationRequest.objects.all(), user, status, roles), filters)


# What an item of the API's queue shows of its request, its agreement and case, and what
# the actions of its request ask (its extension, its withdrawal), read as plain values with
# the row (issue 14: the model instances of a page and their relations were a third of
# its CPU). Joined: the agreement and its case only. Each join more made PostgreSQL's
# planner search more join orders: with the court, the region and the two users and their
# profiles joined as well, planning the read took 15-20 ms a request, five times its
# execution; those come as scalar subqueries (`queue_item_relations`), each planned alone.
QUEUE_ITEM_COLUMNS = (
    "pk",
    "status",
    "court_id",
    "basis",
    "case_number",
    "agreement_id",
    "agreement__status",
    "agreement__effective_at",
    "agreement__parties",
    "agreement__pdf",
    "agreement__pdf_sha256",
    "agreement__dispute_id",
    "agreement__dispute__case_number",
    "agreement__dispute__title",
    "created_at",
    "submitted_at",
    "accept_deadline",
    "accepted_at",
    "accepted_by_id",
    "rule_deadline",
    "rule_extended_at",
    "extension_reason",
    "extension_requested_at",
    "extension_refused_at",
    "withdrawal_requested_at",
    "decided_at",
    "decided_by_id",
    "reason",
    "application_pdf",
    "application_sha256",
    "ruling_pdf",
    "ruling_sha256",
)
# A user as odr.people.name_from reads them (real name, e-mail, login).
QUEUE_USER = ("profile__real_name", "email", "username")
# The related rows an item shows or its actions ask, each relation as one JSON array of
# these columns read with the row (`queue_item_relations`).
QUEUE_PARTY = ("pk", "role", "position", "name", "accepted", "user_id")
QUEUE_CONSENT = ("party_id", "consented_at")
QUEUE_EVIDENCE = ("pk", "filename", "sha256", "size", "description", "created_at")
QUEUE_SUPPLEMENT = ("pk", "asked_at", "deadline", "answered_at")
QUEUE_INQUIRY = (
    "pk",
    "scheduled_at",
    "closed_at",
    "record",
    "signed",
    "present",
    "judge_id",
    "clerk_id",
)


def _json_rows(model: type, key: str, outer: str, columns: tuple[str, ...]) -> Subquery:
    """The rows of `model` whose `key` is the outer row's `outer`, as one JSON array of
    `columns` arrays (in no particular order: the reader sorts), by a correlated
    subquery: evaluated for the page's rows only."""
    rows = (
        model._default_manager.filter(**{key: OuterRef(outer)})
        .order_by()
        .values(key)
        .annotate(rows=odr_selectors.JSONList(JSONArray(*columns)))
        .values("rows")
    )
    return Subquery(rows, output_field=JSONField())


def _one(model: type, outer: str, value: Any, output_field: Any) -> Subquery:
    """`value` of the row of `model` whose id is the outer row's `outer` (or null)."""
    return Subquery(
        model._default_manager.filter(pk=OuterRef(outer)).order_by().values(v=value)[:1],
        output_field=output_field,
    )


def queue_item_relations() -> dict[str, Subquery]:
    """What an item reads besides its columns, each by a correlated subquery (evaluated
    for the page's rows only): its court's name, its ground's region code, its clerk's
    and judge's names (QUEUE_USER, as JSON arrays), and its related rows."""
    user = get_user_model()
    return {
        "court_name": _one(Organisation, "court_id", F("name"), CharField()),
        "basis_region_code": _one(Region, "basis_region_id", F("code"), CharField()),
        "accepted_by_names": _one(user, "accepted_by_id", JSONArray(*QUEUE_USER), JSONField()),
        "decided_by_names": _one(user, "decided_by_id", JSONArray(*QUEUE_USER), JSONField()),
        "party_rows": _json_rows(Party, "dispute_id", "agreement__dispute_id", QUEUE_PARTY),
        "consent_rows": _json_rows(ConfirmationConsent, "request_id", "pk", QUEUE_CONSENT),
        "evidence_rows": _json_rows(
            Evidence, "dispute_id", "agreement__dispute_id", QUEUE_EVIDENCE
        ),
        "supplement_rows": _json_rows(SupplementRequest, "request_id", "pk", QUEUE_SUPPLEMENT),
        "inquiry_rows": _json_rows(Inquiry, "request_id", "pk", QUEUE_INQUIRY),
    }


class CompiledRead:
    """A `values()` read of `model`'s rows by their ids whose SQL Django builds and
    compiles once per number of ids, database and thread, and then only executes, its
    values converted as Django converts them (issue 14: building and compiling the API
    queue's read of its items, forty columns over six tables and five correlated
    subqueries, cost more CPU than everything else of the page). `read()` is the
    unfiltered `values()` queryset; its only parameters must be the ids (checked: a read
    with others is not kept, and runs as Django runs it). Per thread: a compiler belongs
    to its thread's connection."""

    def __init__(self, model: type, read: Callable[[], QuerySet]) -> None:
        self.model = model
        self.read = read
        self.local = threading.local()

    def _compile(self, db: str, n: int) -> tuple | None:
        # Ids no row has, each once, to find where the ids go among the parameters.
        marks = [-(i + 1) for i in range(n)]
        query = self.read().filter(pk__in=marks).query
        compiler = query.get_compiler(db)
        sql, params = compiler.as_sql()
        params = list(params)
        if sorted(p for p in params if p in marks) != sorted(marks) or len(params) != n:
            return None
        names = (
            list(query.selected)
            if query.selected
            else [
                *query.extra_select,
                *query.values_select,
                *query.annotation_select,
            ]
        )
        return compiler, sql, [params.index(mark) for mark in marks], names

    def __call__(self, ids: list[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        db = router.db_for_read(self.model)
        cache = self.local.__dict__.setdefault("compiled", {})
        key = (db, len(ids))
        if key not in cache:
            cache[key] = self._compile(db, len(ids))
        compiled = cache[key]
        if compiled is None:
            return list(self.read().filter(pk__in=ids))
        compiler, sql, slots, names = compiled
        params: list[Any] = [None] * len(slots)
        for slot, pk in zip(slots, ids, strict=True):
            params[slot] = pk
        with connections[db].cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        return [dict(zip(names, row, strict=True)) for row in compiler.results_iter([fetched])]


_QUEUE_ITEMS = CompiledRead(
    ConfirmationRequest,
    lambda: ConfirmationRequest.objects.order_by().values(
        *QUEUE_ITEM_COLUMNS, **queue_item_relations()
    ),
)


def queue_items_by_ids(ids: list[int]) -> list[dict[str, Any]]:
    """The rows of an API queue page (`ids`, already read through the caller's court's
    queue, in the page's order) as dicts of QUEUE_ITEM_COLUMNS and each relation's JSON
    rows, in one query."""
    rows = {row["pk"]: row for row in _QUEUE_ITEMS(ids)}
    return [rows[pk] for pk in ids if pk in rows]


# What a row of the court's page shows of its request and case, and what the queue's
# rules (current_deadline, overdue_kind) read of it (agreements.court.views.queue_rows).
QUEUE_PAGE_COLUMNS = (
    "id",
    "status",
    "case_number",
    "submitted_at",
    "accept_deadline",
    "rule_deadline",
    "accepted_at",
    "decided_at",
)
_QUEUE_PAGE_ROWS = CompiledRead(
    ConfirmationRequest,
    lambda: ConfirmationRequest.objects.order_by().values(
        *QUEUE_PAGE_COLUMNS, "agreement__dispute__case_number", "agreement__dispute__title"
    ),
)


def queue_page_rows_by_ids(ids: list[int]) -> list[dict[str, Any]]:
    """The rows of a page of the court's page (`ids`, already read through the caller's
    court's queue) as dicts of QUEUE_PAGE_COLUMNS and their case's number and title, in
    one query, in no particular order."""
    return _QUEUE_PAGE_ROWS(ids)


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
    works them out once a row and keeps them as the agreement's `_required_parties`
    (agreements.court.api.queue_items): its actions ask this of every party-only action."""
    remembered = getattr(agreement, "_required_parties", None)
    if remembered is not None:
        return remembered
    return required_among(list(agreement.dispute.parties.all()), agreement.parties)


def required_among(parties: list[Party], identities: list[dict] | None) -> list[Party]:
    """`required_parties` of an agreement whose case has `parties` and whose version
    signed froze `identities` (its `parties`)."""
    named = {d.get("party_id") for d in identities or [] if d.get("party_id")}
    if named:
        chosen = [p for p in parties if p.pk in named]
    else:
        chosen = [p for p in parties if p.accepted is not False]
    return sorted(chosen, key=lambda p: (p.role != Party.Role.APPLICANT, p.position, p.pk))


def parties_acting_for(agreement: Agreement, user: AbstractBaseUser) -> list[Party]:
    """The parties whose application this user makes: their own, and those for whom
    they hold an unrevoked special authorisation (特别授权) as agent with an account."""
    if not user.is_authenticated:
        return []
    uid = user.pk  # the user may be a lazy object
    # A list's row (its required parties remembered) remembers its answer too: its
    # party-only actions ask it two to four times (issue 14).
    remembered = getattr(agreement, "_acting_for", None)
    if remembered is not None and remembered[0] == uid:
        return remembered[1]
    represented = special_agent_for(user)
    found = [p for p in required_parties(agreement) if p.user_id == uid or p.pk in represented]
    if getattr(agreement, "_required_parties", None) is not None:
        agreement._acting_for = (uid, found)
    return found


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
