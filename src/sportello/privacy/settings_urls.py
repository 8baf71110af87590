"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import path

from sportello.privacy import views

urlpatterns = [
    path("privacy/", views.privacy_settings, name="settings-privacy"),
]
