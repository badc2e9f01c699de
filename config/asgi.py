"""ASGI entry point: HTTP to Django, WebSockets to the mediation room consumer."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from odr.middleware import StaffMFAWebsocketGate  # noqa: E402
from sessions.origin import RoomOriginValidator  # noqa: E402
from sessions.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origin is checked for browsers; clients without Origin need a ticket.
        "websocket": RoomOriginValidator(
            AuthMiddlewareStack(StaffMFAWebsocketGate(URLRouter(websocket_urlpatterns))),
            ticket_application=URLRouter(websocket_urlpatterns),
        ),
    }
)
