from django.apps import AppConfig


class AdminAreaConfig(AppConfig):
    name = "sportello.admin_area"
    label = "admin_area"
    verbose_name = "Settings area"
