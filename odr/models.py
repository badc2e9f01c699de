"""Regions, organisations, people and disputes. Statuses change only in odr.services."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

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
    # The codes from the top down to this region, "/330000000000/.../330523000000/": a
    # list filters "in this region or under it" by a prefix of one column (issue 14: no
    # query joins the tree more than once). Kept by save(), for the region's subtree too.
    path = models.CharField(_("path"), max_length=255, blank=True, editable=False)
    # The names from the top down ("浙江省湖州市德清县"): a page names a case's place
    # without reading the region's ancestors.
    full_name = models.CharField(_("full name"), max_length=500, blank=True, editable=False)

    class Meta:
        ordering = ["code"]
        indexes = [
            # A prefix (LIKE 'x%') is an index range scan on PostgreSQL with pattern_ops.
            models.Index(fields=["path"], name="region_path", opclasses=["varchar_pattern_ops"]),
        ]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        before = None
        if self.pk is not None:
            before = Region.objects.filter(pk=self.pk).values_list("path", "full_name").first()
        self.path, self.full_name = self._derived()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "path", "full_name"}
        super().save(*args, **kwargs)
        if before is not None and before != (self.path, self.full_name):
            # A renamed or moved region carries its subtree along.
            for child in Region.objects.filter(parent=self):
                child.parent = self
                child.save()

    def _derived(self) -> tuple[str, str]:
        parent = self.parent
        if parent is None:
            return f"/{self.code}/", self.name
        return f"{parent.path}{self.code}/", f"{parent.full_name}{self.name}"

    def path_codes(self) -> list[str]:
        return [code for code in self.path.split("/") if code]

    def ancestors_and_self(self) -> list[Region]:
        """From this region up to the top: the order routing and escalation walk in. The
        ancestors not already loaded come in one query (by the stored path)."""
        parent_field = Region._meta.get_field("parent")
        if self.parent_id is not None and not parent_field.is_cached(self) and self.path:
            codes = self.path_codes()[:-1]
            found = {r.code: r for r in Region.objects.filter(code__in=codes)}
            if len(found) == len(codes):
                node = self
                for code in reversed(codes):
                    node.parent = found[code]
                    node = node.parent
        chain: list[Region] = []
        node: Region | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain


class Organisation(models.Model):
    class Kind(models.TextChoices):
        VILLAGE_COMMITTEE = "village_committee", _("Village people's mediation committee")
        TOWNSHIP_COMMITTEE = "township_committee", _("Township people's mediation committee")
        COUNTY_CENTRE = "county_centre", _("County one-stop dispute-resolution centre")
        INDUSTRY_BODY = "industry_body", _("Industry mediation organisation")
        COURT = "court", _("Basic people's court")
        # Confirms only what belongs to an intermediate court (CPL 2023 Art. 205).
        INTERMEDIATE_COURT = "intermediate_court", _("Intermediate people's court")

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
    # The people's mediation committee that issues this organisation's agreements under
    # its name and seal (DESIGN.md §3): a county centre hosts one; a committee leaves it
    # empty and issues under its own name.
    committee_name = models.CharField(
        _("people's mediation committee"),
        max_length=200,
        blank=True,
        help_text=_(
            "The people's mediation committee whose name and seal this organisation's "
            "agreements bear, when it is not itself a committee (a county centre hosts one)."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["region__code", "name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name

    @property
    def is_court(self) -> bool:
        return self.kind in (self.Kind.COURT, self.Kind.INTERMEDIATE_COURT)

    @property
    def is_basic_court(self) -> bool:
        return self.kind == self.Kind.COURT

    @property
    def issuer_name(self) -> str:
        """The name an agreement is issued under: the hosted committee's, else its own."""
        return self.committee_name or self.name

    def handles(self, category: str) -> bool:
        return not self.categories or category in self.categories


