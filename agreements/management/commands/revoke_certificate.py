"""`manage.py revoke_certificate SERIAL --reason REASON`: revokes a certificate the platform
CA issued (a signer's, an organisation's seal, the platform seal). The CA's CRL lists it
from then on and verification reports its signatures as invalid (issue 9, point 4).
Audited as `certificate.revoke`, on the signed case for a signer's certificate."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from agreements.documents.revocation import certificate_revoke
from agreements.models import RevokedCertificate
from odr.errors import DomainError


class Command(BaseCommand):
    help = "Revoke a certificate issued by the platform CA; the CRL lists it at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("serial", help="the certificate's serial number, hexadecimal")
        parser.add_argument(
            "--reason",
            required=True,
            choices=RevokedCertificate.Reason.values,
            help="RFC 5280 reason",
        )
        parser.add_argument("--note", default="", help="why, in words (kept with the row)")
        parser.add_argument(
            "--by", default="", help="e-mail of the staff member who asked (for the audit)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = None
        if options["by"]:
            actor = get_user_model().objects.filter(email__iexact=options["by"]).first()
            if actor is None:
                raise CommandError(f"No account with the e-mail {options['by']}.")
        try:
            row = certificate_revoke(
                serial=options["serial"],
                reason=options["reason"],
                actor=actor,
                note=options["note"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.message} ({exc.code})") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Revoked {row.serial} ({row.reason}) at {row.revoked_at.isoformat()}; "
                "the CA's CRL lists it now."
            )
        )
