from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "sportello.automation"
    label = "automation"
