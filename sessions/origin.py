"""Origin checking for the room socket.

Browsers always send Origin, and channels' AllowedHostsOriginValidator stops another
site's page from opening a socket with the user's cookie (cross-site WebSocket
hijacking). Non-browser clients (aiortc peers, scripts, the benchmark) send no Origin
and that validator would refuse them; they carry no cookie to hijack, so a connection
without Origin is let through only when it presents a `?ticket=`, and the consumer then
authenticates it by the ticket alone (never by a cookie). Such a connection skips the
cookie/session middleware, which would spend a database round trip on a cookie that
does not count."""

from __future__ import annotations

from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier

from sessions.consumers import has_origin, ticket_from


class RoomOriginValidator:
    def __init__(self, application, *, ticket_application=None) -> None:
        self.with_origin = AllowedHostsOriginValidator(application)
        self.ticket_application = ticket_application or application

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "websocket" or has_origin(scope):
            return await self.with_origin(scope, receive, send)
        if ticket_from(scope):
            return await self.ticket_application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
