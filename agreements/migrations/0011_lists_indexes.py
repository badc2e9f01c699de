"""The court queue reads a court's requests by status (issue 14)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("agreements", "0010_courtacts_court_acts"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="confirmationrequest",
            index=models.Index(fields=["court", "status"], name="confirmation_court_status"),
        ),
    ]
