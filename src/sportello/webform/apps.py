from django.apps import AppConfig


class WebformConfig(AppConfig):
    name = "sportello.webform"
    label = "webform"
    verbose_name = "Web form"
