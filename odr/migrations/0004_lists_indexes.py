"""Indexes for the paged lists (issue 14): newest first on (created_at, id), also under a
status filter, so that a keyset page is an index range scan at any depth."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("odr", "0003_parties_identity_agents"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="dispute",
            index=models.Index(fields=["created_at", "id"], name="dispute_created_id"),
        ),
        migrations.AddIndex(
            model_name="dispute",
            index=models.Index(
                fields=["status", "created_at", "id"], name="dispute_status_created_id"
            ),
        ),
    ]
