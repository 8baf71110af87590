from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from sportello.api import api


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness: answers 200 only when the database answers."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return JsonResponse({"status": "error", "database": str(exc)[:200]}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor})


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # The language switcher of the portal and the web form posts here (Django's set_language).
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("support/", include("sportello.webform.urls")),
    path("accounts/", include("sportello.accounts.urls")),
    path("auth/", include("sportello.sso.urls")),  # single sign-on and two-factor (allauth)
    path("mail/", include("sportello.mail.urls")),
    path("help/forum/", include("sportello.forum.urls")),  # before the help centre: "forum" is no language
    path("help/", include("sportello.kb.urls")),
    path("portal/", include("sportello.portal.urls")),
    path("chat/", include("sportello.chat.urls")),
    path("social/", include("sportello.social.urls")),
    path("csat/", include("sportello.csat.urls")),
    path("triage/", include("sportello.triage.urls")),
    path("reports/", include("sportello.reports.urls")),
    path("notifications/", include("sportello.notifications.urls")),
    path("phone/", include("sportello.phone.urls")),
    path("assist/", include("sportello.assist.urls")),
    path("settings/fields/", include("sportello.fields.urls")),
    path("settings/audit/", include("sportello.audit.urls")),
    path("settings/", include("sportello.admin_area.urls")),
    path("", include("sportello.privacy.urls")),
    path("", include("sportello.sla.urls")),
    path("", include("sportello.automation.urls")),
    path("", include("sportello.inbox.urls")),
    path("", include("sportello.customers.urls")),
    path("", include("sportello.tickets.urls")),
]

if settings.BENCH_ENDPOINTS:
    from sportello.core.views import bench_insert

    urlpatterns.insert(0, path("bench/insert", bench_insert))
