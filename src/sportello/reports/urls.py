from django.urls import path

from sportello.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("self-service", views.self_service, name="self_service"),
    path("satisfaction", views.satisfaction, name="satisfaction"),
]
