from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "sportello.notifications"
    label = "notifications"
    verbose_name = "Notifications"
