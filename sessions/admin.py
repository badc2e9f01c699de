"""Mediation sessions in the admin: for looking, not for changing. Every change of a
session goes through sessions.services (locked, audited, broadcast), so the admin shows
the record read-only."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from sessions.models import Attendance, ChatMessage, MediationSession, Recording, RoomParticipant


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ParticipantInline(ReadOnlyInline):
    model = RoomParticipant
    fields = ["user", "role", "peer_id", "state", "connected", "consented_online_at",
              "consented_recording_at", "self_test"]  # fmt: skip


class AttendanceInline(ReadOnlyInline):
    model = Attendance
    fields = ["user", "joined_at", "left_at", "self_test"]


class ChatInline(ReadOnlyInline):
    model = ChatMessage
    fields = ["at", "sender", "said", "in_caucus", "audience"]
    readonly_fields = ["said"]

    @admin.display(description=_("Message"))
    def said(self, message: ChatMessage) -> str:
        # Issue 11, M1: what was said in a caucus is its participants' alone, and the
        # platform's administrators were not in it.
        if message.in_caucus:
            return _("Private caucus (what was said is visible only to those in it)")
        return message.text


class RecordingInline(ReadOnlyInline):
    model = Recording
    fields = ["started_at", "ended_at", "file", "size", "sha256"]


@admin.register(MediationSession)
class MediationSessionAdmin(admin.ModelAdmin):
    list_display = ["pk", "dispute", "status", "scheduled_at", "started_at", "ended_at"]
    list_filter = ["status"]
    search_fields = ["dispute__case_number", "dispute__title"]
    inlines = [ParticipantInline, AttendanceInline, ChatInline, RecordingInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
