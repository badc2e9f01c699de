from django.contrib import admin

from odr.models import (
    AuditEvent,
    Dispute,
    Evidence,
    Invitation,
    Membership,
    Organisation,
    Party,
    Profile,
    Region,
)


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "region", "case_code", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    autocomplete_fields = ["region"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role", "is_active"]
    list_filter = ["role", "is_active", "organisation"]
    autocomplete_fields = ["user", "organisation"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "real_name", "phone", "masked_id_number", "language"]
    search_fields = ["real_name", "user__email"]


class PartyInline(admin.TabularInline):
    model = Party
    extra = 0
    readonly_fields = ["accepted", "consented_online_at"]


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    """Statuses are read-only here: they change only through the services, which audit."""

    list_display = [
        "case_number",
        "title",
        "status",
        "category",
        "organisation",
        "mediator",
        "created_at",
    ]
    list_filter = ["status", "category", "organisation"]
    search_fields = ["case_number", "title"]
    readonly_fields = [
        "case_number",
        "status",
        "organisation",
        "mediator",
        "accepted_at",
        "closed_at",
        "filed_by",
    ]
    inlines = [PartyInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["party", "created_at", "expires_at", "used_at"]
    readonly_fields = ["token"]


@admin.register(Evidence)
class EvidenceAdmin(admin.ModelAdmin):
    list_display = ["filename", "dispute", "size", "content_type", "created_at"]
    readonly_fields = ["sha256", "size", "content_type"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["seq", "created_at", "action", "actor_label", "object_type", "object_id"]
    list_filter = ["action"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
