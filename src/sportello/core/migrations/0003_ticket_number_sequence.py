from django.conf import settings
from django.db import migrations


def create_sequence(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    Counter = apps.get_model("core", "Counter")
    # Continue after any number already handed out by the counter row of earlier versions.
    used = Counter.objects.filter(name="ticket").values_list("value", flat=True).first() or 0
    start = max(settings.TICKET_NUMBER_START, used + 1)
    schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS sportello_seq_ticket START WITH {int(start)}")


def drop_sequence(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS sportello_seq_ticket")


class Migration(migrations.Migration):
    dependencies = [("core", "0002_periodic_run")]
    operations = [migrations.RunPython(create_sequence, drop_sequence)]
