"""The platform's public address, for absolute links (e-mail, texts, .ics files, QR codes).

`ODR_SITE_URL` when it is set (production; `./dev serve` sets it from PORT). Otherwise, in
development (ODR_SITE_URL_FROM_REQUEST), the address the request being served came to:
a server started on another port, or reached by another name, sends links that work
(issue 12). Without a request (the reminders, the task worker) it is settings.SITE_URL.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest

_origin: ContextVar[str | None] = ContextVar("odr_request_origin", default=None)


def origin_of(request: HttpRequest) -> str | None:
    """scheme://host[:port] of the request; None when the host is not one we serve
    (Django checks it against ALLOWED_HOSTS)."""
    try:
        host = request.get_host()
    except DisallowedHost:  # never build links from a forged Host header
        return None
    return f"{request.scheme}://{host}"


def set_origin(origin: str | None) -> Token:
    return _origin.set(origin)


def reset_origin(token: Token) -> None:
    _origin.reset(token)


def site_url() -> str:
    """Where absolute links point, without a trailing slash."""
    origin = _origin.get()
    if origin and settings.ODR_SITE_URL_FROM_REQUEST:
        return origin.rstrip("/")
    return settings.SITE_URL
