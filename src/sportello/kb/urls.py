from django.urls import path, register_converter

from sportello.kb import views
from sportello.kb.models import LANGUAGES


class LanguageConverter:
    regex = "|".join(LANGUAGES)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(LanguageConverter, "lang")

app_name = "kb"
urlpatterns = [
    path("", views.index, name="index"),
    path("sitemap.xml", views.sitemap, name="sitemap"),
    path("sitemap-<lang:lang>.xml", views.sitemap_language, name="sitemap-language"),
    path("suggest", views.suggest, name="suggest"),
    path("articles/<int:article_id>/feedback", views.feedback, name="feedback"),
    path("articles/<int:article_id>/solved", views.deflect, name="deflect"),
    path("agent/", views.agent_list, name="agent-list"),
    path("agent/new", views.agent_new, name="agent-new"),
    path("agent/preview", views.agent_preview, name="agent-preview"),
    path("agent/from-entry/<int:entry_id>", views.agent_from_entry, name="agent-from-entry"),
    path("agent/<int:article_id>/files", views.agent_upload, name="agent-upload"),
    path("agent/files/<int:file_id>/remove", views.agent_remove_file, name="agent-remove-file"),
    path("files/<int:file_id>/<str:name>", views.article_file, name="file"),
    path("agent/<int:article_id>/<lang:lang>/", views.agent_edit, name="agent-edit"),
    path("agent/tickets/<int:number>/suggestions", views.ticket_suggestions, name="ticket-suggestions"),
    path("<lang:lang>/", views.home, name="home"),
    path("<lang:lang>/search", views.search, name="search"),
    path("<lang:lang>/<slug:category>/", views.category, name="category"),
    path("<lang:lang>/<slug:category>/<str:slug>", views.article, name="article"),
]
