from django.urls import path

from sportello.inbox import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("inbox/", views.inbox),
    path("inbox/bulk", views.bulk, name="inbox_bulk"),
    path("inbox/forum", views.forum_unanswered, name="inbox_forum"),
    path("inbox/views", views.save_view_, name="inbox_save_view"),
    path("inbox/views/<int:view_id>", views.save_view_, name="inbox_edit_view"),
    path("inbox/views/<int:view_id>/delete", views.delete_view_, name="inbox_delete_view"),
]
