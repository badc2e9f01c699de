"""Mediation sessions (live rooms) and what they leave on the case."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class MediationSession(models.Model):
    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Times proposed")
        SCHEDULED = "scheduled", _("Scheduled")
        LIVE = "live", _("In progress")
        ENDED = "ended", _("Ended")
        CANCELLED = "cancelled", _("Cancelled")

    dispute = models.ForeignKey("odr.Dispute", on_delete=models.CASCADE, related_name="sessions")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    scheduled_at = models.DateTimeField(_("time"), null=True, blank=True)
    # When the mediator offers several times, the parties pick one of these (ISO strings).
    proposed_times = models.JSONField(default=list, blank=True)
    duration_minutes = models.PositiveIntegerField(default=60)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # A hearing (询问) held by a judge of the court in this room: the judge hosts it in
    # the mediator's place. Empty for a mediation session, which the case's mediator hosts.
    host = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The mediator's minutes (笔录), written during or after the session.
    minutes = models.TextField(_("minutes"), blank=True)
    # Peer ids of the current private caucus with the mediator; empty when none. Kept in
    # the database so that every Daphne process and a reconnecting client see it.
    caucus_peer_ids = models.JSONField(default=list, blank=True)
    recording_requested = models.BooleanField(_("record this session"), default=False)
    reminded_day_before_at = models.DateTimeField(null=True, blank=True)
    reminded_soon_at = models.DateTimeField(null=True, blank=True)
    ics_uid = models.UUIDField(default=uuid.uuid4, editable=False)
    ics_sequence = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["scheduled_at", "pk"]
        verbose_name = _("mediation session")
        verbose_name_plural = _("mediation sessions")

    def __str__(self) -> str:
        return f"Session {self.pk} of {self.dispute_id}"

    @property
    def room_url(self) -> str:
        return f"/sessions/{self.pk}/room/"


def _peer_id() -> str:
    return secrets.token_hex(8)


def _ticket() -> str:
    return secrets.token_urlsafe(32)


class RoomParticipant(models.Model):
    """One person's place in a room: lobby or room, and the peer id they keep across
    reconnects (an admitted party stays admitted)."""

    class State(models.TextChoices):
        LOBBY = "lobby", _("In the lobby")
        ROOM = "room", _("In the room")
        REMOVED = "removed", _("Removed")

    class Role(models.TextChoices):
        # The parties' values are odr.Party.Role's: a party joins the room in the role it
        # has in the case.
        MEDIATOR = "mediator", _("Mediator")
        APPLICANT = "applicant", _("Applicant")
        RESPONDENT = "respondent", _("Respondent")

    session = models.ForeignKey(
        MediationSession, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    peer_id = models.CharField(max_length=32, unique=True, default=_peer_id)
    role = models.CharField(max_length=20, choices=Role.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.LOBBY)
    channel_name = models.CharField(max_length=200, blank=True)
    # Indexed: the presence sweep (sessions.presence) reads the connected rows of every
    # open room each beat, across all sessions.
    connected = models.BooleanField(default=False, db_index=True)
    consented_online_at = models.DateTimeField(null=True, blank=True)
    consented_recording_at = models.DateTimeField(null=True, blank=True)
    # The latest pre-join network self-test, copied onto each attendance row at joining:
    # {"rtt_ms", "loss_pct", "bitrate_kbps", "grade", "at"}.
    self_test = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "user"], name="participant_once")]

    def __str__(self) -> str:
        return f"{self.role} {self.peer_id} ({self.state})"


class RoomTicket(models.Model):
    """A single-use, short-lived ticket for a non-browser client (CONTRACT §4). Only its
    hash is stored."""

    session = models.ForeignKey(MediationSession, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class Attendance(models.Model):
    """Who joined and left when, with the pre-join network self-test result."""

    session = models.ForeignKey(
        MediationSession, on_delete=models.CASCADE, related_name="attendance"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)
    # {"rtt_ms", "loss_pct", "bitrate_kbps", "grade": "good"|"fair"|"poor"}
    self_test = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["joined_at"]


class ChatMessage(models.Model):
    session = models.ForeignKey(MediationSession, on_delete=models.CASCADE, related_name="chat")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    at = models.DateTimeField(default=timezone.now)
    # The peer ids who could see it: a chat inside a caucus stays inside it.
    audience = models.JSONField(default=list, blank=True)
    # Said while a private caucus (背对背) was on, on either side of it: only its audience
    # reads it; staff who were not there see that a caucus happened, not what was said
    # (issue 11, M1). It fails closed: a line is private to its audience unless the room
    # service, which sees the room at that moment, records it was said in the open room.
    in_caucus = models.BooleanField(default=True)

    class Meta:
        ordering = ["at", "pk"]


def recording_path(instance: Recording, filename: str) -> str:
    return f"recordings/{instance.session_id}/{secrets.token_hex(12)}{filename[-4:]}"


class Recording(models.Model):
    session = models.ForeignKey(
        MediationSession, on_delete=models.CASCADE, related_name="recordings"
    )
    file = models.FileField(upload_to=recording_path, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
