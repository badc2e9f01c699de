"""The duplicate check by index (issue 14, point 4): each party's phone number as digits
(`phone_key`, kept by its field whenever a row is written), filled in here for the
parties already there, and indexes on it and on the resident ID number, so a filing finds
the parties it may repeat in one indexed query instead of reading every party of its
place."""

from django.db import migrations, models

import odr.models


def fill(apps, schema_editor):
    Party = apps.get_model("odr", "Party")
    batch = []
    for party in Party.objects.exclude(phone="").only("pk", "phone").iterator(chunk_size=2000):
        party.phone_key = odr.models.phone_key_of(party.phone)
        batch.append(party)
        if len(batch) == 2000:
            Party.objects.bulk_update(batch, ["phone_key"])
            batch = []
    Party.objects.bulk_update(batch, ["phone_key"])


class Migration(migrations.Migration):
    dependencies = [("odr", "0010_search_trigram")]

    operations = [
        migrations.AddField(
            model_name="party",
            name="phone_key",
            field=odr.models.PhoneKeyField(blank=True, editable=False, max_length=30),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="party",
            index=models.Index(fields=["phone_key"], name="party_phone_key"),
        ),
        migrations.AddIndex(
            model_name="party",
            index=models.Index(fields=["id_number"], name="party_id_number"),
        ),
    ]
