from django.urls import path

from sportello.search.views import search
from sportello.tickets import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("inbox/", views.inbox),
    path("tickets/<int:number>/", views.ticket_detail, name="ticket"),
    path("tickets/<int:number>/reply", views.reply, name="ticket-reply"),
    path("tickets/<int:number>/note", views.note, name="ticket-note"),
    path("tickets/<int:number>/update", views.update, name="ticket-update"),
    path("tickets/<int:number>/merge", views.merge, name="ticket-merge"),
    path("attachments/<int:attachment_id>/", views.attachment, name="attachment"),
    path("search/", search, name="search"),
]
