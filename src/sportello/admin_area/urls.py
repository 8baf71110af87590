"""/settings/: the front page, then each app's settings pages from its own `settings_urls.py`."""

from django.urls import include, path

from sportello.admin_area import views

urlpatterns = [
    path("", views.index, name="settings"),
    path("", include("sportello.accounts.settings_urls")),
    path("", include("sportello.tickets.settings_urls")),
    path("", include("sportello.sla.settings_urls")),
    path("", include("sportello.automation.settings_urls")),
    path("", include("sportello.triage.settings_urls")),
    path("", include("sportello.mail.settings_urls")),
    path("", include("sportello.social.settings_urls")),
    path("", include("sportello.phone.settings_urls")),
    path("", include("sportello.kb.settings_urls")),
    path("", include("sportello.forum.settings_urls")),
    path("", include("sportello.core.settings_urls")),
    path("", include("sportello.sso.settings_urls")),
    path("", include("sportello.privacy.settings_urls")),
    path("", include("sportello.assist.settings_urls")),
]
