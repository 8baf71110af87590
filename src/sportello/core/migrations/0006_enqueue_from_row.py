"""PostgreSQL: `sportello_enqueue_from_row`, the delivery of a new event row enqueued in the
statement that writes the row (core/taskrows.py, core/events.py), instead of a look-up after the
commit. Nothing on SQLite, where the look-up stays after the commit.

The function is VOLATILE so that, in READ COMMITTED, its look-up takes a snapshot of its own,
after it holds the delivery fence (a shared advisory lock kept to the end of the transaction): a
worker starting a delivery takes that lock exclusively first, so it waits for every transaction
that may have counted on its task while it was still waiting.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION sportello_enqueue_from_row(
    p_first bigint, p_fence bigint, p_id uuid, p_priority integer, p_path text, p_queue varchar,
    p_backend varchar, p_run_after timestamptz, p_enqueued_at timestamptz
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(p_fence);
    IF EXISTS (
        SELECT 1 FROM django_tasks_database_dbtaskresult
        WHERE status = 'READY' AND task_path = p_path AND queue_name = p_queue AND backend_name = p_backend
          AND CAST(args_kwargs -> 'args' ->> 0 AS bigint) <= p_first
    ) THEN
        RETURN false;  -- a task no worker has taken yet will deliver this row too
    END IF;
    INSERT INTO django_tasks_database_dbtaskresult (
        id, status, args_kwargs, priority, task_path, queue_name, backend_name, run_after, enqueued_at,
        worker_ids, return_value, exception_class_path, traceback
    ) VALUES (
        p_id, 'READY', jsonb_build_object('args', jsonb_build_array(p_first), 'kwargs', '{}'::jsonb),
        p_priority, p_path, p_queue, p_backend, p_run_after, p_enqueued_at, '[]'::jsonb, NULL, '', ''
    );
    RETURN true;
END
$$
"""

DROP = (
    "DROP FUNCTION IF EXISTS sportello_enqueue_from_row(bigint, bigint, uuid, integer, text, varchar, varchar, "
    "timestamptz, timestamptz)"
)


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("core", "0005_branding")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
