"""The filters and the search of the lists (issue 14): status, category, region (the
region and everything under it), the filing date range, and a case number or a party's
name. One form reads them for the pages and for the API, so both accept and refuse the
same values: a page shows the form's message and keeps what was typed, the API answers
422 with the field's code (CONTRACT §3 errors)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from odr.categories import Category
from odr.errors import DomainError
from odr.models import Dispute, Party, Region
from odr.selectors import PreparedRead

# The codes the API answers for a bad value, one per parameter.
ERROR_CODES = {
    "status": "invalid_status_filter",
    "category": "invalid_category_filter",
    "region": "invalid_region_filter",
    "filed_from": "invalid_date_filter",
    "filed_to": "invalid_date_filter",
    "q": "invalid_search",
}
# Longer than any case number or name: a search that long is not one.
SEARCH_MAX = 60
# From this many characters a search matches anywhere in a number or name (trigrams).
SEARCH_ANYWHERE = 3
# A search matching more rows than this (case numbers and party names together, counted
# up to here) is common: the list is walked in order rather than the matches collected.
COMMON_SEARCH = 1000
# How every case number opens: its year in brackets, ASCII or full-width.
CASE_NUMBER_START = re.compile(r"[(（]\d{4}[)）]")


@dataclass(frozen=True)
class ListFilters:
    status: str = ""
    category: str = ""
    region: Region | None = None
    filed_from: dt.date | None = None
    filed_to: dt.date | None = None
    q: str = ""

    @property
    def active(self) -> bool:
        """Any filter besides the status (the page opens its filter block then)."""
        return bool(self.category or self.region or self.filed_from or self.filed_to or self.q)


class RegionCodeField(forms.CharField):
    default_error_messages = {"unknown": _("There is no region with the code “%(code)s”.")}

    def clean(self, value: str) -> Region | None:  # type: ignore[override]
        code = super().clean(value)
        if not code:
            return None
        region = Region.objects.filter(code=code).first()
        if region is None:
            raise forms.ValidationError(
                self.error_messages["unknown"], code="unknown", params={"code": code}
            )
        return region


class ListFilterForm(forms.Form):
    """Read from the query string; every field may be left out."""

    status = forms.ChoiceField(label=_("Status"), required=False)
    category = forms.ChoiceField(
        label=_("Category"),
        required=False,
        choices=[("", _("All categories")), *Category.choices],
    )
    region = RegionCodeField(label=_("Region"), required=False, max_length=12)
    filed_from = forms.DateField(
        label=_("Filed from"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    filed_to = forms.DateField(
        label=_("Filed to"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    q = forms.CharField(
        label=_("Case number or party name"),
        required=False,
        max_length=SEARCH_MAX,
        widget=forms.TextInput(attrs={"type": "search"}),
    )

    def __init__(
        self,
        data: Mapping[str, str] | None = None,
        *,
        statuses: Sequence[tuple[str, str]] = Dispute.Status.choices,
        date_label: str | None = None,
    ) -> None:
        # Only the parameters of the filters: `page`, `cursor`, `limit` are the list's.
        data = data or {}
        super().__init__({k: data[k] for k in self.base_fields if k in data})
        self.fields["status"].choices = [("", _("All statuses")), *statuses]
        # Read only when a page draws the form (the API never does), and once.
        read: list[tuple[str, str]] = []

        def regions() -> list[tuple[str, str]]:
            if not read:
                read.extend([("", _("All regions")), *region_choices()])
            return read

        self.fields["region"].widget = forms.Select(choices=regions)
        if date_label == "submitted":
            self.fields["filed_from"].label = _("Submitted from")
            self.fields["filed_to"].label = _("Submitted to")

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("filed_from"), cleaned.get("filed_to")
        if start and end and start > end:
            self.add_error("filed_to", _("The end date is before the start date."))
        return cleaned

    def filters(self) -> ListFilters:
        """The valid filters; a bad one is left out (the page says why)."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        data = {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
        return ListFilters(
            status=data.get("status") or "",
            category=data.get("category") or "",
            region=data.get("region"),
            filed_from=data.get("filed_from"),
            filed_to=data.get("filed_to"),
            q=data.get("q") or "",
        )

    def query_string(self) -> str:
        """The filters as typed, for the links to the other pages."""
        return urlencode({k: v for k, v in self.data.items() if v})


