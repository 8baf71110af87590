from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sportello.sla"
    label = "sla"
    verbose_name = "SLA"
