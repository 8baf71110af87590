"""The assistant on the ticket page (/assist/…); its settings pages are in settings_urls.py."""

from django.urls import URLPattern, path

from sportello.assist import views

app_name = "assist"

urlpatterns: list[URLPattern] = [
    path("tickets/<int:number>/", views.panel, name="panel"),
    path("tickets/<int:number>/run", views.run, name="run"),
    path("uses/<int:use_id>/accepted", views.mark, name="mark"),
]
