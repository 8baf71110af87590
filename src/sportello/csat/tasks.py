"""Survey tasks: they take ids and are safe to run twice."""

from __future__ import annotations

from django_tasks import task

from sportello.csat.models import Survey


@task()
def send_survey(survey_id: int) -> str:
    """Mail the survey unless it was mailed or answered already."""
    survey = Survey.objects.select_related("ticket__customer").filter(pk=survey_id).first()
    if survey is None or survey.mailed_to or survey.answered:
        return "skipped"
    from sportello.csat.services import mail_survey

    return mail_survey(survey) or "not sent"