class Membership(models.Model):
    class Role(models.TextChoices):
        MEDIATOR = "mediator", _("Mediator")
        COORDINATOR = "coordinator", _("Intake coordinator")
        CLERK = "clerk", _("Court clerk")
        # Decides and signs rulings (CONTRACT §3; DESIGN.md §3: one judge sits alone).
        JUDGE = "judge", _("Judge")
        # Approves extensions of the period to rule (DESIGN.md §3).
        PRESIDENT = "president", _("Court president")
        # The one-stop centre's window staff and a village grid's worker (CONTRACT §1).
        RECEPTION = "reception", _("Reception window staff")
        GRID_WORKER = "grid_worker", _("Grid worker")

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


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    real_name = models.CharField(_("real name"), max_length=100, blank=True)
    phone = models.CharField(_("mobile phone"), max_length=30, blank=True)
    # True once the person typed the code texted to `phone` (sign-up or log-in by phone,
    # odr.accounts); a change of `phone` makes it False again. The phone itself lives only
    # here: allauth reads and writes it through the platform's adapter.
    phone_verified = models.BooleanField(_("mobile phone verified"), default=False)
    id_number = models.CharField(_("resident ID number"), max_length=18, blank=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    ethnicity = models.CharField(_("ethnicity"), max_length=20, blank=True)
    occupation = models.CharField(_("occupation"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
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

    class Channel(models.TextChoices):
        """How the case came in (CONTRACT §3 `channel`)."""

        ONLINE = "online", _("Filed online")
        WALK_IN = "walk_in", _("Reception window")
        GRID = "grid", _("Grid worker report")
        HOTLINE = "hotline", _("12345 hotline")

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
    # The court that invited (委派/委托) this mediation, if one did: the competent court
    # for judicial confirmation then (CPL 2023 Art. 205).
    referring_court = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referred_disputes",
        limit_choices_to={"kind__in": ["court", "intermediate_court"]},
    )
    created_at = models.DateTimeField(_("filed at"), default=timezone.now)
    intake_at = models.DateTimeField(_("respondent agreed at"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    mediation_deadline = models.DateTimeField(_("mediation deadline"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, default=Channel.ONLINE
    )
    closing_reason = models.TextField(_("reason"), blank=True)
    # The stationed body (窗口) of a one-stop centre that has the case now: set by the
    # reception at filing, moved by the `handoff` transition (one case, one number).
    window = models.ForeignKey(
        "Window",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="disputes",
        verbose_name=_("window"),
    )
    deadline_reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "organisation"]),
            # Keyset pages of the lists (odr.pagination), newest first, at any depth.
            models.Index(fields=["created_at", "id"], name="dispute_created_id"),
            models.Index(fields=["status", "created_at", "id"], name="dispute_status_created_id"),
            # The lists' filters (issue 14): by category, by region (the regions under one
            # are found by their path), and the search by the start of a case number.
            models.Index(
                fields=["category", "created_at", "id"], name="dispute_category_created_id"
            ),
            models.Index(fields=["region", "created_at", "id"], name="dispute_region_created_id"),
            # The intake queue: an organisation's cases of one status, oldest first.
            models.Index(
                fields=["organisation", "status", "created_at", "id"],
                name="dispute_org_status_created_id",
            ),
            # A mediator's load: the cases in mediation (odr.selectors._mediators_by_load,
            # read for every mediator on the intake queue), by index only.
            models.Index(fields=["mediator", "status"], name="dispute_mediator_status"),
            models.Index(
                fields=["case_number"],
                name="dispute_case_number_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
        ]
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")

    def __str__(self) -> str:
        return f"{self.case_number} {self.title}"

    @property
    def applicant(self) -> Party | None:
        """The first applicant (the filer): there may be co-applicants (`applicants`)."""
        return next(iter(self.applicants), None)

    @property
    def respondent(self) -> Party | None:
        """The first respondent: there may be several (`respondents`)."""
        return next(iter(self.respondents), None)

    @property
    def applicants(self) -> list[Party]:
        return [p for p in self.parties.all() if p.role == Party.Role.APPLICANT]

    @property
    def respondents(self) -> list[Party]:
        return [p for p in self.parties.all() if p.role == Party.Role.RESPONDENT]

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


def phone_key_of(phone: str) -> str:
    """A phone number as the duplicate check compares it (issue 10, point 4): digits only,
    without China's +86, so "138 0000 0000" and "+8613800000000" are the same number."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


class PhoneKeyField(models.CharField):
    """`phone_key_of` the row's `phone`, worked out whenever the row is written (save and
    bulk_create both ask each field's pre_save), so the duplicate check finds a number by
    its index instead of reading every party of the place (issue 14, point 4)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 30)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = phone_key_of(model_instance.phone)
        setattr(model_instance, self.attname, value)
        return value


class Party(models.Model):
    """One applicant or respondent: a natural person, a legal person or another
    organisation, with the particulars every document names them by (DESIGN.md §3). A
    side may have several parties, each invited and each consenting. `odr.identity`
    reads the record; the agreement freezes it into the version each party signs."""

    class Role(models.TextChoices):
        APPLICANT = "applicant", _("Applicant")
        RESPONDENT = "respondent", _("Respondent")

    class Kind(models.TextChoices):
        PERSON = "person", _("Natural person")
        ORGANISATION = "organisation", _("Legal person or other organisation")

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="parties")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    # Order within the side: 申请人一, 申请人二 ... (the filer is 0).
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.PERSON)
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
    # The phone's digits (phone_key), kept by the field itself: the duplicate check's key.
    phone_key = PhoneKeyField()
    address = models.CharField(_("address"), max_length=300, blank=True)
    # A natural person: sex and birth date follow from the ID number when it is given.
    id_number = models.CharField(_("resident ID number"), max_length=18, blank=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    ethnicity = models.CharField(_("ethnicity"), max_length=20, blank=True)
    occupation = models.CharField(_("occupation"), max_length=100, blank=True)
    # A legal person or other organisation (GB 32100 code, checked in odr.identity).
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    representative = models.CharField(_("legal representative"), max_length=100, blank=True)
    representative_title = models.CharField(_("representative's title"), max_length=100, blank=True)
    agent_name = models.CharField(_("agent"), max_length=100, blank=True)
    # None: not asked yet; True: consented to online mediation; False: declined.
    accepted = models.BooleanField(_("agreed to mediate"), null=True)
    consented_online_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["dispute", "role", "position", "pk"]
        indexes = [
            # The lists' search by the start of a party's name (issue 14).
            models.Index(
                fields=["name"], name="party_name_prefix", opclasses=["varchar_pattern_ops"]
            ),
            # The duplicate check (odr.services.duplicates): the parties with one of a
            # filing's phone numbers or ID numbers, by index, in every filing (issue 14).
            models.Index(fields=["phone_key"], name="party_phone_key"),
            models.Index(fields=["id_number"], name="party_id_number"),
        ]
        verbose_name = _("party")
        verbose_name_plural = _("parties")

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A save of named fields writes only those: the phone's key goes with the phone.
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "phone" in update_fields:
            kwargs["update_fields"] = {*update_fields, "phone_key"}
        super().save(*args, **kwargs)

    @property
    def is_person(self) -> bool:
        return self.kind == self.Kind.PERSON


def _attorney_path(instance: Agent, filename: str) -> str:
    return f"attorney/{instance.party.dispute_id}/{secrets.token_hex(16)}{instance.extension}"


class Agent(models.Model):
    """A party's agent ad litem (委托代理人) with the power of attorney (授权委托书) the
    party signed, uploaded as a file, and its scope: general (一般授权) or special
    (特别授权: may admit, waive or settle claims, CPL Art. 62)."""

    class Scope(models.TextChoices):
        GENERAL = "general", _("General authorisation")
        SPECIAL = "special", _("Special authorisation")

    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="agents")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="agencies",
    )
    name = models.CharField(_("name"), max_length=100)
    id_number = models.CharField(_("resident ID number"), max_length=18, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    # 律师, 近亲属, 工作人员 ... and, for a lawyer, the firm.
    relation = models.CharField(_("relation to the party"), max_length=200, blank=True)
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices)
    powers = models.TextField(_("powers granted"), blank=True)
    power_of_attorney = models.FileField(upload_to=_attorney_path, max_length=200)
    filename = models.CharField(max_length=200)
    extension = models.CharField(max_length=10)
    content_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("agent")
        verbose_name_plural = _("agents")

    def __str__(self) -> str:
        return self.name


