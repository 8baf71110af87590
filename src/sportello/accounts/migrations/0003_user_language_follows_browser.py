from django.db import migrations, models


def forget_the_old_default(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Nobody could choose a language before the profile page: the "en" stored so far is the old
    column default, not a choice, so it becomes "follow the browser"."""
    apps.get_model("accounts", "User").objects.filter(language="en").update(language="")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_alter_user_role"),
    ]

    operations = [
        migrations.AlterField(
            model_name="user",
            name="language",
            field=models.CharField(blank=True, default="", max_length=10),
        ),
        migrations.RunPython(forget_the_old_default, migrations.RunPython.noop),
    ]
