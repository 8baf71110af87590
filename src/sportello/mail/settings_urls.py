"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import path

from sportello.mail import email_template_views
from sportello.mail import settings_views as views

urlpatterns = [
    path("mailboxes/new/", views.mailbox_add, name="settings-mailbox-add"),
    path("mailboxes/test", views.mailbox_test, name="settings-mailbox-test"),
    path("mailboxes/<int:pk>/", views.mailbox_edit, name="settings-mailbox"),
    path("mailboxes/<int:pk>/test", views.mailbox_test, name="settings-mailbox-test-saved"),
    path("email-templates/", email_template_views.template_list, name="settings-email-templates"),
    path(
        "email-templates/<slug:key>/<str:language>/", email_template_views.template_edit, name="settings-email-template"
    ),
    path(
        "email-templates/<slug:key>/<str:language>/reset",
        email_template_views.template_reset,
        name="settings-email-template-reset",
    ),
]
