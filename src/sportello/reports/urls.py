from django.urls import path

from sportello.reports import dashboard_views, subscriptions, views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("dashboard", dashboard_views.page, name="dashboard"),
    path("subscriptions", subscriptions.subscriptions, name="subscriptions"),
    path("subscriptions/<int:pk>/delete", subscriptions.unsubscribe, name="unsubscribe"),
    path("<slug:slug>/subscribe", subscriptions.subscribe, name="subscribe"),
    # Every report in frame.REPORTS, by its slug (/reports/self-service, /reports/volume, …).
    path("<slug:slug>", views.report, name="report"),
]
