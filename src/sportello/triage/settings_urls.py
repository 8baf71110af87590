"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import path

from sportello.triage import views

urlpatterns = [
    path("triage/", views.triage_settings, name="settings-triage"),
    path("triage/train", views.train_now, name="settings-triage-train"),
]
