"""The search anywhere in a case number or a party's name (issue 14): trigram indexes
(pg_trgm, GIN with gin_trgm_ops) on PostgreSQL only. SQLite has no such index and keeps
the prefix indexes of 0005 (odr.filters.search_condition); nothing changes there. The
indexes are not in the models' Meta: there they would be made on SQLite too."""

from django.db import migrations

INDEXES = {
    "dispute_case_number_trgm": ("odr_dispute", "case_number"),
    "party_name_trgm": ("odr_party", "name"),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("odr", "0009_centre_grid")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
