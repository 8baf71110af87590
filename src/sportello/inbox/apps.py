from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "sportello.inbox"
    label = "inbox"
    verbose_name = "Inbox"
