"""The client address of the request being served, for the audit trail. A ContextVar, so
it is per request in threads and in asyncio tasks alike."""

import ipaddress
from contextvars import ContextVar, Token

from django.conf import settings
from django.http import HttpRequest

_client_ip: ContextVar[str | None] = ContextVar("odr_client_ip", default=None)


def _valid_ip(value: str) -> str | None:
    """The address in canonical form, or None: a header value that is not an address must
    never reach the audit trail (PostgreSQL's inet column would refuse the whole write)."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip_of(request: HttpRequest) -> str | None:
    # X-Forwarded-For is only believed behind a proxy we run (ODR_TRUST_X_FORWARDED_FOR):
    # anyone else could write any address into it.
    if settings.ODR_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            ip = _valid_ip(forwarded.split(",")[0])
            if ip:
                return ip
    return _valid_ip(request.META.get("REMOTE_ADDR") or "")


def set_client_ip(ip: str | None) -> Token:
    return _client_ip.set(ip)


def reset_client_ip(token: Token) -> None:
    _client_ip.reset(token)


def get_client_ip() -> str | None:
    return _client_ip.get()
