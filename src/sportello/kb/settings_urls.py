"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import URLPattern, path

from sportello.kb import settings_views as views

urlpatterns: list[URLPattern] = [
    path("help-centre/categories/", views.category_list, name="settings-kb-categories"),
    path("help-centre/categories/<int:category_id>/", views.category_edit, name="settings-kb-category-edit"),
    path("help-centre/categories/<int:category_id>/move", views.category_move, name="settings-kb-category-move"),
    path("help-centre/categories/<int:category_id>/delete", views.category_delete, name="settings-kb-category-delete"),
]
