from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sportello.sso"
    label = "sso"
    verbose_name = "Single sign-on and two-factor"
