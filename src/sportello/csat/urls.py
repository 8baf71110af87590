from django.urls import path

from sportello.csat import views

app_name = "csat"
urlpatterns = [
    path("<int:number>/<str:token>/<str:rating>", views.answer, name="answer"),
    path("agent/tickets/<int:number>", views.ticket_panel, name="ticket-panel"),
]
