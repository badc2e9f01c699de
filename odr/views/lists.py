"""Lists: the cases a person may see, and the coordinator's intake queue. Each is read a
page at a time (DESIGN.md §4.9, issue 14) and narrowed by the filters of odr.filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import ngettext

from odr import filters as list_filters
from odr import people, selectors
from odr.categories import Category
from odr.models import Dispute, Membership, Organisation, Party
from odr.pagination import (
    NEWEST_FIRST,
    Key,
    Page,
    Section,
    page_from_query,
    paginate_sections,
)
from odr.templatetags.odr_tags import days_left
from odr.transitions import MACHINE, Viewer
from odr.views import list_html

# Rows per page of a list (20–50 on a phone).
PAGE_SIZE = 20
INTAKE_STATUSES = [
    Dispute.Status.AWAITING_INTAKE,
    Dispute.Status.IN_MEDIATION,
    Dispute.Status.FILED,
]


# The intake queue's order: the longest waiting first; the id breaks ties.
OLDEST_FIRST = (Key("created_at", kind="datetime"), Key("pk"))


def _narrowed(qs: QuerySet[Dispute], filters: list_filters.ListFilters) -> QuerySet[Dispute]:
    qs = list_filters.filter_disputes(qs, filters)
    return list_filters.filter_dates(qs, filters, "created_at")


@dataclass(frozen=True, slots=True)
class CaseRow:
    """A case as a row of my cases shows it, its words in the reader's language."""

    pk: int
    created_at: datetime
    url: str
    title: str
    case_number: str
    status: str
    status_label: str
    category_label: str
    organisation: str
    region: str
    filed_on: str


def case_rows(ids: list[int]) -> list[CaseRow]:
    """The rows of a page of my cases (`ids`, already read through the viewer's
    visibility): what each row shows, in one query of plain values; the labels, the link
    and the dates worked out for the page rather than per row and field (issue 14)."""
    statuses = list_html.labels(Dispute.Status.choices)
    categories = list_html.labels(Category.choices)
    link = list_html.links("odr:dispute_detail")
    read = Dispute.objects.filter(pk__in=ids).values_list(
        "pk",
        "created_at",
        "title",
        "case_number",
        "status",
        "category",
        "organisation__name",
        "region__full_name",
    )
    return [
        CaseRow(
            pk=pk,
            created_at=created_at,
            url=link(pk),
            title=title,
            case_number=case_number,
            status=status,
            status_label=statuses.get(status, status),
            category_label=categories.get(category, category),
            organisation=organisation or "",
            region=region or "",
            filed_on=list_html.local_day(created_at),
        )
        for pk, created_at, title, case_number, status, category, organisation, region in read
    ]


@login_required
def dispute_list(request: HttpRequest) -> HttpResponse:
    form = list_filters.ListFilterForm(request.GET)
    filters = form.filters()
    by_role = selectors.user_org_ids_by_role(request.user)
    qs = _narrowed(selectors.disputes_visible_to(request.user, by_role=by_role), filters)
    if filters.status:
        qs = qs.filter(status=filters.status)
    page = page_from_query(qs, request.GET, keys=NEWEST_FIRST, limit=PAGE_SIZE, load=case_rows)
    return render(
        request,
        "odr/dispute_list.html",
        {
            "page": page,
            "form": form,
            "filters": filters,
            "status": filters.status,
            "statuses": Dispute.Status.choices,
            "query": form.query_string(),
            "viewer_org_roles": by_role,
        },
    )


def mediator_option(name: str, load: int) -> str:
    """A mediator as the intake queue offers them: their name and open cases."""
    cases = ngettext("%(n)s open case", "%(n)s open cases", load) % {"n": load}
    return f"{name} · {cases}"


@dataclass(frozen=True, slots=True)
class IntakeRow:
    """A case as a row of the intake queue shows it, its words in the reader's language.
    `case`: for a case waiting for intake, the case as the intake rules read it (its
    status, organisation and parties), to ask whether the reader may take it in."""

    pk: int
    created_at: datetime
    url: str
    title: str
    case_number: str
    category_label: str
    region: str
    intake_at: datetime | None
    mediation_deadline: datetime | None
    mediator: str
    case: Dispute | None

    # Each section shows one of these: worked out only for the rows that show it.
    @property
    def intake_on(self) -> str:
        return list_html.local_day(self.intake_at)

    @property
    def filed_on(self) -> str:
        return list_html.local_day(self.created_at)

    @property
    def days_left(self) -> int | None:
        return days_left(self.mediation_deadline)


# What the intake rules read of a case waiting for intake, and of its parties.
CASE_FIELDS = ("id", "status", "organisation_id", "filed_by_id")
PARTY_FIELDS = ("id", "dispute_id", "user_id", "role", "position")


def intake_rows(ids: list[int]) -> list[IntakeRow]:
    """The rows of the intake queue's pages, all sections at once (odr.pagination.
    paginate_sections; `ids` already read through the coordinator's queue): what each
    row shows, in one query of plain values, its words, link and dates worked out for
    the page (issue 14). The cases waiting for intake are also read as the intake rules
    read them, with their parties (whether the reader is one; whom the case may not be
    given to) in one more query."""
    categories = list_html.labels(Category.choices)
    link = list_html.links("odr:dispute_detail")
    username = f"mediator__{get_user_model().USERNAME_FIELD}"
    read = Dispute.objects.filter(pk__in=ids).values_list(
        *CASE_FIELDS,
        "created_at",
        "title",
        "case_number",
        "category",
        "region__name",
        "intake_at",
        "mediation_deadline",
        "mediator__profile__real_name",
        "mediator__email",
        username,
    )
    db = Dispute.objects.db
    rows, cases = [], {}
    for pk, status, org_id, filed_by_id, created_at, *shown in read:
        title, number, category, region, intake_at, deadline, *mediator = shown
        case = None
        if status == Dispute.Status.AWAITING_INTAKE:
            case = list_html.from_values(
                Dispute, db, CASE_FIELDS, (pk, status, org_id, filed_by_id)
            )
            cases[pk] = case
        rows.append(
            IntakeRow(
                pk=pk,
                created_at=created_at,
                url=link(pk),
                title=title,
                case_number=number,
                category_label=categories.get(category, category),
                region=region,
                intake_at=intake_at,
                mediation_deadline=deadline,
                mediator=people.name_from(*mediator),
                case=case,
            )
        )
    if cases:
        _with_parties(cases)
    return rows


