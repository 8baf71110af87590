import django.db.models.deletion
from django.db import migrations, models

# A ticket's options of its choice, multiple-choice and checkbox fields, as
# `reports.rollup.field_values` computes them: "key=value", each choice of a multiple choice,
# "key=yes" for a ticked checkbox; without repeats, in code point order, at most 200 characters.
OPTIONS_SQL = """
    coalesce((
        SELECT jsonb_agg(o ORDER BY o COLLATE "C") FROM (
            SELECT DISTINCT o FROM (
                SELECT CASE WHEN c.type = 'checkbox' THEN e.key || '=yes' ELSE e.key || '=' || (e.value #>> '{{}}') END
                FROM jsonb_each(t.custom_fields) AS e
                JOIN {fields} AS c ON c.target = 'ticket' AND c.key = e.key
                WHERE (c.type = 'choice' AND jsonb_typeof(e.value) = 'string')
                   OR (c.type = 'checkbox' AND e.value = 'true'::jsonb)
                UNION ALL
                SELECT e.key || '=' || (m.v #>> '{{}}')
                FROM jsonb_each(t.custom_fields) AS e
                JOIN {fields} AS c ON c.target = 'ticket' AND c.key = e.key AND c.type = 'multichoice'
                CROSS JOIN LATERAL jsonb_array_elements(
                    CASE WHEN jsonb_typeof(e.value) = 'array' THEN e.value ELSE '[]'::jsonb END
                ) AS m(v)
                WHERE jsonb_typeof(m.v) = 'string'
            ) AS options(o)
        ) AS distinct_options
        WHERE length(o) <= 200
    ), '[]'::jsonb)
"""


def _options(values, types):  # type: ignore[no-untyped-def]
    found = set()
    for key, value in values.items():
        kind = types.get(key)
        if kind == "choice" and isinstance(value, str):
            found.add(f"{key}={value}")
        elif kind == "multichoice" and isinstance(value, list):
            found.update(f"{key}={item}" for item in value if isinstance(item, str))
        elif kind == "checkbox" and value is True:
            found.add(f"{key}=yes")
    return sorted(option for option in found if len(option) <= 200)


def fill_custom_fields(apps, schema_editor):  # type: ignore[no-untyped-def]
    """The facts' custom field values and field options from the tickets' (one statement on
    PostgreSQL, with a GIN index for the facts' filters), and the roll-up marked to be rebuilt: its
    organization and field grains are empty until `sportello reports rebuild --rollup-only`, so
    reports read the facts."""
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    TicketFact = apps.get_model("reports", "TicketFact")
    Ticket = apps.get_model("tickets", "Ticket")
    CustomField = apps.get_model("fields", "CustomField")
    if connection.vendor == "postgresql":
        facts = quote(TicketFact._meta.db_table)
        tickets = quote(Ticket._meta.db_table)
        options = OPTIONS_SQL.format(fields=quote(CustomField._meta.db_table))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {facts} AS f SET custom_fields = t.custom_fields, field_values = {options} "
                f"FROM {tickets} AS t WHERE f.ticket_id = t.id AND t.custom_fields <> '{{}}'::jsonb"
            )
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS fact_custom_fields_gin ON {facts} USING gin (custom_fields jsonb_path_ops)"
            )
    else:
        types = dict(CustomField.objects.filter(target="ticket").values_list("key", "type"))
        for pk, values in Ticket.objects.exclude(custom_fields={}).values_list("pk", "custom_fields").iterator():
            values = values if isinstance(values, dict) else {}
            TicketFact.objects.filter(pk=pk).update(custom_fields=values, field_values=_options(values, types))
    apps.get_model("reports", "RollupState").objects.all().delete()


def drop_gin_index(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS fact_custom_fields_gin")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0007_custom_fields"),
        ("fields", "0001_initial"),
        ("reports", "0009_fact_tags"),
        ("tickets", "0011_status_active_and_reply"),
    ]

    operations = [
        migrations.AddField(
            model_name="reportdaily",
            name="field_value",
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
        migrations.AddField(
            model_name="reportdaily",
            name="organization",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="customers.organization",
            ),
        ),
        migrations.AddField(
            model_name="ticketfact",
            name="custom_fields",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="ticketfact",
            name="field_values",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddIndex(
            model_name="reportdaily",
            index=models.Index(
                condition=models.Q(("organization__isnull", False)),
                fields=["organization", "grain", "day"],
                name="daily_organization",
            ),
        ),
        migrations.AddIndex(
            model_name="reportdaily",
            index=models.Index(
                condition=models.Q(("field_value__isnull", False)),
                fields=["field_value", "grain", "day"],
                name="daily_field_value",
            ),
        ),
        migrations.RunPython(fill_custom_fields, drop_gin_index),
    ]