class Statement(models.Model):
    """A respondent's own account (答辩), shown beside the claim and in the court packet."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="statements")
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="statements")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("statement"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("statement")
        verbose_name_plural = _("statements")

    def __str__(self) -> str:
        return self.text[:40]


def _new_token() -> str:
    return secrets.token_urlsafe(32)


class Invitation(models.Model):
    """An invited party's single-use link `/invitations/<token>/` (each respondent and
    each co-applicant has one)."""

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


# --- the 12345 hotline bridge (接诉即办, issue 10) ----------------------------------------


class HotlineToken(models.Model):
    """A hotline system's API key (CONTRACT §1): only its SHA-256 is kept, so the value is
    shown once, when it is made (`manage.py hotline_token NAME` or the admin). Each token
    has a service account that the disputes it files are filed by, so that the audit trail
    names the hotline; it cannot log in."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, to tell tokens apart in the admin without revealing them.
    prefix = models.CharField(_("starts with"), max_length=8, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="hotline_token",
        editable=False,
    )
    created_at = models.DateTimeField(_("made at"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("hotline token")
        verbose_name_plural = _("hotline tokens")

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class HotlineTicket(models.Model):
    """A 12345 ticket (工单) and the dispute it made. First contact with the caller is due
    by `respond_by`; the ticket closes as resolved or not, and the caller is then sent a
    single-use survey link (`survey_token`)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for first contact")
        RESPONDED = "responded", _("Caller contacted")
        RESOLVED = "resolved", _("Resolved")
        UNRESOLVED = "unresolved", _("Closed unresolved")

    ticket_id = models.CharField(_("ticket number"), max_length=64, unique=True)
    token = models.ForeignKey(
        HotlineToken, on_delete=models.PROTECT, related_name="tickets", null=True, blank=True
    )
    dispute = models.OneToOneField(Dispute, on_delete=models.CASCADE, related_name="hotline_ticket")
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.OPEN
    )
    caller_name = models.CharField(_("caller"), max_length=100)
    caller_phone = models.CharField(_("caller's phone"), max_length=30)
    text = models.TextField(_("what the caller said"))
    received_at = models.DateTimeField(_("received at"))
    respond_by = models.DateTimeField(_("first contact due by"))
    responded_at = models.DateTimeField(_("first contact at"), null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    survey_token = models.CharField(max_length=64, unique=True, default=_new_token)
    survey_sent_at = models.DateTimeField(null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    survey_comment = models.TextField(_("comment"), blank=True)
    surveyed_at = models.DateTimeField(_("survey answered at"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["received_at"], name="hotline_ticket_received")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(satisfaction__isnull=True)
                | models.Q(satisfaction__gte=1, satisfaction__lte=5),
                name="hotline_satisfaction_1_5",
            )
        ]
        verbose_name = _("hotline ticket")
        verbose_name_plural = _("hotline tickets")

    def __str__(self) -> str:
        return self.ticket_id

    @property
    def is_closed(self) -> bool:
        return self.status in (self.Status.RESOLVED, self.Status.UNRESOLVED)

    @property
    def resolved_at(self):
        return self.closed_at if self.status == self.Status.RESOLVED else None

    @property
    def responded_late(self) -> bool | None:
        """None while first contact is not yet due or made."""
        if self.responded_at is not None:
            return self.responded_at > self.respond_by
        return True if timezone.now() > self.respond_by else None


# --- the one-stop centre and the grassroots (issue 10) ------------------------------------


class Window(models.Model):
    """A stationed body (进驻单位) working at a window (窗口) of a one-stop centre: the
    centre's reception hands a case to it, and it hands the case on to another window,
    the case keeping its one number and timeline (the `handoff` transition)."""

    class Kind(models.TextChoices):
        MEDIATION_COMMITTEE = "mediation_committee", _("People's mediation committee")
        PETITIONS = "petitions", _("Petitions (信访)")
        LEGAL_AID = "legal_aid", _("Legal aid")
        TRAFFIC = "traffic", _("Traffic accident mediation")
        MEDICAL = "medical", _("Medical dispute mediation")
        LABOUR = "labour", _("Labour dispute mediation")
        FAMILY = "family", _("Marriage and family mediation")
        LITIGATION = "litigation", _("Court litigation service")
        ARBITRATION = "arbitration", _("Arbitration")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="windows")
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    # Where the visitor goes and what they bring: printed on the receipt.
    location = models.CharField(_("where"), max_length=200, blank=True)
    bring = models.TextField(_("what to bring"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["organisation", "pk"]
        verbose_name = _("window")
        verbose_name_plural = _("windows")

    def __str__(self) -> str:
        return self.name


class Visit(models.Model):
    """A walk-in visitor registered at a centre's reception: counted as a visit (来访)
    whether or not a dispute is filed for them."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="visits")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    id_number = models.CharField(_("resident ID number"), max_length=18, blank=True)
    purpose = models.TextField(_("purpose of the visit"))
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    dispute = models.ForeignKey(
        Dispute, on_delete=models.PROTECT, null=True, blank=True, related_name="visits"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "created_at"], name="visit_org_created")]
        verbose_name = _("visit")
        verbose_name_plural = _("visits")

    def __str__(self) -> str:
        return f"{self.name} {self.created_at:%Y-%m-%d}"


