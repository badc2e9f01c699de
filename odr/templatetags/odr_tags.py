"""Template helpers for the pages: the navigation by role, deadlines, masking."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

from odr import people, selectors
from odr.idnumber import mask_phone as _mask_phone
from odr.models import Membership
from odr.sms import normalise_mobile
from odr.views import list_html

register = template.Library()


@register.simple_tag(takes_context=True)
def site_nav(context: dict[str, Any]) -> dict[str, bool]:
    """Which role-specific links the header shows (one query per page)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {
            "coordinator": False,
            "court": False,
            "staff": False,
            "reception": False,
            "grid": False,
        }
    # A page that read the reader's organisations by role already (a list page: whose
    # cases, which queue) hands them over as `viewer_org_roles`: the same memberships,
    # not asked again (issue 14).
    by_role = context.get("viewer_org_roles")
    roles = set(selectors.user_roles(user) if by_role is None else by_role)
    return {
        "coordinator": Membership.Role.COORDINATOR in roles,
        # Clerks docket and judges decide: both work from the court portal.
        "court": bool({Membership.Role.CLERK, Membership.Role.JUDGE} & roles),
        "staff": bool(roles & {r.value for r in Membership.Role}),
        # Issue 10: the centre's reception desk and the grid worker's report form.
        "reception": Membership.Role.RECEPTION in roles,
        "grid": Membership.Role.GRID_WORKER in roles,
    }


@register.simple_tag(takes_context=True)
def list_filters(context: dict[str, Any]) -> str:
    """A list's filter block (odr/_list_filters.html) for the page's `form` and `filters`,
    drawn once for every request with the same filters in the same language (issue 14;
    odr.views.list_html)."""
    return list_html.filter_block(context["form"], context["filters"])


@register.filter
def days_left(when: datetime | None) -> int | None:
    """Whole days from today to the date of `when` (negative once it has passed)."""
    if when is None:
        return None
    return (timezone.localdate(when) - timezone.localdate()).days


@register.filter
def is_mobile(value: str) -> bool:
    """Whether a text can reach this number (a mainland mobile, odr.sms)."""
    return normalise_mobile(value or "") is not None


@register.filter
def mask_phone(value: str) -> str:
    return _mask_phone(value or "")


@register.filter
def get_item(mapping: dict, key: Any) -> Any:
    return mapping.get(key, [])


@register.filter
def others_than(mediators: list[tuple[Any, int]], user_id: int | None) -> list[tuple[Any, int]]:
    """The (mediator, load) pairs without the one who has the case now."""
    return [(m, load) for m, load in mediators if m.pk != user_id]


@register.filter
def display_name(user: Any) -> str:
    """A person as every page names them (odr.people.display_name): the real name once
    given, else the login."""
    return people.display_name(user)
