"""The trigram indexes of 0010 keep a short pending list (issue 14). A GIN index takes new
rows into an unsorted pending list, merged into the index by VACUUM or once the list
outgrows `gin_pending_list_limit` (4 MB by default); every search reads the whole list
row by row. After bulk filing (or with autovacuum behind) that was 61,000 parties and
10,000 case numbers at 100,000 cases: 20–25 ms of each search by number or name went in
reading it. At 256 kB the list holds a few thousand rows: the filing that outgrows it
merges it (a few milliseconds, once in some thousands of filings), and a search reads at
most that much. PostgreSQL only, as 0010."""

from django.db import migrations

INDEXES = ("dispute_case_number_trgm", "party_name_trgm")
PENDING_LIST_KB = 256


def shorten(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(
            f"ALTER INDEX IF EXISTS {name} SET (gin_pending_list_limit = {PENDING_LIST_KB})"
        )


def reset(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"ALTER INDEX IF EXISTS {name} RESET (gin_pending_list_limit)")


class Migration(migrations.Migration):
    dependencies = [("odr", "0012_stats14_figure_snapshot")]

    operations = [migrations.RunPython(shorten, reset, elidable=False)]
