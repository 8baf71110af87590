from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "sportello.mail"
    label = "mail"
    verbose_name = "Email channel"
