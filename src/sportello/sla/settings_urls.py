"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import URLPattern, path

from sportello.sla import settings_views as views

urlpatterns: list[URLPattern] = [
    path("sla/", views.policy_list, name="settings-sla"),
    path("sla/new/", views.policy_add, name="settings-sla-add"),
    path("sla/<int:policy_id>/", views.policy_edit, name="settings-sla-edit"),
    path("sla/<int:policy_id>/move", views.policy_move, name="settings-sla-move"),
    path("sla/<int:policy_id>/active", views.policy_active, name="settings-sla-active"),
    path("calendars/", views.calendar_list, name="settings-calendars"),
    path("calendars/new/", views.calendar_add, name="settings-calendars-add"),
    path("calendars/<int:calendar_id>/", views.calendar_edit, name="settings-calendars-edit"),
    path("calendars/<int:calendar_id>/delete", views.calendar_delete, name="settings-calendars-delete"),
]
