"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import URLPattern, path

from sportello.core import branding_views

urlpatterns: list[URLPattern] = [
    path("branding/", branding_views.branding_edit, name="settings-branding"),
    # Public (every page and the help centre link to them); served here beside the page that sets them.
    path("branding/style.css", branding_views.branding_css, name="branding-css"),
    path("branding/logo", branding_views.branding_logo, name="branding-logo"),
]
