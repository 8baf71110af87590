from django.urls import path

from sportello.mail import views

urlpatterns = [
    path("mailboxes/", views.mailboxes, name="mail_mailboxes"),
    path("mailboxes/<int:pk>/token", views.rotate_token, name="mail_rotate_token"),
    path("raw/<int:pk>/retry", views.retry_message, name="mail_raw_retry"),
    path("raw/<int:pk>/download", views.download_raw, name="mail_raw_download"),
]
