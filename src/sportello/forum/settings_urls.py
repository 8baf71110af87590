"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import URLPattern, path

from sportello.forum import settings_views as views

urlpatterns: list[URLPattern] = [
    path("forum/", views.forum_settings, name="settings-forum"),
]
