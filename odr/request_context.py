"""The client address of the request being served, for the audit trail. A ContextVar, so
it is per request in threads and in asyncio tasks alike."""

from contextvars import ContextVar

from django.http import HttpRequest

_client_ip: ContextVar[str | None] = ContextVar("odr_client_ip", default=None)


def client_ip_of(request: HttpRequest) -> str | None:
    # Behind the load balancer the address is the first in X-Forwarded-For.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def set_client_ip(ip: str | None) -> None:
    _client_ip.set(ip)


def get_client_ip() -> str | None:
    return _client_ip.get()
