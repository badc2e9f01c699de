"""Settlement agreements, their signatures, judicial confirmation and performance.
Statuses change only in agreements.services."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Agreement(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SIGNING = "signing", _("Signing")
        SIGNED = "signed", _("Signed and in force")

    dispute = models.OneToOneField(
        "odr.Dispute", on_delete=models.CASCADE, related_name="agreement"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # The public document id printed with the QR code.
    document_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    template = models.CharField(max_length=40, blank=True)
    facts = models.TextField(_("facts and disputed matters"), blank=True)
    # [{text, kind: money|act|other, obligor, obligee, amount, due_date, place,
    #   instalments: [{amount, due_date}]}]
    terms = models.JSONField(default=list, blank=True)
    performance_method = models.TextField(_("method of performance"), blank=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)
    effective_at = models.DateTimeField(_("in force since"), null=True, blank=True)
    unsigned_pdf_sha256 = models.CharField(max_length=64, blank=True)
    pdf = models.FileField(upload_to="agreements/", blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")

    def __str__(self) -> str:
        return f"Agreement {self.pk} ({self.status})"


class AgreementVersion(models.Model):
    """A frozen copy of the draft each time it is saved, for the visible difference."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    facts = models.TextField(blank=True)
    terms = models.JSONField(default=list)
    performance_method = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "number"], name="agreement_version_once")
        ]


class Signature(models.Model):
    class Role(models.TextChoices):
        APPLICANT = "applicant", _("Applicant")
        RESPONDENT = "respondent", _("Respondent")
        MEDIATOR = "mediator", _("Mediator")

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="signatures")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=20, choices=Role.choices)
    version = models.PositiveIntegerField()
    signed_at = models.DateTimeField(default=timezone.now)
    signature_png = models.BinaryField()
    method = models.CharField(max_length=10, default="drawn")  # drawn | typed
    ip = models.GenericIPAddressField(null=True, blank=True)
    certificate_serial = models.CharField(max_length=64, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["signed_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "role", "version"],
                name="one_signature_per_role_version",
            )
        ]


class ConfirmationRequest(models.Model):
    class Status(models.TextChoices):
        AWAITING_CONSENT = "awaiting_consent", _("Waiting for the other party")
        PENDING = "pending", _("Before the court")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")

    agreement = models.OneToOneField(
        Agreement, on_delete=models.CASCADE, related_name="confirmation_request"
    )
    court = models.ForeignKey(
        "odr.Organisation", on_delete=models.PROTECT, related_name="confirmation_requests"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.AWAITING_CONSENT
    )
    applicant_consented_at = models.DateTimeField(null=True, blank=True)
    respondent_consented_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    accept_deadline = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    rule_deadline = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    application_pdf = models.FileField(upload_to="confirmation/", blank=True)
    ruling_pdf = models.FileField(upload_to="rulings/", blank=True)
    ruling_sha256 = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        verbose_name = _("judicial confirmation request")
        verbose_name_plural = _("judicial confirmation requests")


def _proof_path(instance: Performance, filename: str) -> str:
    return f"performance/{instance.agreement_id}/{secrets.token_hex(12)}"


class Performance(models.Model):
    """One obligation of a signed agreement (a term or an instalment), tracked to its due
    date."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="obligations")
    term_index = models.PositiveIntegerField()
    instalment_index = models.PositiveIntegerField(null=True, blank=True)
    description = models.TextField()
    obligor_role = models.CharField(max_length=20, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    proof = models.FileField(upload_to=_proof_path, blank=True)
    proof_note = models.TextField(blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "term_index", "instalment_index"]
