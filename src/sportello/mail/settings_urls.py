"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import path

from sportello.mail import settings_views as views

urlpatterns = [
    path("mailboxes/new/", views.mailbox_add, name="settings-mailbox-add"),
    path("mailboxes/test", views.mailbox_test, name="settings-mailbox-test"),
    path("mailboxes/<int:pk>/", views.mailbox_edit, name="settings-mailbox"),
    path("mailboxes/<int:pk>/test", views.mailbox_test, name="settings-mailbox-test-saved"),
]
