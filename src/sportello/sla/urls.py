from django.urls import path

from sportello.sla import views

urlpatterns = [
    path("tickets/<int:number>/escalate", views.escalate, name="ticket-escalate"),
]
