from django.db import migrations

BUILTIN = [
    ("New", "new", 10),
    ("Open", "open", 20),
    ("Pending", "pending", 30),
    ("On hold", "on_hold", 40),
    ("Solved", "solved", 50),
    ("Closed", "closed", 60),
]


def add_statuses(apps, schema_editor):
    Status = apps.get_model("tickets", "Status")
    for name, category, position in BUILTIN:
        Status.objects.update_or_create(
            slug=category, defaults={"name": name, "category": category, "builtin": True, "position": position}
        )


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]
    operations = [migrations.RunPython(add_statuses, migrations.RunPython.noop)]