class InvalidFilter(DomainError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(ERROR_CODES.get(field, "invalid_filter"), message, status=422)


def filters_or_422(form: ListFilterForm) -> ListFilters:
    """The API's reading: a bad value is refused (422), never silently dropped."""
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        label = form.fields[field].label if field in form.fields else field
        raise InvalidFilter(field, f"{field} ({label}): {errors[0]}")
    return form.filters()


def region_choices() -> list[tuple[str, str]]:
    """The regions a list may be narrowed to, down to the townships (a village's cases are
    under its township), by their place in the tree; read on every page that draws the
    form, its SQL compiled once (selectors.PreparedRead, issue 14)."""
    return _REGION_CHOICES(db=Region.objects.db)


_REGION_CHOICES = PreparedRead(
    lambda: (
        Region.objects.filter(
            level__in=[
                Region.Level.PROVINCE,
                Region.Level.CITY,
                Region.Level.COUNTY,
                Region.Level.TOWNSHIP,
            ]
        )
        .order_by("path")
        .values_list("code", "full_name")
    )
)


def day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _lookup(q: str) -> str:
    return "contains" if len(q) >= SEARCH_ANYWHERE else "startswith"


def _number_lookup(q: str) -> str:
    """A search that opens as a case number does, "(2026)" (odr.services.filing; the
    full-width brackets too), can only match a number from its start: the only bracket
    of a number is its first character. The btree prefix index answers it in a probe;
    the trigram index would gather every number of that year first (issue 14)."""
    return "startswith" if CASE_NUMBER_START.match(q) else _lookup(q)


def search_matches(q: str) -> QuerySet:
    """The ids of the cases whose number or a party's name matches, as one UNION ALL (a
    case may come more than once)."""
    lookup = _lookup(q)
    by_number = (
        Dispute.objects.filter(**{f"case_number__{_number_lookup(q)}": q}).order_by().values("pk")
    )
    by_name = Party.objects.filter(**{f"name__{lookup}": q}).order_by().values("dispute_id")
    return by_number.union(by_name, all=True)


def search_condition(q: str, *, prefix: str = "") -> Q:
    """A case number or a party's name. From SEARCH_ANYWHERE characters on, anywhere in
    it (the serial of a case number, a given name): on PostgreSQL the trigram indexes of
    migration 0010 answer it. Shorter (a surname, "张三"), from its start: the btree
    prefix indexes of 0005 answer it (one or two characters make no trigram to look up).
    The cases are found by their own ids, the case numbers' and the parties' in one
    UNION ALL, so each side is its own index scan (an OR across the two tables would
    read every case) and no join can repeat a case."""
    lookup = _lookup(q)
    # The matches are read once, up to COMMON_SEARCH + 1: a rare search (a case number, a
    # full name) then narrows the list to those ids, and its count and page need not
    # search the indexes again.
    matches = [row["pk"] for row in search_matches(q)[: COMMON_SEARCH + 1]]
    if len(matches) <= COMMON_SEARCH:
        return Q(**{f"{prefix}pk__in": sorted(set(matches))})
    # A common surname ("李" names half the parties of a county): the ids of every match
    # would be hashed and their cases sorted before the first page. The list is read in
    # its own order instead, each case asked whether a party's name matches (an index
    # probe by case), and the page stops after its rows (issue 14).
    outer = OuterRef(f"{prefix}id" if prefix else "pk")
    # The second, redundant comparison is not an equality: PostgreSQL then cannot turn
    # the EXISTS into a hash of every matching party (which it would choose, not knowing
    # the page stops early), and probes the party index case by case.
    named = Party.objects.filter(dispute_id=outer, dispute_id__lte=outer, **{f"name__{lookup}": q})
    return Q(**{f"{prefix}case_number__{_number_lookup(q)}": q}) | Q(Exists(named))


def filter_disputes(qs: QuerySet[Dispute], filters: ListFilters, *, prefix: str = "") -> QuerySet:
    """`qs` (disputes, or rows reaching their dispute through `prefix`, such as
    "agreement__dispute__") narrowed by `filters`, all but the dates; each condition is
    one indexed column, and the region's is a prefix of its path (one join at most)."""
    if filters.category:
        qs = qs.filter(**{f"{prefix}category": filters.category})
    if filters.region is not None:
        qs = qs.filter(**{f"{prefix}region__path__startswith": filters.region.path})
    if filters.q:
        qs = qs.filter(search_condition(filters.q, prefix=prefix))
    return qs


def filter_dates(qs: QuerySet, filters: ListFilters, field: str) -> QuerySet:
    """From the start of `filed_from` to the end of `filed_to`, both local days."""
    if filters.filed_from:
        qs = qs.filter(**{f"{field}__gte": day_start(filters.filed_from)})
    if filters.filed_to:
        qs = qs.filter(**{f"{field}__lt": day_start(filters.filed_to + dt.timedelta(days=1))})
    return qs