def _with_parties(cases: dict[int, Dispute]) -> None:
    """Each case's parties (their PARTY_FIELDS, in the model's order) in one query, left
    where `case.parties.all()` finds them, as a prefetch leaves them, without Django's
    prefetching making a queryset for each case (issue 14)."""
    read = (
        Party.objects.filter(dispute_id__in=list(cases))
        .order_by("role", "position", "pk")
        .values_list(*PARTY_FIELDS)
    )
    db = Party.objects.db
    parties: dict[int, list[Party]] = {pk: [] for pk in cases}
    for values in read:
        party = list_html.from_values(Party, db, PARTY_FIELDS, values)
        Party.dispute.field.set_cached_value(party, cases[party.dispute_id])
        parties[party.dispute_id].append(party)
    for pk, case in cases.items():
        found = QuerySet(model=Party, using=db)
        found._result_cache, found._prefetch_done = parties[pk], True
        case._prefetched_objects_cache = {"parties": found}


# The intake queue's sections, in the page's order, with the prefix of their cursors.
INTAKE_SECTIONS = (
    (Dispute.Status.AWAITING_INTAKE, "waiting_"),
    (Dispute.Status.IN_MEDIATION, "mediation_"),
    (Dispute.Status.FILED, "filed_"),
)


@login_required
def intake(request: HttpRequest) -> HttpResponse:
    """The coordinator's queue, a section per status (waiting for intake first, with each
    mediator's load), each section paged on its own. The page costs the same queries
    whatever the queue's size (issue 14): the user's memberships once, the three
    sections' counts, pages and rows together (odr.pagination.paginate_sections), and
    the mediators of every organisation in one query."""
    by_role = selectors.user_org_ids_by_role(request.user)
    coordinator_orgs = by_role.get(Membership.Role.COORDINATOR, set())
    if not coordinator_orgs:
        raise PermissionDenied
    organisations = list(Organisation.objects.filter(pk__in=coordinator_orgs))
    statuses = [(s, label) for s, label in Dispute.Status.choices if s in INTAKE_STATUSES]
    form = list_filters.ListFilterForm(request.GET, statuses=statuses)
    filters = form.filters()
    queue = _narrowed(
        selectors.intake_queue_for(request.user, coordinator_orgs=coordinator_orgs), filters
    )
    shown = [
        (status, prefix)
        for status, prefix in INTAKE_SECTIONS
        if not filters.status or filters.status == status
    ]
    read = paginate_sections(
        [
            Section(
                queue.filter(status=status),
                after=request.GET.get(f"{prefix}after") or None,
                before=request.GET.get(f"{prefix}before") or None,
            )
            for status, prefix in shown
        ],
        keys=OLDEST_FIRST,
        limit=PAGE_SIZE,
        load=intake_rows,
    )
    pages: dict[str, Page | None] = {status: None for status, _ in INTAKE_SECTIONS}
    pages.update({status: page for (status, _), page in zip(shown, read, strict=True)})
    mediators = selectors.mediator_names_with_load_in(coordinator_orgs)
    # Each mediator's option, worded and drawn once for the page rather than once a row
    # (20 rows offer the same few mediators): "name · 在办 n 件".
    option = '<option value="{}">{}</option>'
    options = {
        org_id: [
            (m.user_id, format_html(option, m.user_id, mediator_option(m.name, m.load)))
            for m in loaded
        ]
        for org_id, loaded in mediators.items()
    }
    viewer, cache = Viewer.of(request.user, by_role), {}
    accept_link = list_html.links("odr:dispute_action", "accept")
    waiting_page = pages[Dispute.Status.AWAITING_INTAKE]
    waiting = []
    for row in waiting_page.items if waiting_page is not None else []:
        # A coordinator who is a party to a case does not take it in, and a party is never
        # offered as its mediator (conflict of interest, odr.transitions). A case taken in
        # since the page's ids were read has no `case`: no longer to be accepted.
        d = row.case
        can_accept = d is not None and bool(
            MACHINE.actions(d, request.user, viewer=viewer, cache=cache, names=["accept"])
        )
        parties = selectors.party_user_ids(d) if can_accept else set()
        offered = options.get(d.organisation_id, []) if can_accept else []
        waiting.append(
            {
                "case": row,
                "can_accept": can_accept,
                "accept_url": accept_link(row.pk),
                # Each option was drawn (and escaped) by format_html.
                "options": mark_safe("".join(o for pk, o in offered if pk not in parties)),
            }
        )
    return render(
        request,
        "odr/intake.html",
        {
            "form": form,
            "filters": filters,
            "query": form.query_string(),
            "waiting": waiting,
            "waiting_page": waiting_page,
            "mediation_page": pages[Dispute.Status.IN_MEDIATION],
            "filed_page": pages[Dispute.Status.FILED],
            "mediators": mediators,
            "organisations": organisations,
            "viewer_org_roles": by_role,
        },
    )
