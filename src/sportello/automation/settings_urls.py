"""This app's pages in the settings area (/settings/…; the menu is admin_area/registry.py)."""

from django.urls import path

from sportello.automation import settings_views as views

urlpatterns = [
    path("triggers/", views.trigger_list, name="settings-triggers"),
    path("triggers/new/", views.trigger_edit, name="settings-trigger-new"),
    path("triggers/<int:rule_id>/", views.trigger_edit, name="settings-trigger"),
    path("triggers/<int:rule_id>/delete/", views.trigger_delete, name="settings-trigger-delete"),
    path("time-rules/", views.time_rule_list, name="settings-time-rules"),
    path("time-rules/new/", views.time_rule_edit, name="settings-time-rule-new"),
    path("time-rules/<int:rule_id>/", views.time_rule_edit, name="settings-time-rule"),
    path("time-rules/<int:rule_id>/delete/", views.time_rule_delete, name="settings-time-rule-delete"),
    path("macros/", views.macro_list, name="settings-macros"),
    path("macros/new/", views.macro_edit, name="settings-macro-new"),
    path("macros/<int:rule_id>/", views.macro_edit, name="settings-macro"),
    path("macros/<int:rule_id>/delete/", views.macro_delete, name="settings-macro-delete"),
    path("webhooks/", views.webhooks, name="settings-webhooks"),
    path("webhooks/test/", views.webhook_test, name="settings-webhook-test"),
    path("webhooks/calls/<int:call_id>/retry/", views.webhook_retry, name="settings-webhook-retry"),
    path("skills/", views.skill_list, name="settings-skills"),
    path("skills/<int:skill_id>/", views.skill_edit, name="settings-skill"),
    path("skills/<int:skill_id>/delete/", views.skill_delete, name="settings-skill-delete"),
]
