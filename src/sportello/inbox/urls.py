from django.urls import path

from sportello.inbox import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("inbox/", views.inbox),
]
