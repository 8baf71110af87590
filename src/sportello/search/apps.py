from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "sportello.search"
    label = "search"
