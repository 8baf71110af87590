"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import URLPattern, path

from sportello.assist import settings_views as views

urlpatterns: list[URLPattern] = [
    path("assistance/", views.assist_settings, name="settings-assist"),
    path("assistance/test", views.assist_test, name="settings-assist-test"),
    path("assistance/log/", views.assist_log, name="settings-assist-log"),
    path("assistance/log/<int:use_id>/", views.assist_use, name="settings-assist-use"),
]
