"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import path

from sportello.accounts import settings_views as views

urlpatterns = [
    path("users/", views.user_list, name="settings-users"),
    path("users/<int:user_id>/", views.user_edit, name="settings-user"),
    path("users/<int:user_id>/active", views.user_active, name="settings-user-active"),
    path("users/<int:user_id>/resend", views.user_resend, name="settings-user-resend"),
    path("groups/", views.group_list, name="settings-groups"),
    path("groups/<int:group_id>/", views.group_edit, name="settings-group"),
    path("groups/<int:group_id>/delete", views.group_delete, name="settings-group-delete"),
    path("tokens/", views.token_list, name="settings-tokens"),
    path("tokens/<int:token_id>/revoke", views.token_revoke, name="settings-token-revoke"),
]
