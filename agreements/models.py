"""Settlement agreements, their signatures, judicial confirmation and performance.
Statuses change only in agreements.services."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from odr.models import Party


class Agreement(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SIGNING = "signing", _("Signing")
        SIGNED = "signed", _("Signed and in force")

    class Matter(models.TextChoices):
        """What the agreement settles. A court does not accept confirmation of the
        matters of the SPC's interpretation of the CPL, Art. 355 (status relations, title
        to property or intellectual property, bankruptcy, other special procedures); the
        screen is agreements.content_check. People's mediation may still settle some of
        them where the People's Mediation Law allows (DESIGN.md §3)."""

        CIVIL = "civil", _("Civil rights and obligations")
        PERSONAL_STATUS = "personal_status", _("Personal status (identity relationships)")
        ADOPTION = "adoption", _("Adoption")
        MARRIAGE_VALIDITY = "marriage_validity", _("Validity of a marriage")
        DIVORCE = "divorce", _("Divorce")
        PARENTAGE = "parentage", _("Parentage")
        PROPERTY_TITLE = "property_title", _("Title to property (确权)")
        IP_TITLE = "ip_title", _("Title to intellectual property (确权)")
        BANKRUPTCY = "bankruptcy", _("Bankruptcy")
        SPECIAL_PROCEDURE = "special_procedure", _("Other special procedure or public summons")

    dispute = models.OneToOneField(
        "odr.Dispute", on_delete=models.CASCADE, related_name="agreement"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # The public document id printed with the QR code.
    document_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    template = models.CharField(max_length=40, blank=True)
    facts = models.TextField(_("facts and disputed matters"), blank=True)
    disputed_matters = models.TextField(_("disputed matters"), blank=True)
    matter = models.CharField(
        _("kind of matter"), max_length=20, choices=Matter.choices, default=Matter.CIVIL
    )
    # [{text, kind: money|act|other, obligor, obligee, amount, due_date, place,
    #   instalments: [{amount, due_date}]}]
    terms = models.JSONField(default=list, blank=True)
    performance_method = models.TextField(_("method of performance"), blank=True)
    # Where obligations are performed when a term names no place of its own.
    performance_place = models.CharField(_("place of performance"), max_length=300, blank=True)
    # Per role ("applicant", "respondent"): {"address": ...}: the parties' service
    # addresses, which profiles do not hold (People's Mediation Law Art. 29).
    party_details = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    # Each party's identity record (odr.identity.PartyIdentity.as_dict()), frozen when
    # the draft is opened for signing: every document prints the parties from it, and a
    # later change to a profile never reaches a version already signed.
    parties = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)
    effective_at = models.DateTimeField(_("in force since"), null=True, blank=True)
    unsigned_pdf_sha256 = models.CharField(max_length=64, blank=True)
    # The document being signed (issue 9, point 2): rendered once when the agreement opens
    # for signing, then each signer's signature appended as an incremental update at that
    # signer's moment. Emptied by `revise`; the sealed result goes to `pdf`.
    signing_pdf = models.BinaryField(default=b"", blank=True, editable=False)
    # Where each signer's visible signature field sits in `signing_pdf`: signer key
    # ("party:<id>", "mediator") -> [page index, x1, y1, x2, y2] in PDF points.
    signature_boxes = models.JSONField(default=dict, blank=True)
    pdf = models.FileField(upload_to="agreements/", blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    # The parties' reminders of the 30 days to apply for judicial confirmation, sent once
    # per stage: the stage last sent (7, then 1 day before the window closes) and when.
    window_reminded_days = models.PositiveSmallIntegerField(null=True, blank=True)
    window_reminded_at = models.DateTimeField(null=True, blank=True)

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
    # Everything the draft held at this version (facts, matters, terms, method, place,
    # party details), so that the difference covers every element.
    snapshot = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=200, blank=True)
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
    # The party signing (null for the mediator): a side may have several.
    party = models.ForeignKey(
        "odr.Party", on_delete=models.PROTECT, null=True, blank=True, related_name="signatures"
    )
    # The signer's name as printed in the signature block, fixed at signing time.
    signer_name = models.CharField(max_length=100, blank=True)
    version = models.PositiveIntegerField()
    # SHA-256 of the document as the signer saw it when signing (the audit event holds it
    # too), so a later change to the text is detectable (Electronic Signature Law Art. 13).
    document_sha256 = models.CharField(max_length=64, blank=True)
    signed_at = models.DateTimeField(default=timezone.now)
    signature_png = models.BinaryField()

    class Method(models.TextChoices):
        DRAWN = "drawn", _("Drawn by hand")
        TYPED = "typed", _("Typed name")

    method = models.CharField(max_length=10, choices=Method.choices, default=Method.DRAWN)
    ip = models.GenericIPAddressField(null=True, blank=True)
    certificate_serial = models.CharField(max_length=64, blank=True)
    # The certificate the platform CA issued for the signer's own public key (PEM); the
    # private key never left the signer's device.
    certificate_pem = models.TextField(blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["signed_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "signer", "version"],
                name="one_signature_per_signer_version",
            ),
            models.UniqueConstraint(
                fields=["agreement", "party", "version"],
                condition=models.Q(party__isnull=False),
                name="one_signature_per_party_version",
            ),
        ]


