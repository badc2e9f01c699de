"""Fixtures of the mediation-room tests: a case in mediation with a scheduled session,
and helpers that join its room over a real ASGI WebSocket (tickets or cookies)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django.utils import timezone

from sessions import services
from sessions.models import MediationSession
from tests import factories

# A browser on the platform's page sends its page's origin and the host it connects to.
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
HOST = (b"host", b"127.0.0.1:8000")


@dataclass
class Room:
    session: MediationSession
    mediator: AbstractBaseUser
    applicant: AbstractBaseUser
    respondent: AbstractBaseUser


def schedule(*, in_hours: float = 2) -> MediationSession:
    dispute = factories.dispute_in_mediation()
    return services.session_schedule(
        dispute=dispute,
        actor=factories.demo_user("mediator@demo.odr"),
        scheduled_at=timezone.now() + timedelta(hours=in_hours),
    )


def demo_rooms(count: int) -> list[Room]:
    """`count` sessions scheduled for the demo mediator and the two demo citizens."""
    return [
        Room(
            session=schedule(),
            mediator=factories.demo_user("mediator@demo.odr"),
            applicant=factories.demo_user("citizen1@demo.odr"),
            respondent=factories.demo_user("citizen2@demo.odr"),
        )
        for _ in range(count)
    ]


@pytest.fixture(autouse=True)
def _fresh_room_copies():
    """The rooms' copies and spent tickets live in process memory (sessions.mirror)
    across tests, where a rolled-back test's session id comes again."""
    from sessions import mirror

    mirror.forget_all()
    yield
    mirror.forget_all()


@pytest.fixture
def room(demo) -> Room:
    (one,) = demo_rooms(1)
    return one


def application():
    from config.asgi import application as app

    return app


@database_sync_to_async
def cookie_header(user: AbstractBaseUser) -> tuple[bytes, bytes]:
    """The Cookie header of a browser logged in as this user."""
    client = Client()
    client.force_login(user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={value}".encode())


async def ticket_for(session: MediationSession, user: AbstractBaseUser) -> str:
    token, _expires = await database_sync_to_async(services.ticket_issue)(
        session=session, user=user
    )
    return token


async def open_socket(path: str, headers: list | None = None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application(), path, headers=headers or [])
    connected, _ = await communicator.connect(timeout=5)
    assert connected, "the handshake was refused"
    return communicator


async def join(
    session: MediationSession, user: AbstractBaseUser
) -> tuple[WebsocketCommunicator, dict]:
    """Connects with a fresh ticket (no Origin, as a non-browser client) and returns the
    communicator and its `welcome`."""
    token = await ticket_for(session, user)
    communicator = await open_socket(f"/ws/sessions/{session.pk}/?ticket={token}")
    welcome = await communicator.receive_json_from(timeout=5)
    assert welcome["type"] == "welcome", welcome
    return communicator, welcome


async def receive(communicator: WebsocketCommunicator, kind: str | None = None) -> dict:
    message = await communicator.receive_json_from(timeout=5)
    if kind is not None:
        assert message["type"] == kind, message
    return message


async def receive_until(communicator: WebsocketCommunicator, kind: str) -> dict:
    """Skips other messages (e.g. the mediator's `lobby` list) up to one of this type."""
    for _ in range(20):
        message = await communicator.receive_json_from(timeout=5)
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message")


async def quiet(communicator: WebsocketCommunicator) -> None:
    assert await communicator.receive_nothing(timeout=0.3), "an unexpected message arrived"


async def drain(communicator: WebsocketCommunicator) -> list[dict]:
    out = []
    while not await communicator.receive_nothing(timeout=0.2):
        out.append(await communicator.receive_json_from())
    return out


async def admitted_room(room: Room):
    """Mediator and both parties connected and admitted; queues drained."""
    med, med_welcome = await join(room.session, room.mediator)
    app, app_welcome = await join(room.session, room.applicant)
    res, res_welcome = await join(room.session, room.respondent)
    await med.send_json_to({"type": "admit", "peer_id": app_welcome["peer_id"]})
    await receive(app, "admitted")
    await med.send_json_to({"type": "admit", "peer_id": res_welcome["peer_id"]})
    await receive(res, "admitted")
    for c in (med, app, res):
        await drain(c)
    return (
        (med, med_welcome["peer_id"]),
        (app, app_welcome["peer_id"]),
        (res, res_welcome["peer_id"]),
    )
