from django.urls import path

from sportello.chat import views

app_name = "chat"
urlpatterns = [
    path("widget.js", views.widget_js, name="widget"),
    path("try", views.try_widget, name="try"),
    path("try/<slug:key>", views.try_widget, name="try-channel"),
    path("upload/<slug:key>", views.upload, name="upload"),
    path("files/<slug:key>/<int:attachment_id>", views.visitor_file, name="visitor-file"),
    path("suggest/<slug:key>", views.suggest, name="suggest"),
    path("solved/<slug:key>", views.solved, name="solved"),
    path("console", views.console, name="console"),
    path("console/part", views.console_part, name="console-part"),
    path("console/<int:conversation_id>/accept", views.accept, name="accept"),
    path("console/<int:conversation_id>/send", views.send, name="send"),
    path("console/<int:conversation_id>/file", views.send_file, name="send-file"),
    path("console/<int:conversation_id>/transfer", views.transfer, name="transfer"),
    path("console/<int:conversation_id>/close", views.close, name="close"),
    path("availability", views.availability, name="availability"),
]
