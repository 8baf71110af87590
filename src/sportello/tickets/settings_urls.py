"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import URLPattern, path

from sportello.tickets import settings_views as views

urlpatterns: list[URLPattern] = [
    path("statuses/", views.status_list, name="settings-statuses"),
    path("statuses/preset", views.status_preset, name="settings-statuses-preset"),
    path("statuses/<int:status_id>/", views.status_edit, name="settings-status-edit"),
    path("statuses/<int:status_id>/move", views.status_move, name="settings-status-move"),
    path("statuses/<int:status_id>/active", views.status_active, name="settings-status-active"),
    path("statuses/<int:status_id>/delete", views.status_delete, name="settings-status-delete"),
    path("ticket-types/", views.category_list, name="settings-categories"),
    path("ticket-types/<int:category_id>/", views.category_edit, name="settings-category-edit"),
    path("ticket-types/<int:category_id>/active", views.category_active, name="settings-category-active"),
    path("ticket-types/<int:category_id>/delete", views.category_delete, name="settings-category-delete"),
]
