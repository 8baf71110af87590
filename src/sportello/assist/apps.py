"""Reply assistance: a model server the admin configures drafts, summarises, polishes and translates."""

from django.apps import AppConfig


class AssistConfig(AppConfig):
    name = "sportello.assist"
    label = "assist"
    verbose_name = "Reply assistance"
