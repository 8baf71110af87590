from django.urls import path

from sportello.phone import views

app_name = "phone"
urlpatterns = [
    path("cti/", views.generic_webhook, name="cti"),
    path("cti/<str:token>", views.generic_webhook, name="cti-token"),
    path("twilio/<int:account_id>", views.twilio_webhook, name="twilio"),
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/<int:pk>/token", views.rotate_token, name="rotate-token"),
]
