from typing import Any

from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from odr.models import (
    Agent,
    AuditEvent,
    Dispute,
    DuplicateLink,
    Evidence,
    Grid,
    GridReport,
    HotlineTicket,
    HotlineToken,
    Invitation,
    Membership,
    Organisation,
    Party,
    Profile,
    Region,
    Statement,
    Visit,
    Window,
)
from odr.services.hotline import token_create, token_revoke


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
    list_display = ["name", "kind", "region", "case_code", "committee_name", "is_active"]
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
    list_display = ["user", "real_name", "phone", "masked_id_number", "sex", "language"]
    search_fields = ["real_name", "user__email"]
    # The particulars change through the profile page or PATCH /api/v1/me, which audit
    # them and carry them to the person's open cases; the admin only reads them.
    readonly_fields = [
        "user",
        "real_name",
        "phone",
        "id_number",
        "sex",
        "ethnicity",
        "occupation",
        "address",
    ]


class PartyInline(admin.StackedInline):
    """Read-only: particulars change through odr.services.parties (audited, and never
    after the agreement is opened for signing)."""

    model = Party
    extra = 0
    can_delete = False
    fields = [
        "role",
        "position",
        "kind",
        "user",
        "name",
        "email",
        "phone",
        "address",
        "id_number",
        "sex",
        "birth_date",
        "ethnicity",
        "occupation",
        "credit_code",
        "representative",
        "representative_title",
        "accepted",
        "consented_online_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class AgentInline(admin.TabularInline):
    model = Agent
    extra = 0
    can_delete = False
    fields = ["name", "relation", "scope", "filename", "sha256", "created_at", "revoked_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
    list_display = ["dispute", "role", "position", "kind", "name"]
    list_filter = ["role", "kind"]
    search_fields = ["name", "dispute__case_number"]
    readonly_fields = [f.name for f in Party._meta.fields]
    inlines = [AgentInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Statement)
class StatementAdmin(admin.ModelAdmin):
    list_display = ["dispute", "party", "created_at"]
    readonly_fields = ["dispute", "party", "author", "text", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


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
    list_filter = ["status", "category", "channel", "organisation"]
    search_fields = ["case_number", "title"]
    readonly_fields = [
        "case_number",
        "status",
        "organisation",
        "mediator",
        "accepted_at",
        "closed_at",
        "filed_by",
        # Moved between windows only by the audited hand-off (issue 10).
        "window",
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


@admin.register(HotlineToken)
class HotlineTokenAdmin(admin.ModelAdmin):
    """Made here or with `manage.py hotline_token NAME`: the value is shown once, in the
    message after saving; revoked with the list's action (never deleted: the tickets it
    brought keep naming it)."""

    list_display = ["name", "prefix", "created_at", "revoked_at"]
    fields = ["name", "prefix", "created_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "revoked_at"]
    actions = ["revoke"]

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: Any, obj: Any = None) -> list[str]:
        return [*self.readonly_fields, "name"] if obj else self.readonly_fields

    def save_model(self, request: Any, obj: HotlineToken, form: Any, change: bool) -> None:
        if change:
            return
        token, value = token_create(name=obj.name)
        obj.pk, obj.key_hash, obj.prefix, obj.user_id = (
            token.pk,
            token.key_hash,
            token.prefix,
            token.user_id,
        )
        self.message_user(
            request,
            _("The token's value, shown only now: %(value)s") % {"value": value},
            messages.WARNING,
        )

    @admin.action(description=gettext_lazy("Revoke the selected tokens"))
    def revoke(self, request: Any, queryset: Any) -> None:
        for token in queryset:
            token_revoke(token=token)


@admin.register(HotlineTicket)
class HotlineTicketAdmin(admin.ModelAdmin):
    list_display = ["ticket_id", "status", "received_at", "respond_by", "responded_at"]
    list_filter = ["status"]
    search_fields = ["ticket_id"]
    readonly_fields = [f.name for f in HotlineTicket._meta.fields]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


# --- issue 10: the one-stop centre and the grid --------------------------------------------


@admin.register(Window)
class WindowAdmin(admin.ModelAdmin):
    """A centre's stationed bodies: set up here (name, where, what to bring)."""

    list_display = ["name", "kind", "organisation", "location", "is_active"]
    list_filter = ["kind", "organisation", "is_active"]


@admin.register(Grid)
class GridAdmin(admin.ModelAdmin):
    list_display = ["name", "village"]
    filter_horizontal = ["workers"]


class _ReadOnly(admin.ModelAdmin):
    """Written by the services (audited): read here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Visit)
class VisitAdmin(_ReadOnly):
    list_display = ["created_at", "name", "organisation", "staff", "dispute"]
    list_filter = ["organisation"]


@admin.register(GridReport)
class GridReportAdmin(_ReadOnly):
    list_display = ["created_at", "grid", "worker", "outcome", "dispute"]
    list_filter = ["outcome", "grid"]


@admin.register(DuplicateLink)
class DuplicateLinkAdmin(_ReadOnly):
    list_display = ["created_at", "dispute", "original", "decision"]
    list_filter = ["decision"]
