"""Lists: the cases a person may see, and the coordinator's intake queue. Each is read a
page at a time (DESIGN.md §4.9, issue 14) and narrowed by the filters of odr.filters."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from html import escape
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext, ngettext

from odr import filters as list_filters
from odr import people, selectors
from odr.categories import Category
from odr.models import Dispute, Membership
from odr.pagination import (
    NEWEST_FIRST,
    PARAMETER_MARKER,
    Key,
    Page,
    SectionOf,
    page_of_values,
    read_sections,
)
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


# What a row of my cases shows, read with the page's keys and count in one query
# (pagination.page_of_values).
CASE_COLUMNS = (
    "title",
    "case_number",
    "status",
    "category",
    "organisation__name",
    "region__full_name",
)

# A row of my cases: the HTML `{% for d in page.items %}` drew for each case of
# odr/dispute_list.html (the same text, each value escaped as autoescape escapes it),
# made in Python, since drawing twenty rows through the template engine cost more than
# reading them (issue 14).
CASE_ROW = (
    '\n  <li>\n    <a class="title" href="{url}">{title}</a>\n'
    '    <div class="meta">{number} · <span class="status {status}">{status_label}</span>'
    " · {category}</div>\n"
    '    <div class="meta">{organisation} · {region} · {filed_on}</div>\n  </li>\n'
)


@dataclass(frozen=True, slots=True)
class CaseRow:
    """A case as a row of my cases shows it, its words in the reader's language: `html`,
    the row's list item."""

    pk: int
    html: SafeString


def case_rows(rows: list[dict[str, Any]]) -> list[CaseRow]:
    """The rows of a page of my cases from their values (CASE_COLUMNS, read through the
    viewer's visibility): the labels, the link and the dates worked out for the page
    rather than per row and field (issue 14)."""
    statuses = list_html.escaped_labels(Dispute.Status)
    categories = list_html.escaped_labels(Category)
    link = list_html.links("odr:dispute_detail")
    day = list_html.local_days()
    out = []
    for row in rows:
        pk, status, category = row["pk"], row["status"], row["category"]
        html = CASE_ROW.format(
            url=link(pk),
            title=escape(row["title"]),
            number=escape(row["case_number"]),
            status=escape(status),
            status_label=statuses.get(status) or escape(status),
            category=categories.get(category) or escape(category),
            organisation=escape(row["organisation__name"] or ""),
            region=escape(row["region__full_name"] or ""),
            filed_on=day(row["created_at"]),
        )
        out.append(CaseRow(pk, SafeString(html)))
    return out


