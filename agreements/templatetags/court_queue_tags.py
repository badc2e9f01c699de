"""The rows of the court's queue page (agreements/court/queue.html), each drawn once per
process and language (issue 14: twenty rows drawn node by node were a third of the page's
CPU, and a clerk's queue is read again and again while its rows stay the same).

A row's HTML depends on nothing but its `QueueRow` (agreements.court.views: every word,
date, link and flag it shows, worked out for the reader's time zone and moment) and the
language of its fixed words, so those are its key: a request that changes, or a deadline
that passes, makes another row and another key, never a stale one."""

from __future__ import annotations

import threading
from typing import Any

from django import template
from django.template.loader import get_template
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()

ROW_TEMPLATE = "agreements/court/_queue_row.html"
# Some pages of rows in every language; the oldest row drawn goes first when full.
MAX_ROWS = 2000

_rows: dict[tuple[str | None, Any], SafeString] = {}
_lock = threading.Lock()


@register.simple_tag
def court_queue_row(row: Any) -> SafeString:
    """agreements/court/_queue_row.html for `row` (a QueueRow, frozen and hashable)."""
    key = (get_language(), row)
    html = _rows.get(key)
    if html is None:
        html = SafeString(get_template(ROW_TEMPLATE).render({"r": row}))
        with _lock:
            if len(_rows) >= MAX_ROWS:
                _rows.pop(next(iter(_rows)), None)
            _rows[key] = html
    return html
