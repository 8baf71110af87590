"""Admin for the knowledge base. Saving a translation here goes through the same service as the
agent page, so revisions and the search index stay in step."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from sportello.kb import search
from sportello.kb.models import Article, ArticleTranslation, Category, Deflection, Feedback, PublishState, Revision
from sportello.kb.services import ArticleText, mark_public_change, save_translation


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "parent", "slug", "position"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request: HttpRequest, obj: Category, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        mark_public_change()  # a new slug moves every public address in the category


class TranslationInline(admin.StackedInline):
    model = ArticleTranslation
    extra = 0
    fields = ["language", "title", "slug", "summary", "body", "state", "published_at"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "category", "visibility", "updated_at"]
    list_filter = ["visibility", "category"]
    search_fields = ["translations__title"]
    filter_horizontal = ["tags"]
    inlines = [TranslationInline]
    exclude = ["created_by"]

    def save_model(self, request: HttpRequest, obj: Article, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Article) -> None:
        super().delete_model(request, obj)
        mark_public_change()

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        super().delete_queryset(request, queryset)
        mark_public_change()

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Each changed translation is saved through `save_translation` (render, revision, index)."""
        if formset.model is not ArticleTranslation:
            return super().save_formset(request, form, formset, change)
        for deleted in formset.deleted_objects:
            search.remove_translation(deleted.pk)
            deleted.delete()
        for sub in formset.forms:
            if sub in formset.deleted_forms or not sub.has_changed() or not sub.is_valid():
                continue
            data = sub.cleaned_data
            text = ArticleText(data["language"], data["title"], data["body"], data["slug"], data["summary"])
            translation = save_translation(request.user, form.instance, text, note="Admin")  # type: ignore[arg-type]
            published_at = data["published_at"]
            if data["state"] == PublishState.PUBLISHED and published_at is None:
                published_at = timezone.now()
            if translation.state != data["state"] or translation.published_at != published_at:
                translation.state = data["state"]
                translation.published_at = published_at
                translation.save(update_fields=["state", "published_at"])
        search.reindex_article(form.instance)
        mark_public_change()
        return None


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin):
    list_display = ["translation", "author", "note", "created_at"]
    readonly_fields = ["translation", "author", "title", "body", "note", "created_at"]


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ["article", "helpful", "language", "created_at"]
    list_filter = ["helpful"]


@admin.register(Deflection)
class DeflectionAdmin(admin.ModelAdmin):
    list_display = ["article", "source", "language", "query", "created_at"]
    list_filter = ["source"]
