"""The county's figures as an `.xlsx` workbook for reporting upward (openpyxl): one sheet
per breakdown of the dashboard, numbers as numbers (rates as fractions formatted as
percentages), headers in the reader's language."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

PERCENT = "0.0%"


def _sheet(
    wb: Workbook, title: str, header: list[str], rows: list[list[Any]], percent: set[int]
) -> None:
    """A sheet of a header and rows; the columns numbered in `percent` (from 1) are
    fractions shown as percentages."""
    ws = wb.create_sheet(title[:31])
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for column, name in enumerate(header, start=1):
        letter = ws.cell(row=1, column=column).column_letter
        ws.column_dimensions[letter].width = max(12, len(name) * 2)
        if column in percent:
            for (cell,) in ws.iter_rows(min_row=2, min_col=column, max_col=column):
                cell.number_format = PERCENT


def _case_rows(buckets: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [b["name"], b["received"], b["resolved"], b["success_rate"], b["median_days"]]
        for b in buckets
    ]


def _rate_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            r.get("rank"),
            r["name"],
            r["tickets"],
            r["response_rate"],
            r["resolution_rate"],
            r["satisfaction_rate"],
            r["score"],
        ]
        for r in rows
    ]


def dashboard_workbook(data: dict[str, Any]) -> bytes:
    """The bytes of the workbook of `odr.figures.dashboard`'s figures."""
    wb = Workbook()
    ws = wb.active
    ws.title = _("Summary")[:31]
    summary = [
        (_("Area"), data["area"] or _("All areas"), False),
        (_("Visits"), data["visits"], False),
        (_("Settled on the spot by grid workers"), data["settled_on_the_spot"], False),
        (_("Disputes accepted"), data["received"], False),
        (_("Disputes settled"), data["resolved"], False),
        (_("Success rate"), data["success_rate"], True),
        (_("Median days"), data["median_days"], False),
        (_("Resolved at village level"), data["by_level"]["village"], False),
        (_("Resolved at township level"), data["by_level"]["township"], False),
        (_("Resolved at county level"), data["by_level"]["county"], False),
        (
            _("Share resolved at village and township level"),
            data["share_village_township"],
            True,
        ),
        (_("12345 tickets"), data["hotline"]["tickets"], False),
        (_("Hotline response rate"), data["hotline"]["response_rate"], True),
        (_("Hotline resolution rate"), data["hotline"]["resolution_rate"], True),
        (_("Hotline satisfaction rate"), data["hotline"]["satisfaction_rate"], True),
        (_("Hotline score"), data["hotline"]["score"], False),
    ]
    for label, value, is_percent in summary:
        ws.append([label, value])
        if is_percent:
            ws.cell(row=ws.max_row, column=2).number_format = PERCENT
    ws.column_dimensions["A"].width = 40
    cases = [_("Name"), _("Accepted"), _("Disputes settled"), _("Success rate"), _("Median days")]
    _sheet(wb, _("By month"), cases, _case_rows(data["by_month"]), {4})
    _sheet(wb, _("By category"), cases, _case_rows(data["by_category"]), {4})
    _sheet(wb, _("By township"), cases, _case_rows(data["by_township"]), {4})
    rates = [
        _("Rank"),
        _("Name"),
        _("Tickets"),
        _("Response rate"),
        _("Resolution rate"),
        _("Satisfaction rate"),
        _("Score"),
    ]
    _sheet(wb, _("Hotline by township"), rates, _rate_rows(data["hotline_by_township"]), {4, 5, 6})
    _sheet(
        wb,
        _("Hotline by organisation"),
        rates,
        _rate_rows(data["hotline_by_organisation"]),
        {4, 5, 6},
    )
    _sheet(
        wb,
        _("Monthly ranking"),
        [_("Month"), *rates],
        [
            [month["month"].strftime("%Y-%m"), *row]
            for month in data["monthly_ranking"]
            for row in _rate_rows(month["rows"])
        ],
        {5, 6, 7},
    )
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
