from django.urls import path

from sportello.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    # Every report in frame.REPORTS, by its slug (/reports/self-service, /reports/volume, …).
    path("<slug:slug>", views.report, name="report"),
]
