"""`{% settings_menu %}`: the side menu of the settings pages, with the current page marked."""

from __future__ import annotations

from typing import Any

from django import template

from sportello.admin_area.registry import menu

register = template.Library()


@register.inclusion_tag("admin_area/_menu.html", takes_context=True)
def settings_menu(context: dict[str, Any]) -> dict[str, Any]:
    request = context["request"]
    return {"sections": menu(), "path": request.path}
