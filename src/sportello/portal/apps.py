from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "sportello.portal"
    label = "portal"
    verbose_name = "Customer portal"
