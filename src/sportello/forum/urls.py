from django.urls import path

from sportello.forum import views
from sportello.kb.urls import LanguageConverter  # noqa: F401  (registers the `lang` converter)

# The `lang` converter is the knowledge base's (kb/urls.py registers it): the same languages.
app_name = "forum"
urlpatterns = [
    path("", views.index, name="index"),
    path("sitemap.xml", views.sitemap, name="sitemap"),
    path("images/<int:image_id>/<str:name>", views.image, name="image"),
    path("moderation", views.queue, name="queue"),
    path("members/<int:user_id>/unban", views.unban, name="unban"),
    path("unsubscribe/<str:token>", views.unsubscribe, name="unsubscribe"),
    path("topics/<int:topic_id>/reply", views.reply, name="reply"),
    path("topics/<int:topic_id>/follow", views.follow, name="follow"),
    path("topics/<int:topic_id>/deflect", views.deflect, name="deflect"),
    path("topics/<int:topic_id>/<slug:action>", views.moderate_topic, name="moderate-topic"),
    path("posts/<int:post_id>/vote", views.vote, name="vote"),
    path("posts/<int:post_id>/solution", views.solution, name="solution"),
    path("posts/<int:post_id>/report", views.report, name="report"),
    path("posts/<int:post_id>/edit", views.edit, name="edit"),
    path("posts/<int:post_id>/history", views.history, name="history"),
    path("posts/<int:post_id>/<slug:action>", views.moderate_post, name="moderate-post"),
    path("<lang:lang>/", views.home, name="home"),
    path("<lang:lang>/t/<int:topic_id>/<str:slug>", views.topic, name="topic"),
    path("<lang:lang>/search", views.search, name="search"),
    path("<lang:lang>/<str:category>/", views.category, name="category"),
    path("<lang:lang>/<str:category>/new", views.new_topic, name="new-topic"),
]