class Grid(models.Model):
    """A grid (网格): an area of a village with its grid worker(s)."""

    village = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="grids")
    name = models.CharField(_("name"), max_length=100)
    workers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="grids", blank=True, verbose_name=_("grid workers")
    )

    class Meta:
        ordering = ["village", "name"]
        verbose_name = _("grid")
        verbose_name_plural = _("grids")

    def __str__(self) -> str:
        return f"{self.village.name} {self.name}"


class GridReport(models.Model):
    """What a grid worker found on rounds. A quarrel settled on the spot stays a report
    row (counted, with what was agreed; no case is opened for what is over); one not
    settled is filed as a dispute of the village (channel `grid`), linked here.
    `client_uuid` is made on the phone: the same report sent twice is one row."""

    class Outcome(models.TextChoices):
        NOT_TRIED = "not_tried", _("No on-the-spot mediation tried")
        SETTLED = "settled", _("Settled on the spot")
        NOT_SETTLED = "not_settled", _("Tried, not settled")

    client_uuid = models.UUIDField(unique=True)
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="reports")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="grid_reports"
    )
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    place = models.CharField(_("place"), max_length=300)
    facts = models.TextField(_("what happened"))
    parties = models.JSONField(_("parties"), default=list)
    outcome = models.CharField(_("on-the-spot mediation"), max_length=12, choices=Outcome.choices)
    settlement = models.TextField(_("what was agreed"), blank=True)
    dispute = models.OneToOneField(
        Dispute, on_delete=models.PROTECT, null=True, blank=True, related_name="grid_report"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["grid", "created_at"], name="gridreport_grid_created")]
        verbose_name = _("grid report")
        verbose_name_plural = _("grid reports")

    def __str__(self) -> str:
        return f"{self.grid} {self.created_at:%Y-%m-%d}"


