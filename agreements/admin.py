"""Admin views of agreements for platform staff: read-mostly. Statuses and signatures
change only through agreements.services (DESIGN.md §2), so those fields are read-only."""

from django.contrib import admin

from agreements.models import Agreement, AgreementVersion, RevokedCertificate, Signature


class SignatureInline(admin.TabularInline):
    model = Signature
    extra = 0
    can_delete = False
    fields = (
        "role",
        "signer_name",
        "version",
        "signed_at",
        "method",
        "certificate_serial",
        "voided_at",
    )
    readonly_fields = fields


class VersionInline(admin.TabularInline):
    model = AgreementVersion
    extra = 0
    can_delete = False
    fields = ("number", "author", "created_at", "note")
    readonly_fields = fields


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ("pk", "dispute", "status", "version", "matter", "effective_at")
    list_filter = ("status", "matter")
    search_fields = ("dispute__case_number", "pdf_sha256", "document_id")
    readonly_fields = (
        "dispute",
        "status",
        "version",
        "document_id",
        "template",
        "created_by",
        "created_at",
        "updated_at",
        "opened_at",
        "effective_at",
        "unsigned_pdf_sha256",
        "pdf",
        "pdf_sha256",
        "facts",
        "disputed_matters",
        "matter",
        "terms",
        "performance_method",
        "performance_place",
        "party_details",
    )
    inlines = [VersionInline, SignatureInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RevokedCertificate)
class RevokedCertificateAdmin(admin.ModelAdmin):
    """Revoking goes through revocation.certificate_revoke (validated, audited, the CRL
    reissued); rows are never changed or deleted: a CRL never forgets a revocation."""

    list_display = ("serial", "reason", "revoked_at", "revoked_by")
    list_filter = ("reason",)
    search_fields = ("serial", "note")
    fields = ("serial", "reason", "note", "revoked_at", "revoked_by")

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj is not None else ("revoked_at", "revoked_by")

    def save_model(self, request, obj, form, change) -> None:
        from agreements.documents.revocation import certificate_revoke

        if change:
            return
        row = certificate_revoke(
            serial=obj.serial, reason=obj.reason, actor=request.user, note=obj.note
        )
        obj.pk, obj.serial, obj.revoked_at, obj.revoked_by = (
            row.pk,
            row.serial,
            row.revoked_at,
            row.revoked_by,
        )

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
