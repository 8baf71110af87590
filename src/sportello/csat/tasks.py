"""Survey tasks: they take ids and are safe to run twice."""

from __future__ import annotations

from django_tasks import task


@task()
def send_survey(survey_id: int) -> str:
    """Kept for tasks enqueued before the outbox: writes the survey's outbox row (once) and delivers it.

    The handler (csat/services.py, handle_survey_mail) skips a survey mailed or answered already.
    """
    from sportello.core import outbox
    from sportello.csat.services import _put_mail

    return outbox.drain(_put_mail(survey_id).pk)
