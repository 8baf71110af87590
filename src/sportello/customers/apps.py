from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "sportello.customers"
    label = "customers"
