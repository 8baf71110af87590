from django.urls import path

from sportello.mail import views

urlpatterns = [
    path("raw/<int:pk>/download", views.download_raw, name="mail_raw_download"),
]
