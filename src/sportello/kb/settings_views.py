"""The admins' settings page for knowledge-base categories: add, rename (per language), nest,
reorder and delete, so a first article has somewhere to go without Django's admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from sportello.core.errors import InvalidInput
from sportello.kb import services
from sportello.kb.models import LANGUAGES, Category
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view

LANGUAGE_NAMES = dict(settings.LANGUAGES)


class KbCategoryForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=120,
        help_text=gettext_lazy("Shown in every language that has no name of its own."),
    )
    slug = forms.SlugField(
        label=gettext_lazy("Address"),
        max_length=80,
        required=False,
        help_text=gettext_lazy("Part of the help centre's links; made from the name when empty."),
    )
    parent = forms.ModelChoiceField(
        label=gettext_lazy("Inside"),
        queryset=Category.objects.filter(parent=None),
        required=False,
        empty_label=gettext_lazy("— a top category —"),
    )

    def __init__(self, *args: Any, category: Category | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for language in LANGUAGES:
            self.fields[f"name_{language}"] = forms.CharField(
                label=_("Name in %(language)s") % {"language": LANGUAGE_NAMES.get(language, language)},
                max_length=120,
                required=False,
            )
        if category is not None:
            del self.fields["slug"]  # published links use it
            parents = self.fields["parent"]
            parents.queryset = Category.objects.filter(parent=None).exclude(pk=category.pk)  # type: ignore[attr-defined]

    def names(self) -> dict[str, str]:
        return {language: self.cleaned_data.get(f"name_{language}", "") for language in LANGUAGES}

    def language_fields(self) -> list[forms.BoundField]:
        return [self[f"name_{language}"] for language in LANGUAGES]


def _tree() -> list[tuple[Category, int, list[tuple[Category, int]]]]:
    """Top categories in order, each with its articles' count and its sub-categories'."""
    rows = list(
        Category.objects.select_related("parent").annotate(n=Count("articles")).order_by("position", "name", "pk")
    )
    return [
        (top, top.n, [(child, child.n) for child in rows if child.parent_id == top.pk])  # type: ignore[attr-defined]
        for top in rows
        if top.parent_id is None
    ]


def _refused(form: forms.Form, err: InvalidInput) -> None:
    field = err.details.get("field")
    form.add_error(field if field in form.fields else None, err.message)


@agent_view
def category_list(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    form = KbCategoryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            category = services.create_category(name=data["name"], slug=data["slug"], parent=data["parent"])
            services.update_category(category, names=form.names())
        except InvalidInput as err:
            _refused(form, err)
        else:
            messages.success(request, _("Category “%(name)s” added.") % {"name": category.name})
            return redirect("settings-kb-categories")
    return _page(request, form, status=422 if form.errors else 200)


def _page(request: AgentRequest, form: KbCategoryForm, *, status: int = 200) -> HttpResponse:
    return render(request, "kb/settings/categories.html", {"tree": _tree(), "form": form}, status=status)


@agent_view
def category_edit(request: AgentRequest, category_id: int) -> HttpResponse:
    require_admin(request.user)
    category = get_object_or_404(Category, pk=category_id)
    initial = {"name": category.name, "parent": category.parent_id}
    initial.update({f"name_{language}": category.names.get(language, "") for language in LANGUAGES})
    form = KbCategoryForm(request.POST or None, initial=initial, category=category)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_category(
                category,
                name=data["name"],
                names=form.names(),
                parent=data["parent"],
                clear_parent=data["parent"] is None,
            )
        except InvalidInput as err:
            _refused(form, err)
        else:
            messages.success(request, _("Category “%(name)s” saved.") % {"name": category.name})
            return redirect("settings-kb-categories")
    context = {"form": form, "category": category}
    return render(request, "kb/settings/category_edit.html", context, status=422 if form.errors else 200)


@require_POST
@agent_view
def category_move(request: AgentRequest, category_id: int) -> HttpResponse:
    require_admin(request.user)
    services.move_category(get_object_or_404(Category, pk=category_id), up=request.POST.get("direction") == "up")
    return redirect("settings-kb-categories")


@require_POST
@agent_view
def category_delete(request: AgentRequest, category_id: int) -> HttpResponse:
    require_admin(request.user)
    category = get_object_or_404(Category, pk=category_id)
    try:
        services.delete_category(category)
    except InvalidInput as err:
        messages.error(request, err.message)
        return _page(request, KbCategoryForm(), status=422)
    messages.success(request, _("Category “%(name)s” deleted.") % {"name": category.name})
    return redirect("settings-kb-categories")
