"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import path

from sportello.social import settings_views as views

urlpatterns = [
    path("channels/", views.channels, name="settings-channels"),
    path("channels/widgets/new/", views.widget_add, name="settings-chat-widget-add"),
    path("channels/widgets/<int:pk>/", views.widget_edit, name="settings-chat-widget"),
    path("channels/accounts/new/<str:kind>/", views.account_add, name="settings-channel-add"),
    path("channels/accounts/<int:pk>/", views.account_edit, name="settings-channel"),
    path("channels/accounts/<int:pk>/test", views.account_test, name="settings-channel-test"),
    path("channels/accounts/<int:pk>/webhook", views.account_point_webhook, name="settings-channel-webhook"),
    path("channels/accounts/<int:pk>/active", views.account_active, name="settings-channel-active"),
]
