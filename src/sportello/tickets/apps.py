from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "sportello.tickets"
    label = "tickets"