def _grid_photo_path(instance: GridReportPhoto, filename: str) -> str:
    return f"grid/{instance.report_id}/{secrets.token_hex(16)}{instance.extension}"


class GridReportPhoto(models.Model):
    """A photo of a report settled on the spot (a report filed as a dispute keeps its
    photos as the case's evidence). Checked by content like evidence."""

    report = models.ForeignKey(GridReport, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(upload_to=_grid_photo_path, max_length=200)
    filename = models.CharField(max_length=200)
    extension = models.CharField(max_length=10)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)


class DuplicateLink(models.Model):
    """A new case that may be the same matter as an open one (a party's phone or ID
    number, the same village, within 30 days): linked for staff to merge or keep apart,
    never silently opened twice."""

    class Decision(models.TextChoices):
        OPEN = "open", _("Possible duplicate")
        MERGED = "merged", _("Merged")
        KEPT_APART = "kept_apart", _("Kept apart")

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="duplicate_of")
    original = models.ForeignKey(
        Dispute, on_delete=models.CASCADE, related_name="possible_duplicates"
    )
    matched_on = models.JSONField(default=list)
    decision = models.CharField(
        _("decision"), max_length=12, choices=Decision.choices, default=Decision.OPEN
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["dispute", "original"], name="duplicate_link_unique")
        ]
        verbose_name = _("possible duplicate")
        verbose_name_plural = _("possible duplicates")


class FigureSnapshot(models.Model):
    """Figures counted ahead of the request (issue 14): the public statistics (`kind`
    "public") or one area's dashboard (`kind` "dashboard", `scope` the region's id, or
    "all" for a superuser), as odr.stats computes them, with the time they were counted.
    The worker recounts every snapshot on a schedule; a request reads one row."""

    kind = models.CharField(max_length=16)
    scope = models.CharField(max_length=32, blank=True, default="")
    data = models.JSONField()
    computed_at = models.DateTimeField()
    # How long the count took, in milliseconds (for the operator: figures per area).
    took_ms = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "scope"], name="figure_snapshot_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.scope}@{self.computed_at:%Y-%m-%d %H:%M}"
