"""Origin checking for the room socket.

Browsers always send Origin, and the room socket authenticates a browser by its cookie:
a page of another origin must not open it with the user's cookie (cross-site WebSocket
hijacking). An origin is a scheme, a host and a port, and all three are compared (issue
11, I): another port of the same host is another site, and it may be someone else's
(a second service on the machine, a development server). Accepted are the platform's own
origins only: the origin the request itself was made to (its Host header, when that host
is one of ALLOWED_HOSTS, with http/https for ws/wss), the public address SITE_URL, and
each of CSRF_TRUSTED_ORIGINS (the same list that lets such a page post forms).

Non-browser clients (aiortc peers, scripts, the benchmark) send no Origin; they carry no
cookie to hijack, so a connection without Origin is let through only when it presents a
`?ticket=`, and the consumer then authenticates it by the ticket alone (never by a
cookie). Such a connection skips the cookie/session middleware, which would spend a
database round trip on a cookie that does not count."""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

from sessions.consumers import has_origin, ticket_from

DEFAULT_PORTS = {"http": 80, "https": 443}
# The page's scheme that opens a socket of this scheme.
PAGE_SCHEME = {"ws": "http", "wss": "https"}

Origin = tuple[str, str, int]


def parse_origin(value: str) -> Origin | None:
    """(scheme, host, port) of a serialised origin or a URL, the default port filled in;
    None for anything else (`null`, an unknown scheme, a malformed port)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def own_origin(scope: dict) -> Origin | None:
    """The origin of the page that is the platform itself for this request: the scheme
    of the socket's page and the Host it was sent to, when that host is one we serve."""
    host = _header(scope, b"host")
    if not host:
        return None
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme = PAGE_SCHEME.get(scope.get("scheme") or "ws", "http")
    return parse_origin(f"{scheme}://{host}")


def _matches(origin: Origin, allowed: Origin) -> bool:
    """Scheme, host and port equal; a configured `*.example.com` (as CSRF_TRUSTED_ORIGINS
    allows) stands for the subdomains of example.com, on that scheme and port only."""
    scheme, host, port = allowed
    if (origin[0], origin[2]) != (scheme, port):
        return False
    if host.startswith("*."):
        return is_same_domain(origin[1], host[1:])
    return origin[1] == host


def origin_allowed(scope: dict) -> bool:
    value = _header(scope, b"origin")
    origin = parse_origin(value) if value else None
    if origin is None:
        return False
    if origin == own_origin(scope):
        return True
    configured = (parse_origin(v) for v in [settings.SITE_URL, *settings.CSRF_TRUSTED_ORIGINS])
    return any(allowed is not None and _matches(origin, allowed) for allowed in configured)


class RoomOriginValidator:
    """A socket with Origin goes to `application` (the cookie stack) when its origin is
    exactly one of ours; one without Origin goes to `ticket_application` when it presents
    a ticket. Everything else is refused at the handshake."""

    def __init__(self, application, *, ticket_application=None) -> None:
        self.application = application
        self.ticket_application = ticket_application or application

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "websocket":
            return await self.application(scope, receive, send)
        if has_origin(scope):
            if origin_allowed(scope):
                return await self.application(scope, receive, send)
        elif ticket_from(scope):
            return await self.ticket_application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
