"""WebSocket routes (CONTRACT §4): `/ws/sessions/<id>/`."""

from django.urls import path

from sessions.consumers import RoomConsumer

websocket_urlpatterns: list = [
    path("ws/sessions/<int:session_id>/", RoomConsumer.as_asgi()),
]
