from django.apps import AppConfig


class ImportersConfig(AppConfig):
    name = "sportello.importers"
    label = "importers"
    verbose_name = "Importers"
