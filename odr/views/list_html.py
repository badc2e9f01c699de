"""What the HTML lists (my cases, the intake queue, the court's queue) render the same way
on many requests, rendered once (issue 14: a page's CPU, which at 8 clients on 2 cores is
its latency).

The filter block (odr/_list_filters.html) is the same HTML for every request that asks
with the same filters in the same language: six fields drawn through Django's widget
templates, an option at a time, cost more than the rows of the page. It is kept here,
per process, by everything its HTML depends on (`_block_key`); a form with errors is
drawn each time (its messages are the reader's own)."""

from __future__ import annotations

import functools
import html
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.db.models import Choices, Model
from django.template.loader import get_template
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from odr import filters as list_filters
from odr import selectors

M = TypeVar("M", bound=Model)

FILTER_TEMPLATE = "odr/_list_filters.html"
# Enough for every language, list and common filter; a page with a rare filter (a
# search) makes an entry that is dropped first when the memo is full.
MAX_BLOCKS = 256

_blocks: dict[tuple[Any, ...], SafeString] = {}
# Each distinct list of choices (the regions can be a province's thousand townships) is
# held once, however many keys name it.
_choice_lists: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}
_lock = threading.Lock()


def _interned(choices: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    found = _choice_lists.get(choices)
    if found is None:
        with _lock:
            if len(_choice_lists) >= 16:
                _choice_lists.clear()
            found = _choice_lists.setdefault(choices, choices)
    return found


def _field_key(name: str, field: forms.Field) -> tuple[Any, ...]:
    """What a field's label and input are drawn from, besides the value typed: its
    label, its widget and attributes, and its choices as the reader's language words
    them (the regions as read for this request)."""
    widget = field.widget
    choices = getattr(widget, "choices", None)
    return (
        name,
        type(field).__name__,
        type(widget).__name__,
        str(field.label),
        str(field.help_text),
        field.required,
        field.disabled,
        tuple(sorted((k, str(v)) for k, v in widget.attrs.items())),
        None if choices is None else _interned(tuple((str(v), str(lb)) for v, lb in choices)),
    )


def _block_key(form: list_filters.ListFilterForm, active: bool) -> tuple[Any, ...]:
    return (
        get_language(),
        form.prefix,
        form.auto_id,
        tuple(sorted((k, str(v)) for k, v in form.data.items())),
        active,
        tuple(_field_key(name, field) for name, field in form.fields.items()),
    )


def filter_block(form: list_filters.ListFilterForm, filters: list_filters.ListFilters) -> str:
    """odr/_list_filters.html for `form` and `filters`, as `{% include %}` draws it."""
    template = get_template(FILTER_TEMPLATE)
    if form.errors:
        return template.render({"form": form, "filters": filters})
    key = _block_key(form, filters.active)
    html = _blocks.get(key)
    if html is None:
        html = SafeString(template.render({"form": form, "filters": filters}))
        with _lock:
            if len(_blocks) >= MAX_BLOCKS:
                _blocks.pop(next(iter(_blocks)), None)
            _blocks[key] = html
    return html


# --- what every row of a page repeats, worked out once for the page ----------------------

# A number no page's id reaches, reversed in place of each row's own.
_MARKER = 918273645546372819


def links(viewname: str, *more: Any) -> Callable[[int], str]:
    """`reverse(viewname, args=[pk, *more])` for every row of a page, reversed once: the
    link of each row is the same text around its id."""
    before, after = reverse(viewname, args=[_MARKER, *more]).split(str(_MARKER))
    return lambda pk: f"{before}{pk}{after}"


def labels(choices: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """Each choice's label in the reader's language, translated once for the page (a
    model's `get_FOO_display` hashes every choice, translating each, on every call)."""
    return {value: str(label) for value, label in choices}


def escaped_labels(choices: type[Choices]) -> dict[str, str]:
    """`labels` of the `choices` (a model's TextChoices), each escaped as autoescape
    escapes it: the words of the rows a list draws in Python (odr.views.lists). Made once
    per process for each language (the catalogues do not change while it runs)."""
    return _escaped_labels(choices, get_language())


@functools.cache
def _escaped_labels(choices: type[Choices], language: str | None) -> dict[str, str]:
    return {value: html.escape(str(label)) for value, label in choices.choices}


def joined(rows: Iterable[Any]) -> SafeString:
    """The list items of `rows` (each row's `html`, made and escaped by its list) as one
    piece of the page: the template draws a list once, not once a row."""
    return SafeString("".join(row.html for row in rows))


def local_days() -> Callable[[datetime | None], str]:
    """`local_day(when)` ("Y-m-d") for every row of a page: the time zone read once, the
    day written without parsing the format for each row ("" for none)."""
    zone = timezone.get_current_timezone() if settings.USE_TZ else None

    def day(when: datetime | None) -> str:
        if when is None:
            return ""
        if zone is not None and timezone.is_aware(when):
            when = when.astimezone(zone)
        return f"{when.year:04d}-{when.month:02d}-{when.day:02d}"

    return day


def local_day(when: datetime | None, format: str = "Y-m-d") -> str:
    """`{{ when|date:"Y-m-d" }}` (or another `format`): the day in the current time zone
    ("" for none)."""
    if when is None:
        return ""
    return dateformat.format(timezone.template_localtime(when), format)


def from_values(model: type[M], db: str, fields: Sequence[str], values: Sequence[Any]) -> M:
    """An instance of `model` as the database gave these fields (attnames) their values,
    the others deferred: what a rule reads of a row of a list, without the ORM making
    the row's relations (odr.selectors.Partial, as the API's list rows are built)."""
    build = selectors.partial_of(model, tuple(fields), db)
    return build(**dict(zip(fields, values, strict=True)))