class ConfirmationRequest(models.Model):
    class Status(models.TextChoices):
        """CONTRACT §3: both parties asked (pending), a clerk docketed it under the court's
        own number (accepted), a judge ruled (confirmed, rejected) or refused it before
        docketing (not_accepted, 不予受理)."""

        AWAITING_CONSENT = "awaiting_consent", _("Waiting for the other party")
        PENDING = "pending", _("Before the court")
        ACCEPTED = "accepted", _("Accepted by the court")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")
        NOT_ACCEPTED = "not_accepted", _("Not accepted")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Basis(models.TextChoices):
        """Why this court (CPL 2023 Art. 205; DESIGN.md §3)."""

        INVITING_COURT = "inviting_court", _("The court that invited the mediation")
        PARTY_DOMICILE = "party_domicile", _("A party's domicile")
        PROPERTY = "property", _("Where the property lies")
        ORGANISATION = "organisation", _("Where the mediation organisation is")
        INTERMEDIATE = "intermediate", _("Belongs to an intermediate court")

    agreement = models.OneToOneField(
        Agreement, on_delete=models.CASCADE, related_name="confirmation_request"
    )
    court = models.ForeignKey(
        "odr.Organisation", on_delete=models.PROTECT, related_name="confirmation_requests"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.AWAITING_CONSENT
    )
    basis = models.CharField(
        _("ground of jurisdiction"), max_length=20, choices=Basis.choices, blank=True
    )
    # The region the ground names (the party's domicile, the property's location).
    basis_region = models.ForeignKey(
        "odr.Region", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    applicant_consented_at = models.DateTimeField(null=True, blank=True)
    respondent_consented_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    accept_deadline = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    # The clerk (书记员) who docketed it: the ruling names them beside the judge.
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rule_deadline = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    application_pdf = models.FileField(upload_to="confirmation/", blank=True)
    ruling_pdf = models.FileField(upload_to="rulings/", blank=True)
    ruling_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The court's own case number, typed by the clerk who docketed the application.
    case_number = models.CharField(_("court case number"), max_length=60, blank=True)
    application_sha256 = models.CharField(max_length=64, blank=True)
    # The joint application being signed (issue 9, point 5): rendered once when the first
    # party applies, then each party's signature appended as an incremental update at
    # that party's moment, in signing order; after the last, the platform seal and the
    # validation data follow and the result is `application_pdf`. `signing_sha256` is the
    # SHA-256 of the rendering every party read; `signature_boxes` where each party's
    # signature field sits in it ("party:<id>" -> [page index, x1, y1, x2, y2]).
    signing_pdf = models.BinaryField(default=b"", blank=True, editable=False)
    signature_boxes = models.JSONField(default=dict, blank=True)
    signing_sha256 = models.CharField(max_length=64, blank=True)
    # The ruling period may be extended once, by 10 days, with a reason (DESIGN.md §3).
    rule_extended_at = models.DateTimeField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    # An extension is asked for by the judge and approved by the court president.
    extension_requested_at = models.DateTimeField(null=True, blank=True)
    extension_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    extension_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The president refused the judge's request: the period stays as it was.
    extension_refused_at = models.DateTimeField(null=True, blank=True)
    # A party asked to withdraw the application (撤回), before a ruling; the judge's order
    # allowing it ends the request.
    withdrawal_requested_at = models.DateTimeField(null=True, blank=True)
    withdrawal_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdrawal_reason = models.TextField(blank=True)
    withdrawal_order_sha256 = models.CharField(max_length=64, blank=True)
    # 撤回: the parties withdrew; the court's order allowing it.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawal_order_pdf = models.FileField(upload_to="rulings/", blank=True)
    accept_reminded_at = models.DateTimeField(null=True, blank=True)
    rule_reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("judicial confirmation request")
        verbose_name_plural = _("judicial confirmation requests")
        constraints = [
            models.UniqueConstraint(
                fields=["court", "case_number"],
                condition=~models.Q(case_number=""),
                name="court_case_number_once",
            )
        ]
        # The court queue reads a court's requests by status.
        indexes = [models.Index(fields=["court", "status"], name="confirmation_court_status")]

    def __str__(self) -> str:
        return f"Confirmation {self.pk} ({self.status})"


class ConfirmationConsent(models.Model):
    """One party's joining the application (申请): every party must, each with their own
    act, before the court sees it. The act is the party's signature of the application
    with a key of their own device (issue 9, point 5): the row is written when that
    signature is embedded, and keeps the certificate the platform CA issued for the key."""

    request = models.ForeignKey(
        ConfirmationRequest, on_delete=models.CASCADE, related_name="consents"
    )
    party = models.ForeignKey("odr.Party", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    consented_at = models.DateTimeField(default=timezone.now)
    # Who signed for the party (the party, or its agent with special authorisation), the
    # certificate of their device key and where they signed from: the application's
    # signature, as the agreement's Signature row keeps it.
    signer_name = models.CharField(max_length=100, blank=True)
    certificate_serial = models.CharField(max_length=64, blank=True)
    certificate_pem = models.TextField(blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["consented_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["request", "party"], name="consent_once_per_party")
        ]


class SupplementRequest(models.Model):
    """补正: the court asks the parties for materials by a deadline; while it is open the
    court's own period does not run (the days it took are added to the period)."""

    request = models.ForeignKey(
        ConfirmationRequest, on_delete=models.CASCADE, related_name="supplements"
    )
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    asked_at = models.DateTimeField(default=timezone.now)
    what = models.TextField(_("materials asked for"))
    deadline = models.DateTimeField(_("to be supplied by"))
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answer = models.TextField(blank=True)
    # Evidence ids (odr.Evidence) the parties supplied with the answer.
    evidence_ids = models.JSONField(default=list, blank=True)
    # The 补正通知书 served on the parties.
    notice_pdf = models.FileField(upload_to="rulings/", blank=True)
    notice_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["asked_at", "pk"]

    @property
    def is_open(self) -> bool:
        return self.answered_at is None


class Inquiry(models.Model):
    """询问: the judge questions the parties, in person or in a mediation room serving as
    the hearing room; its record (询问笔录) is kept and signed."""

    request = models.ForeignKey(
        ConfirmationRequest, on_delete=models.CASCADE, related_name="inquiries"
    )
    session = models.ForeignKey(
        "mediation.MediationSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    judge = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    scheduled_at = models.DateTimeField()
    place = models.CharField(max_length=200, blank=True)
    # Held online, in a mediation room the judge hosts as the hearing room.
    online = models.BooleanField(default=False)
    # The clerk who keeps the record (书记员), and who was present (odr.Party ids).
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    present = models.JSONField(default=list, blank=True)
    record = models.TextField(_("record of the inquiry"), blank=True)
    # Who signed the record (users' ids with the time), and the record's PDF.
    signed = models.JSONField(default=list, blank=True)
    # When the record was written (last rewritten): the inquiry's end, as the record
    # prints it ("时间：…14时30分至15时05分").
    recorded_at = models.DateTimeField(null=True, blank=True)
    record_pdf = models.FileField(upload_to="rulings/", blank=True)
    record_sha256 = models.CharField(max_length=64, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scheduled_at", "pk"]


def _proof_path(instance: Performance, filename: str) -> str:
    return f"performance/{instance.agreement_id}/{secrets.token_hex(12)}"


class Performance(models.Model):
    """One obligation of a signed agreement (a term or an instalment), tracked to its due
    date. It is performed when the party owed says so: the obligee marks it performed, or
    confirms the obligor's report; a disputed report sends it back to open (issue 11, L3).
    Its status moves only through agreements.court.performance_transitions."""

    class Status(models.TextChoices):
        OPEN = "open", _("To be performed")
        REPORTED = "reported", _("Reported performed, awaiting the other party")
        DONE = "done", _("Performed")

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="obligations")
    term_index = models.PositiveIntegerField()
    instalment_index = models.PositiveIntegerField(null=True, blank=True)
    description = models.TextField()
    # Who owes and who is owed, by party role; blank when the term names no party.
    obligor_role = models.CharField(max_length=20, choices=Party.Role.choices, blank=True)
    # With several parties on a side, the one who owes and the one owed (null: the side).
    obligor_party = models.ForeignKey(
        Party, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    obligee_party = models.ForeignKey(
        Party, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The obligor's (or, when the term names none, a party's) word that it was performed,
    # waiting for the other side to confirm or dispute it.
    reported_at = models.DateTimeField(null=True, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reported_role = models.CharField(max_length=20, choices=Party.Role.choices, blank=True)
    # The last report the obligee disputed, and why: shown while the obligation is open.
    disputed_at = models.DateTimeField(null=True, blank=True)
    disputed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    dispute_reason = models.TextField(blank=True)
    proof = models.FileField(upload_to=_proof_path, blank=True)
    proof_note = models.TextField(blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    obligee_role = models.CharField(max_length=20, choices=Party.Role.choices, blank=True)
    proof_filename = models.CharField(max_length=200, blank=True)
    proof_content_type = models.CharField(max_length=100, blank=True)
    proof_sha256 = models.CharField(max_length=64, blank=True)
    # Reminders are sent once each: before the due date (reminded_at), on it, on default.
    due_reminded_at = models.DateTimeField(null=True, blank=True)
    default_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_date", "term_index", "instalment_index"]
        verbose_name = _("obligation")
        verbose_name_plural = _("obligations")

    def __str__(self) -> str:
        return f"Obligation {self.term_index}.{self.instalment_index or 0} of {self.agreement_id}"

    @property
    def is_done(self) -> bool:
        return self.status == self.Status.DONE

    @property
    def is_reported(self) -> bool:
        return self.status == self.Status.REPORTED

    @property
    def is_disputed(self) -> bool:
        """Open again because the obligee disputed the last report."""
        return self.status == self.Status.OPEN and self.disputed_at is not None

    def is_overdue(self, today=None) -> bool:
        """Past its due date and not done: a default (the day after the due date)."""
        today = today or timezone.localdate()
        return not self.is_done and self.due_date is not None and self.due_date < today


class PendingSigning(models.Model):
    """The first of the two signing steps (CONTRACT §3): the signer re-authenticated and
    consented, the CA certified their public key and the server prepared their signature
    over `base_sha256` (the signing document as it stood). `prepared_pdf` is that document
    with the signature's placeholder, `signed_attrs` the CMS signed attributes the signer
    signs; `sign/complete` embeds the signature and turns this into a Signature row. It
    expires after PENDING_SIGNING_MINUTES and is voided with the version it names."""

    signing_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="+")
    # Set when what is signed is the joint application of this request (issue 9, point
    # 5), not the agreement: the two signing paths never complete each other's rows.
    confirmation = models.ForeignKey(
        ConfirmationRequest, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=20, choices=Signature.Role.choices)
    party = models.ForeignKey(
        "odr.Party", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    signer_name = models.CharField(max_length=100, blank=True)
    version = models.PositiveIntegerField()
    document_sha256 = models.CharField(max_length=64, blank=True)
    base_sha256 = models.CharField(max_length=64)
    signature_png = models.BinaryField()
    method = models.CharField(max_length=10, choices=Signature.Method.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    certificate_pem = models.TextField()
    field_name = models.CharField(max_length=100)
    prepared_pdf = models.BinaryField()
    document_digest = models.BinaryField()
    reserved_start = models.PositiveIntegerField()
    reserved_end = models.PositiveIntegerField()
    signed_attrs = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]

    @property
    def certificate_serial(self) -> str:
        """The certified key's certificate serial, in hex as the records show it."""
        from cryptography import x509

        return format(
            x509.load_pem_x509_certificate(self.certificate_pem.encode()).serial_number, "x"
        )


class SigningAttempts(models.Model):
    """The signer's re-authentications on the signing form in the current window. A try
    is counted before its password or code is checked, in one conditional UPDATE, so
    that however many requests race, no more than the limit are ever checked in a window
    (issue 11, M3); a right answer clears the count."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    taken = models.PositiveSmallIntegerField(default=0)
    window_started_at = models.DateTimeField()


class RevokedCertificate(models.Model):
    """A certificate the platform CA has revoked (issue 9, point 4): the CA's CRL lists
    every row here, and verification treats a signature under one as invalid. Rows are
    only ever added (agreements.documents.revocation.certificate_revoke): a CRL never
    forgets a revocation."""

    class Reason(models.TextChoices):
        # The RFC 5280 reason codes a signer's or an organisation's certificate may carry.
        UNSPECIFIED = "unspecified", _("Unspecified")
        KEY_COMPROMISE = "key_compromise", _("Key compromised")
        AFFILIATION_CHANGED = "affiliation_changed", _("Affiliation changed")
        SUPERSEDED = "superseded", _("Superseded")
        CESSATION_OF_OPERATION = "cessation_of_operation", _("Cessation of operation")

    # Hexadecimal, lower case, no leading zeros: as pki.KeyPair.serial and
    # Signature.certificate_serial write it.
    serial = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=30, choices=Reason.choices, default=Reason.UNSPECIFIED)
    revoked_at = models.DateTimeField(default=timezone.now)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["revoked_at", "pk"]
        verbose_name = _("revoked certificate")
        verbose_name_plural = _("revoked certificates")

    def __str__(self) -> str:
        return f"{self.serial} ({self.reason})"
