"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import URLPattern, path

from sportello.sso import views

urlpatterns: list[URLPattern] = [
    path("sign-in/", views.settings_page, name="settings-sso"),
    path("sign-in/policy", views.save_policy, name="settings-sso-policy"),
    path("sign-in/rules/new", views.add_rule, name="settings-sso-rule-add"),
    path("sign-in/rules/<int:rule_id>/delete", views.delete_rule, name="settings-sso-rule-delete"),
    path("sign-in/oidc/new", views.edit_oidc, name="settings-sso-oidc-new"),
    path("sign-in/oidc/<int:app_id>/", views.edit_oidc, name="settings-sso-oidc"),
    path("sign-in/saml/new", views.edit_saml, name="settings-sso-saml-new"),
    path("sign-in/saml/<int:app_id>/", views.edit_saml, name="settings-sso-saml"),
    path("sign-in/providers/<int:app_id>/delete", views.delete_provider, name="settings-sso-provider-delete"),
]
