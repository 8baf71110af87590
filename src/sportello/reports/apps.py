from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "sportello.reports"
    label = "reports"
    verbose_name = "Reports"
