"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py, which
links the phone page with the accounts' health, /phone/accounts/)."""

from django.urls import path

from sportello.phone import settings_views as views

urlpatterns = [
    path("phone/new/<str:kind>/", views.account_add, name="settings-phone-add"),
    path("phone/<int:pk>/", views.account_edit, name="settings-phone"),
    path("phone/<int:pk>/test", views.account_test, name="settings-phone-test"),
    path("phone/<int:pk>/active", views.account_active, name="settings-phone-active"),
    path("phone/<int:pk>/delete", views.account_delete, name="settings-phone-delete"),
]
