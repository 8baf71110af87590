from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "sportello.kb"
    label = "kb"
    verbose_name = "Knowledge base"
