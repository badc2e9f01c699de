"""Regions, organisations, people and disputes. Statuses change only in odr.services."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from odr.categories import Category
from odr.idnumber import mask_id_number


class Region(models.Model):
    class Level(models.TextChoices):
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        COUNTY = "county", _("County")
        TOWNSHIP = "township", _("Township")
        VILLAGE = "village", _("Village")

    code = models.CharField(_("code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name

    def ancestors_and_self(self) -> list[Region]:
        """From this region up to the top: the order routing and escalation walk in."""
        chain: list[Region] = []
        node: Region | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    @property
    def full_name(self) -> str:
        return "".join(r.name for r in reversed(self.ancestors_and_self()))


class Organisation(models.Model):
    class Kind(models.TextChoices):
        VILLAGE_COMMITTEE = "village_committee", _("Village people's mediation committee")
        TOWNSHIP_COMMITTEE = "township_committee", _("Township people's mediation committee")
        COUNTY_CENTRE = "county_centre", _("County one-stop dispute-resolution centre")
        INDUSTRY_BODY = "industry_body", _("Industry mediation organisation")
        COURT = "court", _("Basic people's court")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        related_name="organisations",
        help_text=_("The area the organisation covers: this region and everything under it."),
    )
    # An empty list means every category.
    categories = models.JSONField(
        _("categories"),
        default=list,
        blank=True,
        help_text=_("Category codes handled; leave empty for all categories."),
    )
    case_code = models.CharField(
        _("case number code"),
        max_length=20,
        help_text=_("Short code in case numbers, e.g. 安吉矛调."),
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["region__code", "name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name

    @property
    def is_court(self) -> bool:
        return self.kind == self.Kind.COURT

    def handles(self, category: str) -> bool:
        return not self.categories or category in self.categories


class Membership(models.Model):
    class Role(models.TextChoices):
        MEDIATOR = "mediator", _("Mediator")
        COORDINATOR = "coordinator", _("Intake coordinator")
        CLERK = "clerk", _("Court clerk")
        # Decides and signs rulings (CONTRACT §3; DESIGN.md §3: one judge sits alone).
        JUDGE = "judge", _("Judge")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "role"], name="membership_unique_role"
            )
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.organisation}"


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    real_name = models.CharField(_("real name"), max_length=100, blank=True)
    phone = models.CharField(_("mobile phone"), max_length=30, blank=True)
    id_number = models.CharField(_("resident ID number"), max_length=18, blank=True)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans"
    )

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return self.real_name or str(self.user)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)


class Dispute(models.Model):
    class Status(models.TextChoices):
        FILED = "filed", _("Waiting for the respondent")
        AWAITING_INTAKE = "awaiting_intake", _("Waiting for intake")
        IN_MEDIATION = "in_mediation", _("In mediation")
        SETTLED = "settled", _("Settled")
        FAILED = "failed", _("Mediation failed")
        REJECTED = "rejected", _("Intake refused")
        DECLINED = "declined", _("Respondent declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    case_number = models.CharField(_("case number"), max_length=60, unique=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.FILED
    )
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("facts"))
    request = models.TextField(_("what the applicant asks for"), blank=True)
    claim_amount = models.DecimalField(
        _("claim amount (yuan)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="disputes")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="disputes"
    )
    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mediated_disputes",
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="filed_disputes"
    )
    created_at = models.DateTimeField(_("filed at"), default=timezone.now)
    intake_at = models.DateTimeField(_("respondent agreed at"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    mediation_deadline = models.DateTimeField(_("mediation deadline"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closing_reason = models.TextField(_("reason"), blank=True)
    deadline_reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "organisation"])]
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")

    def __str__(self) -> str:
        return f"{self.case_number} {self.title}"

    @property
    def applicant(self) -> Party | None:
        return next((p for p in self.parties.all() if p.role == Party.Role.APPLICANT), None)

    @property
    def respondent(self) -> Party | None:
        return next((p for p in self.parties.all() if p.role == Party.Role.RESPONDENT), None)

    @property
    def is_open(self) -> bool:
        return self.status in {
            self.Status.FILED,
            self.Status.AWAITING_INTAKE,
            self.Status.IN_MEDIATION,
        }


class CaseCounter(models.Model):
    """The last case number given per organisation and year; locked while a number is
    drawn so that racing filings never share one."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "year"], name="case_counter_unique")
        ]


class Party(models.Model):
    class Role(models.TextChoices):
        APPLICANT = "applicant", _("Applicant")
        RESPONDENT = "respondent", _("Respondent")

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="parties")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="parties",
    )
    name = models.CharField(_("name"), max_length=100)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    agent_name = models.CharField(_("agent"), max_length=100, blank=True)
    # None: not asked yet; True: consented to online mediation; False: declined.
    accepted = models.BooleanField(_("agreed to mediate"), null=True)
    consented_online_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["dispute", "role"]
        constraints = [
            models.UniqueConstraint(fields=["dispute", "role"], name="party_one_per_role")
        ]
        verbose_name = _("party")
        verbose_name_plural = _("parties")

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.name}"


def _new_token() -> str:
    return secrets.token_urlsafe(32)


class Invitation(models.Model):
    """The respondent's single-use link `/invitations/<token>/`."""

    party = models.OneToOneField(Party, on_delete=models.CASCADE, related_name="invitation")
    token = models.CharField(max_length=64, unique=True, default=_new_token)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"Invitation for {self.party}"

    @property
    def is_used(self) -> bool:
        return self.used_at is not None

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires_at


def evidence_path(instance: Evidence, filename: str) -> str:
    # The stored name is never the uploaded one: no path, no surprises.
    return f"evidence/{instance.dispute_id}/{secrets.token_hex(16)}{instance.extension}"


class Evidence(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="evidence")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    file = models.FileField(upload_to=evidence_path, max_length=200)
    filename = models.CharField(_("file name"), max_length=200)
    extension = models.CharField(max_length=10)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    description = models.CharField(_("description"), max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")

    def __str__(self) -> str:
        return self.filename


class Message(models.Model):
    """A secure message on the case between the parties and the mediator."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    text = models.TextField(_("message"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.text[:40]


class AuditEvent(models.Model):
    """Append-only, hash-chained record of every change (DESIGN.md §2). Each event's hash
    covers its own content and the previous event's hash; `verify_audit` walks the chain."""

    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    actor_label = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=80)
    dispute = models.ForeignKey(
        Dispute, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=60)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise RuntimeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit events are append-only.")


class AuditHead(models.Model):
    """One row: the chain's last hash and length, locked while an event is appended so
    that two writers cannot fork the chain."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
