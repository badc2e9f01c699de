"""ASGI entry point: HTTP to Django, WebSockets to the mediation room consumer."""

import gc
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


def freeze_startup_heap() -> None:
    """Every object alive once the application is loaded (modules, views, URL patterns,
    schemas: some 240,000) goes to the collector's permanent generation, never scanned
    again. A full collection scanned them all: 100–150 ms on this machine, which landed
    on whichever request crossed the threshold, one in twenty to forty of those that
    build many objects (the court's queue, issue 14), and was its p95. The views are
    imported first (Django does so at the first request otherwise)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module
    gc.collect()
    gc.freeze()


freeze_startup_heap()