@login_required
def dispute_list(request: HttpRequest) -> HttpResponse:
    form = list_filters.ListFilterForm(request.GET)
    filters = form.filters()
    by_role = selectors.user_org_ids_by_role(request.user)
    qs = _narrowed(selectors.disputes_visible_to(request.user, by_role=by_role), filters)
    if filters.status:
        qs = qs.filter(status=filters.status)
    read = page_of_values(qs, request.GET, keys=NEWEST_FIRST, limit=PAGE_SIZE, fields=CASE_COLUMNS)
    page = replace(read, items=case_rows(read.items))
    return render(
        request,
        "odr/dispute_list.html",
        {
            "page": page,
            "rows_html": list_html.joined(page.items),
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


# What the intake queue's rows show, and what the intake rules read of a case waiting
# for intake (its status and organisation, its filer), read with the sections' keys and
# counts in one query (pagination.read_sections); its parties come in the same query
# (selectors.party_keys_expressions).
INTAKE_COLUMNS = (
    "status",
    "organisation_id",
    "filed_by_id",
    "title",
    "case_number",
    "category",
    "region__name",
    "intake_at",
    "mediation_deadline",
    "mediator__profile__real_name",
    "mediator__email",
)
CASE_FIELDS = ("id", "status", "organisation_id", "filed_by_id")

# The rows of the intake queue's sections: the HTML each `{% for %}` of odr/intake.html
# drew per case (the same text, each value escaped as autoescape escapes it), made in
# Python: sixty rows through the template engine cost more than reading them (issue 14).
# A waiting case the reader may take in offers its mediators; else says why not.
WAITING_ROW = (
    '\n  <li>\n    <a class="title" href="{url}">{title}</a>\n'
    '    <div class="meta">{number} · {category} · {region} · {agreed} {intake_on}</div>\n'
    "    {decide}\n  </li>\n"
)
WAITING_ACCEPT = (
    '\n    <form class="actions" method="post" action="{accept_url}">{csrf}\n'
    '      <label class="sr" for="m-{pk}">{mediator}</label>\n'
    '      <select name="mediator" id="m-{pk}" required>\n        {options}\n      </select>\n'
    '      <button class="primary">{accept}</button>\n'
    '      <a class="button secondary" href="{url}#actions">{refuse}</a>\n    </form>\n    '
)
WAITING_PARTY = '\n    <p class="muted small">{text}</p>\n    '
MEDIATION_ROW = (
    '\n  <li><a class="title" href="{url}">{title}</a>\n'
    '    <div class="meta">{number} · {mediator}: {name}\n      {left}</div></li>\n'
)
DEADLINE = ' · <span class="deadline{soon}">{left}</span>'
FILED_ROW = (
    '\n  <li><a class="title" href="{url}">{title}</a>\n'
    '    <div class="meta">{number} · {filed} {filed_on}</div></li>\n'
)


@dataclass(frozen=True, slots=True)
class IntakeRow:
    """A case as a row of the intake queue shows it: `html`, its list item (for a case
    waiting for intake, made by the view, which asks whether the reader may take it in);
    `case`, for a case waiting for intake, the case as the intake rules read it (its
    status, organisation and parties)."""

    pk: int
    html: SafeString
    case: Dispute | None = None


class IntakeWords:
    """The words the intake queue's rows repeat, in the reader's language, each
    translated and escaped once per process and language (`of`)."""

    def __init__(self) -> None:
        self.agreed = escape(gettext("respondent agreed"))
        self.mediator = escape(gettext("Mediator"))
        self.accept = escape(gettext("Accept"))
        self.refuse = escape(gettext("Refuse or escalate…"))
        self.filed = escape(gettext("filed"))
        self.party = escape(
            gettext(
                "You are a party to this case: another coordinator of the organisation "
                "decides on it."
            )
        )
        self.categories = list_html.escaped_labels(Category)

    @staticmethod
    def of(language: str | None) -> IntakeWords:
        """The words in `language` (the current one)."""
        return _intake_words(language)


@functools.cache
def _intake_words(language: str | None) -> IntakeWords:
    return IntakeWords()


def intake_rows(rows: list[dict[str, Any]], *, status: str, words: IntakeWords) -> list[IntakeRow]:
    """The rows of one section of the intake queue (`status`) from their values
    (INTAKE_COLUMNS, read through the coordinator's queue): their HTML, but for the cases
    waiting for intake, whose row depends on the reader (the view makes it), the case
    as the intake rules read it, with its parties."""
    link = list_html.links("odr:dispute_detail")
    day = list_html.local_days()
    out = []
    if status == Dispute.Status.AWAITING_INTAKE:
        db = Dispute.objects.db
        for row in rows:
            values = (row["pk"], row["status"], row["organisation_id"], row["filed_by_id"])
            case = list_html.from_values(Dispute, db, CASE_FIELDS, values)
            selectors.with_listed_parties(case, row)
            out.append(IntakeRow(row["pk"], SafeString(""), case))
        return out
    if status == Dispute.Status.IN_MEDIATION:
        today = timezone.localdate()
        for row in rows:
            pk, deadline = row["pk"], row["mediation_deadline"]
            left = ""
            if deadline is not None:
                days = (timezone.localdate(deadline) - today).days
                left = DEADLINE.format(
                    soon=" soon" if days <= 5 else "",
                    left=ngettext("%(n)s day left", "%(n)s days left", days) % {"n": days},
                )
            name = people.name_from(
                row["mediator__profile__real_name"], row["mediator__email"], row["username"]
            )
            html = MEDIATION_ROW.format(
                url=link(pk),
                title=escape(row["title"]),
                number=escape(row["case_number"]),
                mediator=words.mediator,
                name=escape(name),
                left=left,
            )
            out.append(IntakeRow(pk, SafeString(html)))
        return out
    for row in rows:
        pk = row["pk"]
        html = FILED_ROW.format(
            url=link(pk),
            title=escape(row["title"]),
            number=escape(row["case_number"]),
            filed=words.filed,
            filed_on=day(row["created_at"]),
        )
        out.append(IntakeRow(pk, SafeString(html)))
    return out


def waiting_row(
    row: dict[str, Any],
    *,
    words: IntakeWords,
    link: str,
    accept_url: str | None,
    csrf: str,
    options: str,
    day: Callable[[datetime | None], str],
) -> SafeString:
    """A waiting case's row: with the form that takes it in (`accept_url`), offering
    `options` (drawn and escaped already), or, to a reader who is a party to it, why not."""
    if accept_url is not None:
        decide = WAITING_ACCEPT.format(
            accept_url=accept_url,
            csrf=csrf,
            pk=row["pk"],
            mediator=words.mediator,
            options=options,
            accept=words.accept,
            url=link,
            refuse=words.refuse,
        )
    else:
        decide = WAITING_PARTY.format(text=words.party)
    category = row["category"]
    return SafeString(
        WAITING_ROW.format(
            url=link,
            title=escape(row["title"]),
            number=escape(row["case_number"]),
            category=words.categories.get(category) or escape(category),
            region=escape(row["region__name"] or ""),
            agreed=words.agreed,
            intake_on=day(row["intake_at"]),
            decide=decide,
        )
    )


class OrganisationName(NamedTuple):
    """An organisation as the intake queue names it."""

    pk: int
    name: str


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
    whatever the queue's size (issue 14): the user's memberships with their
    organisations' names once, the three sections' counts, pages and rows (with the
    waiting cases' parties) together in one query (odr.pagination.read_sections; on
    PostgreSQL one EXPLAIN for the estimates), and the mediators of every organisation
    in one query."""
    by_role, names = selectors.user_org_names_by_role(request.user)
    coordinator_orgs = by_role.get(Membership.Role.COORDINATOR, set())
    if not coordinator_orgs:
        raise PermissionDenied
    organisations = [OrganisationName(pk, names[pk]) for pk in sorted(coordinator_orgs)]
    statuses = [(s, label) for s, label in Dispute.Status.choices if s in INTAKE_STATUSES]
    form = list_filters.ListFilterForm(request.GET, statuses=statuses)
    filters = form.filters()
    # Unfiltered (the queue as it opens), the sections' SQL is the same for every
    # coordinator of as many organisations: compiled once, with markers for the
    # organisations, given as parameters to each request (pagination.read_sections).
    orgs = sorted(coordinator_orgs)
    prepared, substitute = None, None
    if not filters.active:
        markers = [PARAMETER_MARKER - i for i in range(len(orgs))]
        prepared, substitute = ("intake", len(orgs)), dict(zip(markers, orgs, strict=True))
        orgs = markers
    queue = _narrowed(selectors.intake_queue_for(request.user, coordinator_orgs=orgs), filters)
    shown = [
        (status, prefix)
        for status, prefix in INTAKE_SECTIONS
        if not filters.status or filters.status == status
    ]
    username = f"mediator__{get_user_model().USERNAME_FIELD}"
    read = read_sections(
        queue,
        column="status",
        sections=[
            SectionOf(
                status,
                after=request.GET.get(f"{prefix}after") or None,
                before=request.GET.get(f"{prefix}before") or None,
            )
            for status, prefix in shown
        ],
        keys=OLDEST_FIRST,
        limit=PAGE_SIZE,
        fields=INTAKE_COLUMNS,
        expressions={
            "username": F(username),
            **selectors.precompiled(selectors.party_keys_expressions(), db=queue.db),
        },
        prepared=prepared,
        substitute=substitute,
    )
    words = IntakeWords.of(get_language())
    pages: dict[str, Page | None] = {status: None for status, _ in INTAKE_SECTIONS}
    waiting_values: list[dict[str, Any]] = []
    for (status, _), page in zip(shown, read, strict=True):
        if status == Dispute.Status.AWAITING_INTAKE:
            waiting_values = page.items
        pages[status] = replace(page, items=intake_rows(page.items, status=status, words=words))
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
    detail_link = list_html.links("odr:dispute_detail")
    day = list_html.local_days()
    # As `{% csrf_token %}` draws it: the page's one token, which the template's own forms
    # draw too (the context's `csrf_token`).
    token = get_token(request)
    csrf = format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token)
    waiting_page = pages[Dispute.Status.AWAITING_INTAKE]
    waiting = []
    for row, values in zip(waiting_page.items if waiting_page else [], waiting_values, strict=True):
        # A coordinator who is a party to a case does not take it in, and a party is never
        # offered as its mediator (conflict of interest, odr.transitions).
        d = row.case
        can_accept = bool(
            MACHINE.actions(d, request.user, viewer=viewer, cache=cache, names=["accept"])
        )
        parties = selectors.party_user_ids(d) if can_accept else set()
        offered = options.get(d.organisation_id, []) if can_accept else []
        html = waiting_row(
            values,
            words=words,
            link=detail_link(row.pk),
            accept_url=accept_link(row.pk) if can_accept else None,
            csrf=csrf,
            # Each option was drawn (and escaped) by format_html.
            options="".join(o for pk, o in offered if pk not in parties),
            day=day,
        )
        waiting.append(IntakeRow(row.pk, html, d))
    return render(
        request,
        "odr/intake.html",
        {
            "form": form,
            "filters": filters,
            "query": form.query_string(),
            "waiting": waiting,
            "waiting_html": list_html.joined(waiting),
            "mediation_html": list_html.joined(_items(pages[Dispute.Status.IN_MEDIATION])),
            "filed_html": list_html.joined(_items(pages[Dispute.Status.FILED])),
            "waiting_page": waiting_page,
            "mediation_page": pages[Dispute.Status.IN_MEDIATION],
            "filed_page": pages[Dispute.Status.FILED],
            "mediators": mediators,
            "organisations": organisations,
            "viewer_org_roles": by_role,
            "csrf_token": token,
        },
    )


def _items(page: Page | None) -> list[Any]:
    return [] if page is None else page.items
