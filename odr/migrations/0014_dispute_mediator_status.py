"""A mediator's load (the cases in mediation, read for every mediator the intake queue
offers) by index only, instead of every case of the mediator (issue 14: 3–11 ms of
PostgreSQL per intake page for the demo mediator's 2,000 cases at 100,000)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("odr", "0013_intake14_trigram_pending_list"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="dispute",
            index=models.Index(fields=["mediator", "status"], name="dispute_mediator_status"),
        ),
    ]
