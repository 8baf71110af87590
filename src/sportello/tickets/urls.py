from django.urls import path

from sportello.search.views import search
from sportello.tickets import new_views, similar, snooze_views, views

urlpatterns = [
    path("tickets/new/", new_views.new_ticket, name="ticket-new"),
    path("tickets/<int:number>/", views.ticket_detail, name="ticket"),
    path("tickets/<int:number>/reply", views.reply, name="ticket-reply"),
    path("tickets/<int:number>/note", views.note, name="ticket-note"),
    path("tickets/<int:number>/update", views.update, name="ticket-update"),
    path("tickets/<int:number>/merge", views.merge, name="ticket-merge"),
    path("tickets/<int:number>/links", views.link, name="ticket-link"),
    path("tickets/<int:number>/links/<int:link_id>/remove", views.unlink, name="ticket-unlink"),
    path("tickets/<int:number>/entries/<int:entry_id>/move", views.move, name="entry-move"),
    path("tickets/<int:number>/entries/<int:entry_id>/split", views.split, name="entry-split"),
    path("tickets/<int:number>/entries/<int:entry_id>/resend", views.resend, name="entry-resend"),
    path("tickets/<int:number>/similar", similar.similar_panel, name="ticket-similar"),
    path("tickets/<int:number>/snooze", snooze_views.snooze, name="ticket-snooze"),
    path("tickets/<int:number>/unsnooze", snooze_views.unsnooze, name="ticket-unsnooze"),
    path("tickets/<int:number>/spam", snooze_views.spam, name="ticket-spam"),
    path("tickets/<int:number>/not-spam", snooze_views.not_spam, name="ticket-not-spam"),
    path("tickets/<int:number>/block", snooze_views.block, name="ticket-block"),
    path("tickets/tags/suggest", views.tag_suggestions, name="tag-suggestions"),
    path("attachments/<int:attachment_id>/", views.attachment, name="attachment"),
    path("search/", search, name="search"),
]
