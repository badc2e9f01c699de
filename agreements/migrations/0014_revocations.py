import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    # Issue 9: the platform CA's revoked certificates.
    dependencies = [
        ("agreements", "0013_signer_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="RevokedCertificate",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("serial", models.CharField(max_length=64, unique=True)),
                (
                    "reason",
                    models.CharField(
                        choices=[
                            ("unspecified", "Unspecified"),
                            ("key_compromise", "Key compromised"),
                            ("affiliation_changed", "Affiliation changed"),
                            ("superseded", "Superseded"),
                            ("cessation_of_operation", "Cessation of operation"),
                        ],
                        default="unspecified",
                        max_length=30,
                    ),
                ),
                ("revoked_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("note", models.CharField(blank=True, max_length=500)),
                (
                    "revoked_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "revoked certificate",
                "verbose_name_plural": "revoked certificates",
                "ordering": ["revoked_at", "pk"],
            },
        ),
    ]
