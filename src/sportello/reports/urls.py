from django.urls import path

from sportello.reports import dashboard_views, views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("dashboard", dashboard_views.page, name="dashboard"),
    # Every report in frame.REPORTS, by its slug (/reports/self-service, /reports/volume, …).
    path("<slug:slug>", views.report, name="report"),
]
