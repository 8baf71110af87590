from django.urls import path

from sportello.social import views

app_name = "social"

urlpatterns = [
    path("hooks/<str:key>/", views.webhook, name="webhook"),
]
