"""The ticket page's suggestions (agents); the settings page is in settings_urls.py."""

from django.urls import path

from sportello.triage import views

app_name = "triage"
urlpatterns = [
    path("tickets/<int:number>", views.ticket_panel, name="ticket-panel"),
    path("tickets/<int:number>/<int:suggestion_id>/accept", views.accept, name="accept"),
    path("tickets/<int:number>/<int:suggestion_id>/dismiss", views.dismiss, name="dismiss"),
]
